"""Server-side sessions: the single source of truth for every user credential."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, IdMixin
from app.models.user import User


class AuthLevel(StrEnum):
    PASSWORD = "password"  # noqa: S105 - a level name, not a secret
    MFA = "mfa"


class SessionMode(StrEnum):
    COOKIE = "cookie"  # browser SPA
    TOKEN = "token"  # noqa: S105 - curl, Postman, Swagger UI (JWT + refresh token)


class EndReason(StrEnum):
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    IDLE_TIMEOUT = "idle_timeout"
    ABSOLUTE_TIMEOUT = "absolute_timeout"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    PASSWORD_RESET = "password_reset"  # noqa: S105
    REVOKED_BY_USER = "revoked_by_user"
    REVOKED_BY_STAFF = "revoked_by_staff"
    USER_DISABLED = "user_disabled"
    REFRESH_REUSE = "refresh_reuse"
    MFA_CHANGED = "mfa_changed"


class UserSession(IdMixin, Base):
    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user_id_ended_at", "user_id", "ended_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # SHA-256 of the bearer secret; the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(16))
    auth_level: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    remember: Mapped[bool] = mapped_column(default=False)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship(lazy="raise")


class RefreshToken(IdMixin, Base):
    """One row per issued refresh token; a used one presented again reveals theft."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
