"""Every ORM model, imported here so metadata (and Alembic) sees all tables."""

from app.models.audit import AuditEntry, DataAccess
from app.models.base import Base
from app.models.customer import (
    Customer,
    CustomerNote,
    CustomerStatus,
    IdentityStatus,
    NumberSequence,
)
from app.models.privacy import ConsentRecord, ErasureRequest, WelcomeToken
from app.models.security import (
    ApiKey,
    LoginThrottle,
    OneTimeToken,
    OutboxMessage,
    RateLimitCounter,
    RecoveryCode,
    SecurityEvent,
    TokenPurpose,
)
from app.models.session import AuthLevel, EndReason, RefreshToken, SessionMode, UserSession
from app.models.user import StaffRole, User, UserKind

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuthLevel",
    "Base",
    "ConsentRecord",
    "Customer",
    "CustomerNote",
    "CustomerStatus",
    "DataAccess",
    "EndReason",
    "ErasureRequest",
    "IdentityStatus",
    "LoginThrottle",
    "NumberSequence",
    "OneTimeToken",
    "OutboxMessage",
    "RateLimitCounter",
    "RecoveryCode",
    "RefreshToken",
    "SecurityEvent",
    "SessionMode",
    "StaffRole",
    "TokenPurpose",
    "User",
    "UserKind",
    "UserSession",
    "WelcomeToken",
]
