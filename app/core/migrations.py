"""Alembic, driven from code: the CLI, the readiness probe and the tests share these."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not through the ini, so '%' in passwords needs no escaping.
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def downgrade_to_base(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "base")


@cache
def head_revisions() -> frozenset[str]:
    """The code's migration heads; they cannot change while the process runs."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.get_heads())


async def database_is_at_head(connection: AsyncConnection) -> bool:
    def _current(sync_connection: object) -> set[str]:
        context = MigrationContext.configure(sync_connection)  # type: ignore[arg-type]
        return set(context.get_current_heads())

    return await connection.run_sync(_current) == head_revisions()
