"""Queries behind Idempotency-Key: find a key, claim it, replace a dead or expired claim,
complete it with the response, release it, prune expired keys.

Every change after the first read is a conditional statement on the record's id (and the
state it was read in), so two requests racing over one key never both win: the loser
changes no row and looks again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import CursorResult

from app.core.repository import Repository
from app.models.payment import IdempotencyRecord, IdempotencyStatus


def _changed(result: object) -> int:
    if isinstance(result, CursorResult):
        return int(result.rowcount)
    raise TypeError("an UPDATE or DELETE returns a CursorResult")


class IdempotencyRepository(Repository[IdempotencyRecord]):
    model = IdempotencyRecord

    async def find(self, *, scope: str, key: str) -> IdempotencyRecord | None:
        record: IdempotencyRecord | None = await self.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        return record

    async def insert_claim(
        self,
        *,
        scope: str,
        key: str,
        fingerprint: str,
        now: datetime,
        locked_until: datetime,
        expires_at: datetime,
    ) -> IdempotencyRecord:
        """Insert an in-progress record. A concurrent insert of the same (scope, key) raises
        `IntegrityError` from the flush (the unique constraint is the arbiter)."""
        return await self.add(
            IdempotencyRecord(
                scope=scope,
                key=key,
                request_fingerprint=fingerprint,
                status=IdempotencyStatus.IN_PROGRESS.value,
                response_status=None,
                response_body=None,
                created_at=now,
                locked_until=locked_until,
                expires_at=expires_at,
            )
        )

    async def delete_if_replaceable(self, *, record_id: uuid.UUID, now: datetime) -> bool:
        """Delete the record if it is still expired, or still an in-progress claim whose lock
        has passed (its request died). False when another request changed it first."""
        result = await self.session.execute(
            delete(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == record_id,
                or_(
                    IdempotencyRecord.expires_at <= now,
                    and_(
                        IdempotencyRecord.status == IdempotencyStatus.IN_PROGRESS.value,
                        IdempotencyRecord.locked_until <= now,
                    ),
                ),
            )
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    async def complete(
        self, *, record_id: uuid.UUID, response_status: int, response_body: str
    ) -> bool:
        """Store the response on our own claim. False when the claim is no longer ours (its
        lock passed and another request replaced it): the caller must then roll back."""
        result = await self.session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == record_id,
                IdempotencyRecord.status == IdempotencyStatus.IN_PROGRESS.value,
            )
            .values(
                status=IdempotencyStatus.COMPLETED.value,
                response_status=response_status,
                response_body=response_body,
            )
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    async def release(self, *, record_id: uuid.UUID) -> bool:
        """Drop our in-progress claim so a retry can run (a completed record is kept)."""
        result = await self.session.execute(
            delete(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == record_id,
                IdempotencyRecord.status == IdempotencyStatus.IN_PROGRESS.value,
            )
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    async def delete_expired(self, *, now: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyRecord)
            .where(IdempotencyRecord.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        return _changed(result)
