"""Every ORM model, imported here so metadata (and Alembic) sees all tables."""

from app.models.base import Base
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
    "AuthLevel",
    "Base",
    "EndReason",
    "LoginThrottle",
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
]
