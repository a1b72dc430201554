"""Queries behind the staff view of customers: filtered listing, locked loads, notes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import load_only

from app.core.pagination import PageParams
from app.core.repository import Repository
from app.customers.repository import CustomerNotFound
from app.models.customer import Customer, CustomerNote


@dataclass(frozen=True)
class CustomerQuery:
    """Every filter and search the staff listing understands, already normalised."""

    status: str | None = None
    country: str | None = None
    identity_status: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    email_index: str | None = None  # blind index of the exact email
    number: str | None = None  # exact
    name_prefix: str | None = None  # lower-cased prefix of `search_name`


class CustomerAdminRepository(Repository[Customer]):
    model = Customer
    not_found = CustomerNotFound

    def filtered(self, query: CustomerQuery) -> Select[Any]:
        """One SELECT whatever the page size: the listing columns live on the row itself.
        Only those columns are loaded: the encrypted contact fields are neither fetched nor
        decrypted for a listing, and touching one by mistake raises instead of querying."""
        statement = self.select().options(
            load_only(
                Customer.number,
                Customer.status,
                Customer.first_name,
                Customer.last_name,
                Customer.company,
                Customer.country,
                Customer.identity_status,
                Customer.created_at,
                raiseload=True,
            )
        )
        if query.status is not None:
            statement = statement.where(Customer.status == query.status)
        if query.country is not None:
            statement = statement.where(Customer.country == query.country)
        if query.identity_status is not None:
            statement = statement.where(Customer.identity_status == query.identity_status)
        if query.created_from is not None:
            statement = statement.where(Customer.created_at >= query.created_from)
        if query.created_to is not None:
            statement = statement.where(Customer.created_at < query.created_to)
        if query.email_index is not None:
            statement = statement.where(Customer.email_index == query.email_index)
        if query.number is not None:
            statement = statement.where(Customer.number == query.number)
        if query.name_prefix is not None:
            # `search_name LIKE :prefix || '%' ESCAPE '/'`, with % and _ in the input escaped.
            statement = statement.where(
                Customer.search_name.startswith(query.name_prefix, autoescape=True)
            )
        return statement

    async def listing(
        self, query: CustomerQuery, *, page: PageParams
    ) -> tuple[Sequence[Customer], str | None]:
        return await self.paginate(self.filtered(query), page=page)

    async def get_for_update(self, customer_id: uuid.UUID) -> Customer | None:
        """Row-locked (PostgreSQL) so two concurrent status changes cannot both pass the check."""
        return await self.session.get(Customer, customer_id, with_for_update=True)

    async def exists(self, customer_id: uuid.UUID) -> bool:
        found = await self.session.scalar(select(Customer.id).where(Customer.id == customer_id))
        return found is not None


class CustomerNoteRepository(Repository[CustomerNote]):
    model = CustomerNote

    async def for_customer(
        self, customer_id: uuid.UUID, *, page: PageParams
    ) -> tuple[Sequence[CustomerNote], str | None]:
        statement = select(CustomerNote).where(CustomerNote.customer_id == customer_id)
        return await self.paginate(statement, page=page)
