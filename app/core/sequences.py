"""Gapless counters for readable numbers (customers, orders, invoices, credit notes).

A value is taken under the sequence row's lock inside the caller's transaction: if that
transaction rolls back, so does the increment, so numbers stay gapless; concurrent takers queue
on the row until the holder commits (SQLite serialises writers anyway).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.customer import NumberSequence


class NumberSequenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, name: str) -> int:
        """The next value of sequence `name`, creating it at 1 if missing."""
        return await self.take_many(name, count=1)

    async def take_many(self, name: str, *, count: int) -> int:
        """Reserve `count` consecutive values; returns the first.

        `INSERT … ON CONFLICT DO NOTHING` makes the first use safe when two transactions race
        to create the row; `SELECT … FOR UPDATE` then holds the row until commit."""
        if count < 1:
            raise ValueError("count must be at least 1")
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self.session.execute(
            insert(NumberSequence)
            .values(name=name, next_value=1)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = (
            await self.session.scalars(
                select(NumberSequence)
                .where(NumberSequence.name == name)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).one()
        first = row.next_value
        row.next_value = first + count
        await self.session.flush()
        return first
