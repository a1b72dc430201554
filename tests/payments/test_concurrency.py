"""Money movements under real concurrency (PostgreSQL row locks): nothing is paid twice,
nothing is lost, and the ledger stays a gapless running sum."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select

from app.audit.service import Actor
from app.billing.errors import InsufficientCredit, InvoiceNotOpen
from app.billing.service import InvoiceService
from app.core.container import Container
from app.models.payment import CreditEntryKind, Payment
from app.payments.service import CreditService, NewPayment, PaymentService
from tests.billing.helpers import billing_customer, staff
from tests.payments.helpers import (
    assert_ledger_consistent,
    issued_invoice,
    ledger_entries,
    load_invoice,
    pay,
)
from tests.users.helpers import problem_code

pytestmark = pytest.mark.postgres_only


async def test_twenty_concurrent_payments_settle_exactly(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])

    responses = await asyncio.gather(
        *(pay(client, clerk.headers, invoice_id, 300) for _ in range(20))
    )
    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert all(r.status_code == 409 and problem_code(r) == "invoice_not_open" for r in refused)
    assert len(created) == 4  # 300 + 300 + 300 + (100 applied, 200 over); then it is paid

    async with container.database.unit_of_work() as session:
        payments = (await session.scalars(select(Payment))).all()
    assert len(payments) == len(created)
    assert sum(p.applied_amount for p in payments) == 1000
    invoice = await load_invoice(container, invoice_id)
    assert (invoice.status, invoice.amount_paid) == ("paid", 1000)
    entries = await ledger_entries(container)
    assert all(e.kind == CreditEntryKind.OVERPAYMENT for e in entries)
    assert sum(e.amount for e in entries) == 300 * len(created) - 1000
    await assert_ledger_consistent(container)


async def test_twenty_concurrent_sessions_through_the_service(
    client: httpx.AsyncClient, container: Container
) -> None:
    """The same race without HTTP: 20 units of work recording a payment at once."""
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])

    async def one() -> str:
        try:
            async with container.database.unit_of_work() as session:
                await PaymentService(session=session, container=container).record(
                    invoice_id=invoice_id,
                    payment=NewPayment(amount=300, method="cash"),
                    actor=Actor.system(),
                )
        except InvoiceNotOpen:
            return "refused"
        return "paid"

    outcomes = await asyncio.gather(*(one() for _ in range(20)))
    assert outcomes.count("paid") == 4
    invoice = await load_invoice(container, invoice_id)
    assert (invoice.status, invoice.amount_paid) == ("paid", 1000)
    balances = await assert_ledger_consistent(container)
    assert balances == {(ada.customer_id, "EUR"): 4 * 300 - 1000}


async def test_concurrent_credit_applications_never_overdraw(
    client: httpx.AsyncClient, container: Container
) -> None:
    ada = await billing_customer(client, container)
    invoices = [
        await issued_invoice(container, ada.customer_id, lines=[(1000, 1)]) for _ in range(6)
    ]
    async with container.database.unit_of_work() as session:
        await CreditService(session=session, container=container).add_funds(
            customer_id=ada.customer_id,
            amount=2500,
            currency="EUR",
            memo="test",
            actor=Actor.system(),
        )

    async def apply(invoice_id: uuid.UUID) -> str:
        try:
            async with container.database.unit_of_work() as session:
                await InvoiceService(session=session, container=container).apply_credit(
                    invoice_id=invoice_id, actor=Actor.system(), amount=1000
                )
        except InsufficientCredit:
            return "insufficient"
        return "applied"

    outcomes = await asyncio.gather(*(apply(i) for i in invoices))
    assert outcomes.count("applied") == 2
    balances = await assert_ledger_consistent(container)
    assert balances == {(ada.customer_id, "EUR"): 500}
    paid = [await load_invoice(container, i) for i in invoices]
    assert sum(invoice.amount_paid for invoice in paid) == 2000
