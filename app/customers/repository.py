"""Queries for customers and their readable numbers."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.repository import Repository
from app.models.customer import Customer, NumberSequence


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class CustomerRepository(Repository[Customer]):
    model = Customer
    not_found = CustomerNotFound

    async def get_by_user_id(self, user_id: uuid.UUID) -> Customer | None:
        statement = select(Customer).where(Customer.user_id == user_id)
        return (await self.session.scalars(statement)).first()

    async def get_by_email_index(self, email_index: str) -> Customer | None:
        statement = select(Customer).where(Customer.email_index == email_index)
        return (await self.session.scalars(statement)).first()

    async def get_for_update(self, customer_id: uuid.UUID) -> Customer | None:
        statement = select(Customer).where(Customer.id == customer_id).with_for_update()
        return (await self.session.scalars(statement)).first()


class NumberSequenceRepository:
    """Readable numbers under a row lock: concurrent takers queue on the sequence row."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, name: str) -> int:
        """The next value of sequence `name`, creating it at 1 if missing.

        `INSERT … ON CONFLICT DO NOTHING` makes the first use safe when two transactions race
        to create the row; `SELECT … FOR UPDATE` then holds the row until commit, so no two
        transactions read the same value (SQLite serialises writers anyway)."""
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
        value = row.next_value
        row.next_value = value + 1
        await self.session.flush()
        return value
