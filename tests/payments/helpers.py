"""Issued invoices, payments through the API, and the ledger invariant, for payments tests."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select

from app.audit.service import Actor
from app.billing.service import InvoiceService, NewLine
from app.core.container import Container
from app.models.customer import Customer
from app.models.invoice import Invoice, InvoiceKind, InvoiceLine
from app.models.payment import CreditEntry

API = "/api/v1"


async def issued_invoice(
    container: Container,
    customer_id: uuid.UUID,
    *,
    lines: Sequence[tuple[int, int]] = ((1000, 1),),
    currency: str = "EUR",
    kind: InvoiceKind = InvoiceKind.MANUAL,
) -> uuid.UUID:
    """An open invoice with one line per (unit_amount, quantity), issued by the real service."""
    async with container.database.unit_of_work() as session:
        service = InvoiceService(session=session, container=container)
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        draft = await service.create_draft(
            customer=customer,
            kind=kind,
            currency=currency,
            lines=[
                NewLine(description=f"Item {n}", unit_amount=unit, quantity=quantity)
                for n, (unit, quantity) in enumerate(lines, start=1)
            ],
            actor=Actor.system(),
        )
        await service.issue(invoice_id=draft.id, actor=Actor.system())
        return draft.id


async def void_invoice(container: Container, invoice_id: uuid.UUID) -> None:
    async with container.database.unit_of_work() as session:
        await InvoiceService(session=session, container=container).void(
            invoice_id=invoice_id, actor=Actor.system(), reason="test"
        )


async def load_invoice(container: Container, invoice_id: uuid.UUID) -> Invoice:
    async with container.database.unit_of_work() as session:
        invoice = await session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice


async def invoice_lines(container: Container, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    async with container.database.unit_of_work() as session:
        statement = (
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position)
        )
        return list((await session.scalars(statement)).all())


async def pay(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    invoice_id: uuid.UUID,
    amount: Any,
    *,
    key: str | None = None,
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        f"{API}/invoices/{invoice_id}/payments",
        json={"amount": amount, "method": "bank_transfer", **fields},
        headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())},
    )


async def ledger_entries(container: Container) -> list[CreditEntry]:
    async with container.database.unit_of_work() as session:
        statement = select(CreditEntry).order_by(
            CreditEntry.customer_id, CreditEntry.currency, CreditEntry.sequence
        )
        return list((await session.scalars(statement)).all())


async def assert_ledger_consistent(container: Container) -> dict[tuple[uuid.UUID, str], int]:
    """For every customer and currency: sequences 1..n, each balance_after the running sum of
    the amounts, never negative; returns the balances."""
    groups: dict[tuple[uuid.UUID, str], list[CreditEntry]] = defaultdict(list)
    for entry in await ledger_entries(container):
        groups[(entry.customer_id, entry.currency)].append(entry)
    balances = {}
    for group_key, entries in groups.items():
        assert [entry.sequence for entry in entries] == list(range(1, len(entries) + 1))
        running = 0
        for entry in entries:
            running += entry.amount
            assert entry.balance_after == running, group_key
            assert running >= 0
        assert sum(entry.amount for entry in entries) == entries[-1].balance_after
        balances[group_key] = running
    return balances
