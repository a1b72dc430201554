"""Contract fuzzing: schemathesis drives every operation of the live schema in-process and
checks for server errors, response-schema and status-code conformance (foundation, item 11).

Every endpoint added later is picked up automatically, because the schema is read from the app.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.auth.service import AuthService, create_staff_user, email_index
from app.core.client import ClientInfo
from app.core.clock import FrozenClock
from app.core.config import DatabaseSettings, Environment, PasswordSettings, load_settings
from app.core.container import Container
from app.core.crypto import CryptoKit
from app.core.db import Database, async_url
from app.main import create_app
from app.models.session import AuthLevel, SessionMode
from app.models.user import StaffRole

FUZZ_ADMIN = "fuzz-admin@example.com"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _fuzz_app(database_url: str) -> Any:
    settings = load_settings(
        env=Environment.TEST,
        database=DatabaseSettings(url=database_url),
        password=PasswordSettings(memory_kib=64, time_cost=1, parallelism=1),
    )
    # The ASGI test client runs each call on its own event loop: pool nothing across calls.
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)
    container = Container(
        settings=settings,
        database=Database(engine),
        crypto=CryptoKit(settings.secrets),
        clock=FrozenClock(),
    )
    return create_app(container=container, configure_logs=False)


class _SwappableApp:
    """The schema is loaded at import time (to parametrize one test per operation), before the
    test database exists; the fixture below points this at an app on the migrated database."""

    def __init__(self) -> None:
        self.placeholder: Any = _fuzz_app("sqlite+aiosqlite://")
        self.target: Any = self.placeholder

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


_asgi_app = _SwappableApp()
schema = schemathesis.openapi.from_asgi("/openapi.json", _asgi_app)


@pytest.fixture(autouse=True, scope="module")
def _fuzz_against_the_test_database(migrated_database_url: str) -> None:
    _asgi_app.target = _fuzz_app(migrated_database_url)


@schema.auth(refresh_interval=3600, retry_on=[401])
class _FreshAdminSession:
    """An administrator session for every operation; when an operation ended it (logout,
    password change), the 401 that follows makes schemathesis fetch a fresh one and retry."""

    def get(self, case: Any, ctx: Any) -> str:
        if _asgi_app.target is _asgi_app.placeholder:
            return "collection-time-placeholder"  # schemathesis probes auth while collecting
        return asyncio.run(_new_admin_access_token(_asgi_app.target.state.container))

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


async def _new_admin_access_token(container: Container) -> str:
    async with container.database.unit_of_work() as session:
        auth = AuthService(session=session, container=container)
        admin = await auth.users.get_by_email_index(email_index(container.crypto, FUZZ_ADMIN))
        if admin is None:
            admin = await create_staff_user(
                session=session,
                crypto=container.crypto,
                clock=container.clock,
                email=FUZZ_ADMIN,
                password_hash=await container.hasher.hash("fuzz-admin-password-41"),
                role=StaffRole.ADMIN,
            )
        issued = await auth.start_session(
            user=admin,
            mode=SessionMode.TOKEN,
            auth_level=AuthLevel.MFA,
            remember=False,
            client=ClientInfo(ip="127.0.0.1", user_agent="schemathesis"),
        )
    assert issued.access_token is not None
    return issued.access_token


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_contract(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


def test_fuzzer_sees_every_operation() -> None:
    declared = {
        (method.upper(), path)
        for path, item in _asgi_app.target.openapi()["paths"].items()
        for method in item
    }
    fuzzed = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert declared == fuzzed
