"""Placing and paying orders for the order and service tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.audit.service import Actor
from app.billing.service import InvoiceService
from app.core.container import Container
from app.models.invoice import Invoice, InvoiceLine
from app.models.order import Order, Service
from tests.billing.helpers import BillingCustomer

API = "/api/v1"
ORDERS = f"{API}/orders"
SERVICES = f"{API}/services"


async def place_order(
    client: httpx.AsyncClient,
    customer: BillingCustomer,
    product_id: uuid.UUID,
    *,
    cycle: str = "monthly",
    expect: int = 201,
    **item: Any,
) -> dict[str, Any]:
    response = await client.post(
        ORDERS,
        json={"items": [{"product_id": str(product_id), "cycle": cycle, **item}]},
        headers=customer.headers,
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def pay(container: Container, invoice_id: str | uuid.UUID, amount: int | None = None) -> None:
    """Settle the invoice as a payment would: customer, then invoice locked, in one unit."""
    async with container.database.unit_of_work() as session:
        invoices = InvoiceService(session=session, container=container)
        _, invoice = await invoices.lock_for_payment(uuid.UUID(str(invoice_id)))
        await invoices.settle(invoice, amount=invoice.amount_due if amount is None else amount)


async def stored_order(container: Container, order_id: str) -> Order:
    async with container.database.unit_of_work() as session:
        order = await session.get(Order, uuid.UUID(order_id))
        assert order is not None
        return order


async def stored_invoice(
    container: Container, invoice_id: str
) -> tuple[Invoice, list[InvoiceLine]]:
    async with container.database.unit_of_work() as session:
        invoice = await session.get(Invoice, uuid.UUID(invoice_id))
        assert invoice is not None
        lines = (
            await session.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == invoice.id)
                .order_by(InvoiceLine.position)
            )
        ).all()
        return invoice, list(lines)


async def stored_services(container: Container, order_id: str) -> list[Service]:
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(
            select(Service).where(Service.order_id == uuid.UUID(order_id)).order_by(Service.id)
        )
        return list(rows.all())


SYSTEM = Actor.system()
