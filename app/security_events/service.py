"""Recording and reading security events (P11, P13).

Events that describe a *failure* (wrong password, replayed code, expired session) must survive
the rollback of the request that observed them, so callers record those with
`record_independently`, which writes in its own short transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.client import ClientInfo
from app.core.db import Database
from app.core.pagination import PageParams
from app.models.security import SecurityEvent
from app.security_events.repository import SecurityEventRepository


class EventType(StrEnum):
    REGISTERED = "registered"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_MFA_REQUIRED = "login_mfa_required"
    ACCOUNT_LOCKED = "account_locked"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_EXPIRED = "session_expired"
    SESSION_REVOKED = "session_revoked"
    REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105
    PASSWORD_RESET_COMPLETED = "password_reset_completed"  # noqa: S105
    EMAIL_VERIFIED = "email_verified"
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_FAILED = "mfa_failed"
    MFA_REPLAY_REJECTED = "mfa_replay_rejected"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"
    API_KEY_USED = "api_key_used"
    # P13 "staff access is logged": one user's record or events read by staff or an API key,
    # and listings that span users (user_id is then empty; details say what was read).
    STAFF_VIEWED_USER = "staff_viewed_user"
    STAFF_LISTED_USERS = "staff_listed_users"


def _event(
    *,
    event_type: EventType,
    at: datetime,
    client: ClientInfo | None,
    user_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    api_key_id: uuid.UUID | None,
    session_id: uuid.UUID | None,
    details: dict[str, Any] | None,
) -> SecurityEvent:
    return SecurityEvent(
        event_type=event_type.value,
        created_at=at,
        ip=client.ip if client else None,
        user_agent=client.user_agent if client else None,
        user_id=user_id,
        actor_id=actor_id,
        api_key_id=api_key_id,
        session_id=session_id,
        details=details or {},
    )


async def record(
    session: AsyncSession,
    *,
    event_type: EventType,
    at: datetime,
    client: ClientInfo | None = None,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record within the caller's transaction (the event stands or falls with the change)."""
    session.add(
        _event(
            event_type=event_type,
            at=at,
            client=client,
            user_id=user_id,
            actor_id=actor_id,
            api_key_id=api_key_id,
            session_id=session_id,
            details=details,
        )
    )


async def record_independently(
    database: Database,
    *,
    event_type: EventType,
    at: datetime,
    client: ClientInfo | None = None,
    user_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record in a transaction of its own, kept even when the request then fails."""
    async with database.unit_of_work() as session:
        await record(
            session,
            event_type=event_type,
            at=at,
            client=client,
            user_id=user_id,
            session_id=session_id,
            details=details,
        )


async def list_events(
    session: AsyncSession,
    *,
    page: PageParams,
    user_id: uuid.UUID | None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[Sequence[SecurityEvent], str | None]:
    repository = SecurityEventRepository(session)
    statement = repository.filtered(
        user_id=user_id, event_type=event_type, since=since, until=until
    )
    return await repository.paginate(statement, page=page)
