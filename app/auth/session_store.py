"""The per-request credential check's reads and stamps, on the fastest path each database has.

Every authenticated request looks its session up, so this path is measured (`make bench`).
The statements are defined once, as SQLAlchemy Core, and run:

- on PostgreSQL, straight on psycopg connections from a small `psycopg_pool` pool in
  autocommit: one round trip, no ORM unit of work, no SQLAlchemy pool checkout (which we
  measured at about 0.4 ms per request, more than the query itself);
- on SQLite (the laptop default), through SQLAlchemy's autocommit read engine.

Both return the same frozen snapshots (`AuthSession`, `AuthUser`): what authorisation and
`GET /auth/me` need, nothing that could be mutated by accident. Handlers that change the
user load the ORM row in their own unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from app.core.db import Database

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
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

Found = tuple[AuthSession, AuthUser]


def _from_row(values: Sequence[Any]) -> Found:
    split = len(_SESSION_FIELDS)
    session = AuthSession(*values[:split])
    user = AuthUser(*values[split:])
    return session, user


class SessionStore(Protocol):
    async def find_by_token_hash(self, token_hash: str) -> Found | None: ...

    async def find_by_id(self, session_id: uuid.UUID) -> Found | None: ...

    async def touch(self, session_id: uuid.UUID, *, at: datetime) -> None: ...

    async def close(self) -> None: ...


class SqlAlchemySessionStore:
    """SQLite (and any database without the psycopg fast path): the autocommit read engine."""

    def __init__(self, database: Database) -> None:
        self._engine = database.read_engine

    async def _one(self, statement: Select[Any], params: dict[str, Any]) -> Found | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement, params)).first()
        return _from_row(tuple(row)) if row is not None else None

    async def find_by_token_hash(self, token_hash: str) -> Found | None:
        return await self._one(BY_TOKEN_HASH, {"token_hash": token_hash})

    async def find_by_id(self, session_id: uuid.UUID) -> Found | None:
        return await self._one(BY_ID, {"session_id": session_id})

    async def touch(self, session_id: uuid.UUID, *, at: datetime) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(TOUCH, {"session_id": session_id, "at": at})

    async def close(self) -> None:
        """The engine belongs to the `Database`, which disposes of it."""


class _CompiledStatement:
    """A Core statement compiled once for psycopg, with the result processing SQLAlchemy
    would apply (our TypeDecorators: decryption, UTC) reproduced per column."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = str(compiled)
        self._bind_processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type._cached_bind_processor(dialect)
            if processor is not None:
                self._bind_processors[name] = processor
        columns = getattr(statement, "selected_columns", [])
        self._result_processors: list[Callable[[Any], Any] | None] = [
            _result_processor(column.type, dialect) for column in columns
        ]

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in values.items():
            processor = self._bind_processors.get(name)
            out[name] = processor(value) if processor else value
        return out

    def process(self, row: Sequence[Any]) -> list[Any]:
        return [
            processor(value) if processor is not None else value
            for processor, value in zip(self._result_processors, row, strict=True)
        ]


def _result_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(type_, TypeDecorator):
        decorator = type_

        def process(value: Any) -> Any:
            return decorator.process_result_value(value, dialect)

        return process
    return None


class PsycopgSessionStore:
    """PostgreSQL: psycopg connections from `psycopg_pool`, autocommit, prepared statements."""

    def __init__(self, *, conninfo: str, min_size: int, max_size: int, timeout: float) -> None:
        dialect = postgresql.dialect(paramstyle="pyformat")  # type: ignore[no-untyped-call]
        self._by_token = _CompiledStatement(BY_TOKEN_HASH, dialect)
        self._by_id = _CompiledStatement(BY_ID, dialect)
        self._touch = _CompiledStatement(TOUCH, dialect)
        self._conninfo = conninfo
        self._sizes = (min_size, max_size)
        self._timeout = timeout
        self._pool: AsyncConnectionPool | None = None

    async def _open_pool(self) -> AsyncConnectionPool:
        """Opened on first use, inside the serving event loop (the pool runs tasks on it);
        after `close()` the next use opens a new one."""
        if self._pool is None:
            from psycopg_pool import AsyncConnectionPool

            pool = AsyncConnectionPool(
                self._conninfo,
                min_size=self._sizes[0],
                max_size=self._sizes[1],
                timeout=self._timeout,
                kwargs={"autocommit": True},
                open=False,
            )
            await pool.open()
            self._pool = pool
        return self._pool

    async def _one(self, statement: _CompiledStatement, values: dict[str, Any]) -> Found | None:
        pool = await self._open_pool()
        async with pool.connection() as connection:
            cursor = await connection.execute(statement.sql, statement.params(values))
            row = await cursor.fetchone()
        return _from_row(statement.process(row)) if row is not None else None

    async def find_by_token_hash(self, token_hash: str) -> Found | None:
        return await self._one(self._by_token, {"token_hash": token_hash})

    async def find_by_id(self, session_id: uuid.UUID) -> Found | None:
        return await self._one(self._by_id, {"session_id": session_id})

    async def touch(self, session_id: uuid.UUID, *, at: datetime) -> None:
        pool = await self._open_pool()
        async with pool.connection() as connection:
            await connection.execute(
                self._touch.sql,
                self._touch.params({"session_id": session_id, "at": at}),
            )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


def build_session_store(database: Database, *, pool_size: int, timeout: float) -> SessionStore:
    engine = database.engine
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        url = engine.url.set(drivername="postgresql")
        return PsycopgSessionStore(
            conninfo=url.render_as_string(hide_password=False),
            min_size=1,
            max_size=pool_size,
            timeout=timeout,
        )
    return SqlAlchemySessionStore(database)
