"""Contract fuzzing: schemathesis drives every operation of the live schema in-process and
checks for server errors, response-schema and status-code conformance (foundation, item 11).

Every endpoint added later is picked up automatically, because the schema is read from the app.
"""

from __future__ import annotations

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

from app.core.clock import FrozenClock
from app.core.config import DatabaseSettings, Environment, PasswordSettings, load_settings
from app.core.container import Container
from app.core.crypto import CryptoKit
from app.core.db import Database, async_url
from app.main import create_app

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
        self.target: Any = _fuzz_app("sqlite+aiosqlite://")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


_asgi_app = _SwappableApp()
schema = schemathesis.openapi.from_asgi("/openapi.json", _asgi_app)


@pytest.fixture(autouse=True, scope="module")
def _fuzz_against_the_test_database(migrated_database_url: str) -> None:
    _asgi_app.target = _fuzz_app(migrated_database_url)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
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
