"""The per-request credential check's reads and stamps, on the fastest path each database has.

Every authenticated request looks its session up, so this path is measured (`make bench`).
The statements are defined once, as SQLAlchemy Core, and run on the app's `HotReader`
(`app.core.hot_reads`): raw psycopg in autocommit on PostgreSQL, SQLAlchemy's autocommit read
engine on SQLite.

Both return the same frozen snapshots (`AuthSession`, `AuthUser`): what authorisation and
`GET /auth/me` need, nothing that could be mutated by accident. Handlers that change the
user load the ORM row in their own unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.sql.elements import ColumnElement

from app.core.hot_reads import CompiledQuery, HotReader
from app.models.session import UserSession
from app.models.user import User, UserKind


@dataclass(frozen=True, slots=True)
class AuthUser:
    id: uuid.UUID
    email: str
    kind: str
    role: str | None
    display_name: str | None
    is_active: bool
    email_verified_at: datetime | None
    totp_enabled_at: datetime | None
    created_at: datetime

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_staff(self) -> bool:
        return self.kind == UserKind.STAFF.value

    @classmethod
    def of(cls, user: User) -> AuthUser:
        return cls(**{name: getattr(user, name) for name in _USER_FIELDS})


@dataclass(frozen=True, slots=True)
class AuthSession:
    id: uuid.UUID
    user_id: uuid.UUID
    mode: str
    auth_level: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    ip: str | None
    user_agent: str | None
    remember: bool

    @classmethod
    def of(cls, row: UserSession) -> AuthSession:
        return cls(**{name: getattr(row, name) for name in _SESSION_FIELDS})


_USER_FIELDS = tuple(AuthUser.__dataclass_fields__)
_SESSION_FIELDS = tuple(AuthSession.__dataclass_fields__)
_COLUMNS: list[ColumnElement[Any]] = [
    *(getattr(UserSession, name).label(f"s_{name}") for name in _SESSION_FIELDS),
    *(getattr(User, name).label(f"u_{name}") for name in _USER_FIELDS),
]
_BASE = select(*_COLUMNS).join(User, User.id == UserSession.user_id)
BY_TOKEN_HASH: Select[Any] = _BASE.where(UserSession.token_hash == bindparam("token_hash"))
BY_ID: Select[Any] = _BASE.where(UserSession.id == bindparam("session_id"))
TOUCH = (
    update(UserSession)
    .where(UserSession.id == bindparam("session_id"), UserSession.ended_at.is_(None))
    .values(last_seen_at=bindparam("at"))
)

BY_TOKEN_HASH_QUERY = CompiledQuery(BY_TOKEN_HASH)
BY_ID_QUERY = CompiledQuery(BY_ID)
TOUCH_QUERY = CompiledQuery(TOUCH)

Found = tuple[AuthSession, AuthUser]


def _from_row(values: Sequence[Any]) -> Found:
    split = len(_SESSION_FIELDS)
    session = AuthSession(*values[:split])
    user = AuthUser(*values[split:])
    return session, user


class SessionStore:
    """The session lookups and the "last seen" stamp, on the app's shared `HotReader`."""

    def __init__(self, reader: HotReader) -> None:
        self._reader = reader

    async def _one(self, query: CompiledQuery, params: dict[str, Any]) -> Found | None:
        row = await self._reader.fetch_one(query, params)
        return _from_row(row) if row is not None else None

    async def find_by_token_hash(self, token_hash: str) -> Found | None:
        return await self._one(BY_TOKEN_HASH_QUERY, {"token_hash": token_hash})

    async def find_by_id(self, session_id: uuid.UUID) -> Found | None:
        return await self._one(BY_ID_QUERY, {"session_id": session_id})

    async def touch(self, session_id: uuid.UUID, *, at: datetime) -> None:
        await self._reader.execute(TOUCH_QUERY, {"session_id": session_id, "at": at})
