"""Customers, staff, products and tax rates for billing tests, built through the real API
where that is what a client would do, and directly in the database for the staff-side setup."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event, select

from app.core.container import Container
from app.models.catalog import Product, ProductPrice, TaxRate
from app.models.customer import Customer, IdentityStatus
from app.models.user import StaffRole
from tests.auth.conftest import register
from tests.users.helpers import SignedIn, signed_in_customer, signed_in_staff

API = "/api/v1"


@dataclass
class BillingCustomer:
    signed_in: SignedIn
    customer_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return self.signed_in.headers


async def billing_customer(
    client: httpx.AsyncClient,
    container: Container,
    *,
    identity: IdentityStatus = IdentityStatus.EMAIL_VERIFIED,
    **fields: Any,
) -> BillingCustomer:
    """A registered, signed-in customer; `fields` set record columns directly (country,
    region, vat_id, company, tax_exempt, currency …) as if validated earlier."""
    account = await register(client)
    async with container.database.unit_of_work() as session:
        customer = (
            await session.scalars(
                select(Customer).where(Customer.user_id == uuid.UUID(account.user_id))
            )
        ).one()
        customer.identity_status = identity.value
        for name, value in fields.items():
            setattr(customer, name, value)
        customer_id = customer.id
    return BillingCustomer(
        signed_in=await signed_in_customer(client, account), customer_id=customer_id
    )


async def staff(
    client: httpx.AsyncClient, container: Container, role: StaffRole = StaffRole.BILLING
) -> SignedIn:
    async with container.database.unit_of_work() as session:
        return await signed_in_staff(client, container, session, role=role)


async def make_tax_rate(
    container: Container, *, country: str, rate_bp: int, region: str = ""
) -> uuid.UUID:
    async with container.database.unit_of_work() as session:
        rate = TaxRate(country=country, region=region, name="VAT", rate_bp=rate_bp)
        session.add(rate)
        await session.flush()
        return rate.id


async def make_product(
    container: Container,
    *,
    code: str | None = None,
    prices: dict[tuple[str, str], tuple[int, int]] | None = None,
    kind: str = "shared_hosting",
    active: bool = True,
) -> uuid.UUID:
    """`prices` maps (cycle, currency) to (amount, setup_fee); default monthly EUR 9.99."""
    async with container.database.unit_of_work() as session:
        product = Product(
            code=code or f"plan-{uuid.uuid4().hex[:8]}",
            name="Web Starter",
            description="",
            kind=kind,
            active=active,
        )
        session.add(product)
        await session.flush()
        for (cycle, currency), (amount, setup_fee) in (
            prices or {("monthly", "EUR"): (999, 0)}
        ).items():
            session.add(
                ProductPrice(
                    product_id=product.id,
                    cycle=cycle,
                    currency=currency,
                    amount=amount,
                    setup_fee=setup_fee,
                )
            )
        return product.id


async def draft_invoice(
    client: httpx.AsyncClient,
    staff_member: SignedIn,
    customer_id: uuid.UUID,
    *,
    lines: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A manual draft through `POST /invoices` (default: one line of 10.00)."""
    response = await client.post(
        f"{API}/invoices",
        json={
            "customer_id": str(customer_id),
            "lines": [{"description": "Consulting", "unit_amount": 1000}]
            if lines is None
            else lines,
            **extra,
        },
        headers=staff_member.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def issued_invoice(
    client: httpx.AsyncClient,
    staff_member: SignedIn,
    customer_id: uuid.UUID,
    *,
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A manual invoice drafted and issued through the API."""
    draft = await draft_invoice(client, staff_member, customer_id, lines=lines)
    response = await client.post(
        f"{API}/invoices/{draft['id']}/issue", headers=staff_member.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@contextmanager
def count_all_statements(container: Container) -> Iterator[list[str]]:
    """Every SQL statement sent inside the block, on the read-write engine, on the
    autocommit engine that GET requests use and on the hot reader's own connections on
    PostgreSQL (`tests.users.helpers.count_statements` listens to the first only, so it sees
    nothing of a GET)."""
    statements: list[str] = []

    def listener(*args: Any) -> None:
        statements.append(str(args[2]))

    engines = {container.database.engine.sync_engine, container.database.read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", listener)
    container.hot_reader.observers.append(statements.append)
    try:
        yield statements
    finally:
        container.hot_reader.observers.remove(statements.append)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", listener)
