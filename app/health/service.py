"""Readiness: can we reach the database, and is its schema the one this code expects?"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.db import Database
from app.core.migrations import database_is_at_head
from app.health.schemas import Readiness

logger = logging.getLogger("hostledger.health")


async def check_readiness(*, database: Database) -> Readiness:
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            at_head = await database_is_at_head(connection)
    except (SQLAlchemyError, OSError) as exc:
        logger.warning("database unreachable", extra={"fields": {"error": type(exc).__name__}})
        return Readiness(status="not_ready", database="unreachable", migrations="unknown")
    return Readiness(
        status="ready" if at_head else "not_ready",
        database="ok",
        migrations="at_head" if at_head else "behind",
    )
