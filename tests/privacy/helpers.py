"""A customer record for a registered user, built directly through the ORM."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from app.core.container import Container
from app.models.customer import Customer
from tests.auth.conftest import Account, register
from tests.users.helpers import SignedIn, signed_in_customer

API = "/api/v1"


@dataclass
class Member:
    signed_in: SignedIn
    customer_id: uuid.UUID
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return self.signed_in.headers

    @property
    def account(self) -> Account:
        return self.signed_in.account


PERSONAL = {
    "first_name": "Ada",
    "last_name": "Byronsdottir",
    "phone": "+493012345678",
    "address_line1": "Kastanienallee 77",
    "city": "Quedlinburg",
    "postal_code": "06484",
    "vat_id": "DE136695976",
    "date_of_birth": "1815-12-10",
    "company": "Analytical Engines GmbH",
}


async def make_customer(
    container: Container, user_id: uuid.UUID, *, email: str, first_name: str = "Ada"
) -> uuid.UUID:
    """Create (or, if registration already made one, fill in) the user's customer record."""
    async with container.database.unit_of_work() as session:
        customer = (
            await session.scalars(select(Customer).where(Customer.user_id == user_id))
        ).first()
        now = container.clock.now()
        if customer is None:
            customer = Customer(
                user_id=user_id,
                number=f"T-{uuid.uuid4().hex[:10]}",
                status="active",
                country="DE",
                created_at=now,
                updated_at=now,
            )
            session.add(customer)
        values = {**PERSONAL, "first_name": first_name}
        for field, value in values.items():
            setattr(customer, field, value)
        customer.search_name = f"{first_name} {PERSONAL['last_name']}".lower()
        customer.email = email
        customer.email_index = container.crypto.blind_index.digest(email, context="customers.email")
        await session.flush()
        return customer.id


async def member(
    client: httpx.AsyncClient, container: Container, *, first_name: str = "Ada"
) -> Member:
    account = await register(client)
    customer_id = await make_customer(
        container, uuid.UUID(account.user_id), email=account.email, first_name=first_name
    )
    signed_in = await signed_in_customer(client, account)
    return Member(signed_in=signed_in, customer_id=customer_id, email=account.email)
