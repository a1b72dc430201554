"""The async engine, the session factory, and the unit of work per request.

One transaction per request: the session dependency commits when the endpoint returns and
rolls back when it raises. Services and repositories `flush()`; they never `commit()`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import DatabaseSettings


def async_url(url: str) -> str:
    """Accept the URLs people type (`postgresql://`, `sqlite:///`) and pick the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def connections_per_process(settings: DatabaseSettings) -> int:
    """The most PostgreSQL connections one process (one `serve` worker, one job) opens under
    load: the transactional and the autocommit engines (`pool_size + max_overflow` each) and
    the hot reader (`pool_size`, `app.core.hot_reads`). PostgreSQL's `max_connections` must
    cover this times the processes, or a busy moment ends in refused connections."""
    return 2 * (settings.pool_size + settings.max_overflow) + settings.pool_size


def create_engine(settings: DatabaseSettings, *, autocommit: bool = False) -> AsyncEngine:
    url = async_url(settings.url)
    parsed = make_url(url)
    # No pre-ping: it costs a round trip on every checkout. Stale connections are recycled by
    # age, and a connection that fails mid-request invalidates the pool (SQLAlchemy's
    # disconnect handling), so a database restart costs at most one failed request per worker.
    options: dict[str, Any] = {"echo": settings.echo, "pool_recycle": 1800}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 10}
    else:
        options.update(
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
        )
    if autocommit:
        # Set on the engine, not per checkout: switching a pooled connection's isolation
        # level on every checkout and back on every return costs more than the query.
        options["isolation_level"] = "AUTOCOMMIT"
        options["pool_reset_on_return"] = None  # nothing to roll back in autocommit
    engine = create_async_engine(url, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine and its session factory, owned by the app (no module-level singletons)."""

    def __init__(self, engine: AsyncEngine, *, read_engine: AsyncEngine | None = None) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        # Autocommit connections for read-only requests (GET/HEAD/OPTIONS). PostgreSQL's READ
        # COMMITTED gives every statement its own snapshot anyway, so a read sees exactly what
        # it would inside BEGIN … COMMIT, without those two round trips.
        self.read_engine = read_engine or engine.execution_options(isolation_level="AUTOCOMMIT")
        self._owns_read_engine = read_engine is not None
        self.read_sessionmaker = async_sessionmaker(
            self.read_engine, expire_on_commit=False, autoflush=False
        )

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> Database:
        return cls(create_engine(settings), read_engine=create_engine(settings, autocommit=True))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def unit_of_work(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together on success and rolls back on any error.

        `read_only` units run in autocommit: meant for safe HTTP methods, whose handlers read,
        and write at most single independent rows (an access-log entry, a last-seen stamp).
        """
        factory = self.read_sessionmaker if read_only else self.sessionmaker
        async with factory() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._owns_read_engine:
            await self.read_engine.dispose()
