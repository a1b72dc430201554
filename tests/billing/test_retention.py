"""Billing records of an erased customer keep the buyer as billed for the legal retention
period (HOSTLEDGER_BILLING_RETENTION_YEARS), then lose what names a person (P12, P15)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, text

from app.audit.service import Actor
from app.billing.retention import redact_expired_billing_data
from app.billing.service import InvoiceService, NewLine
from app.billing.snapshot import decode_snapshot
from app.core.clock import FrozenClock
from app.core.container import Container
from app.customers.service import CustomerService
from app.models.customer import Customer
from app.models.invoice import Invoice, InvoiceKind
from app.models.payment import Payment
from tests.billing.helpers import billing_customer


async def issued_invoice(container: Container, customer_id: uuid.UUID) -> uuid.UUID:
    async with container.database.unit_of_work() as session:
        customer = await CustomerService(session=session, container=container).get(customer_id)
        invoices = InvoiceService(session=session, container=container)
        draft = await invoices.create_draft(
            customer=customer,
            kind=InvoiceKind.MANUAL,
            currency="EUR",
            lines=[NewLine(description="Web hosting", unit_amount=1000)],
            actor=Actor.system(),
        )
        invoice = await invoices.issue(invoice_id=draft.id, actor=Actor.system())
        session.add(
            Payment(
                invoice_id=invoice.id,
                customer_id=customer.id,
                method="bank_transfer",
                currency="EUR",
                amount=100,
                applied_amount=100,
                reference="Transfer from Ada Lovelace",
                received_at=container.clock.now(),
                created_at=container.clock.now(),
            )
        )
        return invoice.id


async def test_snapshot_outlives_erasure_until_the_retention_period_ends(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    buyer = await billing_customer(client, container, first_name="Ada", last_name="Lovelace")
    invoice_id = await issued_invoice(container, buyer.customer_id)
    async with container.database.unit_of_work() as session:
        customer = await session.get_one(Customer, buyer.customer_id)
        customer.first_name, customer.anonymised_at = "Erased", clock.now()

    years = container.settings.billing.retention_years
    clock.advance(days=365 * years - 2)  # just inside the period
    async with container.database.unit_of_work() as session:
        early = await redact_expired_billing_data(session, now=clock.now(), retention_years=years)
        invoice = await session.get_one(Invoice, invoice_id)
        kept = decode_snapshot(invoice.buyer_snapshot)
    assert (early.invoices_redacted, early.payment_references_cleared) == (0, 0)
    assert kept is not None
    assert kept["last_name"] == "Lovelace"

    clock.advance(days=5)  # past the period
    async with container.database.unit_of_work() as session:
        late = await redact_expired_billing_data(session, now=clock.now(), retention_years=years)
    assert (late.invoices_redacted, late.payment_references_cleared) == (1, 1)
    async with container.database.unit_of_work() as session:
        invoice = await session.get_one(Invoice, invoice_id)
        snapshot = decode_snapshot(invoice.buyer_snapshot)
        payment = (await session.scalars(select(Payment))).one()
        raw = (await session.execute(text("SELECT buyer_snapshot FROM invoices"))).scalar_one()
    assert snapshot is not None
    assert snapshot["redacted"] is True
    assert snapshot["customer_number"]
    assert "last_name" not in snapshot
    assert payment.reference is None
    assert "Lovelace" not in raw  # encrypted at rest all along

    async with container.database.unit_of_work() as session:
        again = await redact_expired_billing_data(session, now=clock.now(), retention_years=years)
    assert again.invoices_redacted == 0


async def test_customers_not_erased_keep_their_invoices_whatever_their_age(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    buyer = await billing_customer(client, container, last_name="Hopper")
    invoice_id = await issued_invoice(container, buyer.customer_id)
    clock.advance(timedelta(days=365 * 30))
    async with container.database.unit_of_work() as session:
        report = await redact_expired_billing_data(session, now=clock.now(), retention_years=10)
        invoice = await session.get_one(Invoice, invoice_id)
        snapshot = decode_snapshot(invoice.buyer_snapshot)
    assert report.invoices_redacted == 0
    assert snapshot is not None
    assert snapshot["last_name"] == "Hopper"
