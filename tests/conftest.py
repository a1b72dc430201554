"""The test stack: a migrated database (SQLite by default, PostgreSQL when
HOSTLEDGER_TEST_DATABASE_URL says so), the real app over ASGI, an injectable clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.core.config import (
    DatabaseSettings,
    Environment,
    PasswordSettings,
    Settings,
    load_settings,
)
from app.core.container import Container
from app.core.crypto import install_field_keyring
from app.core.db import Database, async_url
from app.core.migrations import upgrade_to_head
from app.main import create_app
from app.models import Base
from tests.cookie_guard import CookieGuard

TEST_DATABASE_ENV = "HOSTLEDGER_TEST_DATABASE_URL"


def _test_database_url(tmp_dir: Path) -> str:
    configured = os.environ.get(TEST_DATABASE_ENV)
    if configured:
        return async_url(configured)
    return f"sqlite+aiosqlite:///{tmp_dir / 'test.db'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Database-specific tests run only where they apply. CI runs both passes, so nothing is
    silently lost: the SQLite pass runs `sqlite_only`, the PostgreSQL pass `postgres_only`."""
    backend = make_url(_test_database_url(Path("."))).get_backend_name()
    for item in items:
        if "postgres_only" in item.keywords and backend != "postgresql":
            item.add_marker(pytest.mark.skip(reason="PostgreSQL pass only (see .ci/run)"))
        if "sqlite_only" in item.keywords and backend != "sqlite":
            item.add_marker(pytest.mark.skip(reason="SQLite pass only (see .ci/run)"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _test_database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def _reset_postgres_schema(url: str) -> None:
    import psycopg

    sync_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(sync_url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str, is_postgres: bool) -> str:
    """A fresh schema built by the migrations themselves (never by create_all)."""
    if is_postgres:
        _reset_postgres_schema(database_url)
    upgrade_to_head(database_url)
    return database_url


@pytest.fixture(scope="session")
def base_settings(migrated_database_url: str) -> Settings:
    return load_settings(
        env=Environment.TEST,
        database=DatabaseSettings(url=migrated_database_url, pool_size=5, max_overflow=5),
        # Cheap hashing in tests; production cost is argon2id m=19 MiB, t=2, p=1.
        password=PasswordSettings(memory_kib=64, time_cost=1, parallelism=1),
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
async def database(base_settings: Settings) -> AsyncIterator[Database]:
    db = Database.from_settings(base_settings.database)
    yield db
    await db.dispose()


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def country_table() -> dict[str, str]:
    """The IP-to-country table the app sees (public addresses only; a test adds its own)."""
    return {}


@pytest.fixture
async def container(
    settings: Settings, database: Database, clock: FrozenClock, country_table: dict[str, str]
) -> AsyncIterator[Container]:
    from app.core.crypto import CryptoKit
    from app.fraud.geo import StaticLookup

    crypto = CryptoKit(settings.secrets)
    install_field_keyring(crypto.fields)
    built = Container(
        settings=settings,
        database=database,
        crypto=crypto,
        clock=clock,
        country_lookup=StaticLookup(country_table),
    )
    yield built
    await built.aclose()
    await _truncate_all(database)


async def _truncate_all(database: Database) -> None:
    """Tests commit for real (one transaction per request), so clean up after each one."""
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    if not tables:
        return
    async with database.engine.begin() as connection:
        if database.is_sqlite:
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608
        else:
            quoted = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(container: Container):  # type: ignore[no-untyped-def]
    return create_app(container=container, configure_logs=False)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    guard = CookieGuard(app)  # every response's cookies must be declared in the registry
    transport = httpx.ASGITransport(app=guard, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http
    assert not guard.violations, f"cookies not in the registry were set: {guard.violations}"


@pytest.fixture
async def session(container: Container) -> AsyncIterator[AsyncSession]:
    """A unit of work for arranging data directly; commits when the test body is done."""
    async with container.database.unit_of_work() as db_session:
        yield db_session
