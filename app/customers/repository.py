"""Queries for customers and their readable numbers."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.core.errors import NotFound
from app.core.repository import Repository
from app.models.customer import Customer


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
        statement = statement.execution_options(populate_existing=True)
        return (await self.session.scalars(statement)).first()
