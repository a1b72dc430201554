"""Liveness and readiness probes (foundation, item 6)."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import text

from app.core.config import DatabaseSettings
from app.core.container import Container
from app.core.db import Database
from app.main import create_app


async def test_health_is_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_is_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migrations": "at_head"}


async def _probe(container: Container, database: Database) -> httpx.Response:
    app = create_app(
        container=Container(
            settings=container.settings,
            database=database,
            crypto=container.crypto,
            clock=container.clock,
        ),
        configure_logs=False,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        return await http.get("/health/ready")


async def test_not_ready_when_database_is_unreachable(container: Container) -> None:
    unreachable = Database.from_settings(
        DatabaseSettings(url="postgresql+psycopg://nobody@127.0.0.1:1/none", pool_timeout=1)
    )
    response = await _probe(container, unreachable)
    await unreachable.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_not_ready_when_migrations_are_behind(container: Container, tmp_path: Path) -> None:
    empty = Database.from_settings(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/e.db"))
    async with empty.engine.begin() as connection:
        await connection.execute(text("SELECT 1"))
    response = await _probe(container, empty)
    await empty.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "database": "ok", "migrations": "behind"}
