"""Queries for the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum

from sqlalchemy import func, select, update

from app.core.repository import Repository
from app.models.security import OutboxMessage


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxRepository(Repository[OutboxMessage]):
    model = OutboxMessage

    async def claim_next_pending(self, *, after: uuid.UUID | None) -> uuid.UUID | None:
        """Lock the oldest pending message after `after` that no other worker holds.

        `FOR UPDATE SKIP LOCKED` on PostgreSQL: concurrent delivery runs each get different
        rows and never wait for one another. SQLite has one writer at a time and ignores the
        clause. Only the id is selected, so a row that no longer decrypts can still be
        claimed and set aside instead of blocking the queue.
        """
        statement = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status == OutboxStatus.PENDING.value)
            .order_by(OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if after is not None:
            statement = statement.where(OutboxMessage.id > after)
        return (await self.session.scalars(statement)).first()

    async def set_aside(self, message_id: uuid.UUID, *, error: str) -> None:
        """Mark failed without loading the row (used when it cannot be read)."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                status=OutboxStatus.FAILED.value,
                attempts=OutboxMessage.attempts + 1,
                last_error=error,
            )
            .execution_options(synchronize_session=False)
        )

    async def count_by_status(self) -> Mapping[str, int]:
        statement = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        return {status: int(count) for status, count in (await self.session.execute(statement))}
