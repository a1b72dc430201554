"""Migrations: reversible, and the models match them (foundation, item 4).

Runs on its own scratch database (a SQLite file, or a throwaway PostgreSQL database beside the
test database), so walking down to base never disturbs the shared test schema.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from app.core.migrations import MIGRATIONS_DIR, alembic_config, head_revisions
from app.models import Base


@pytest.fixture
def scratch_url(database_url: str, is_postgres: bool, tmp_path: Path) -> Iterator[str]:
    if not is_postgres:
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    import psycopg

    admin = make_url(database_url).set(drivername="postgresql")
    name = f"hl_scratch_{uuid.uuid4().hex[:10]}"
    admin_dsn = admin.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    sync = make_url(url)
    sync = sync.set(
        drivername="sqlite" if sync.get_backend_name() == "sqlite" else "postgresql+psycopg"
    )
    engine = create_engine(sync)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trips(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "head")
    assert _tables(scratch_url) == set(Base.metadata.tables)
    command.downgrade(config, "base")
    assert _tables(scratch_url) == set()
    command.upgrade(config, "head")
    assert _tables(scratch_url) == set(Base.metadata.tables)


def test_models_and_migrations_do_not_drift(scratch_url: str) -> None:
    """`alembic check`: autogenerate finds nothing the migrations do not already create."""
    config = alembic_config(scratch_url)
    command.upgrade(config, "head")
    command.check(config)


def test_every_step_downgrades_one_at_a_time(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "head")
    script = ScriptDirectory.from_config(config)
    steps = len(list(script.walk_revisions()))
    for _ in range(steps):
        command.downgrade(config, "-1")
    assert _tables(scratch_url) == set()


def test_single_head_and_date_prefixed_files() -> None:
    assert len(head_revisions()) == 1, "merge the migration heads"
    names = [p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")]
    assert names
    for name in names:
        assert re.match(r"^\d{4}-\d{2}-\d{2}-\d{4}_[a-z0-9_]+\.py$", name), name
