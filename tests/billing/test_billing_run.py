"""The recurring billing run: renewal invoices for due services, once per service and period,
with the tax, snapshot and numbering of `InvoiceService.issue`; safe to re-run and to overlap."""

from __future__ import annotations

import asyncio
import gc
import json
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from app.billing.ledger import CreditLedger
from app.billing.run import BillingRun, run_billing
from app.billing.run_repository import BillingRunRepository
from app.billing.tax import REVERSE_CHARGE_NOTE
from app.cli import cli
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.container import Container
from app.models.audit import AuditEntry
from app.models.customer import Customer
from app.models.invoice import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from app.models.order import Service, ServiceStatus
from app.models.payment import CreditEntryKind
from app.models.user import StaffRole
from tests.billing.helpers import (
    billing_customer,
    count_all_statements,
    make_product,
    make_tax_rate,
    staff,
)

API = "/api/v1/billing-runs"


def _today(clock: FrozenClock) -> date:
    return clock.now().date()


async def _service(
    container: Container,
    *,
    customer_id: uuid.UUID,
    product_id: uuid.UUID,
    next_due_date: date | None,
    cycle: str = "monthly",
    status: ServiceStatus = ServiceStatus.ACTIVE,
    amount: int = 1000,
    quantity: int = 1,
    currency: str = "EUR",
    description: str = "Web Starter example.com",
) -> uuid.UUID:
    async with container.database.unit_of_work() as session:
        service = Service(
            customer_id=customer_id,
            product_id=product_id,
            description=description,
            cycle=cycle,
            currency=currency,
            quantity=quantity,
            recurring_amount=amount,
            status=status.value,
            next_due_date=next_due_date,
        )
        session.add(service)
        await session.flush()
        return service.id


async def _services(container: Container) -> dict[uuid.UUID, Service]:
    async with container.database.unit_of_work() as session:
        rows = (await session.scalars(select(Service))).all()
        return {row.id: row for row in rows}


async def _invoices(container: Container) -> list[tuple[Invoice, InvoiceLine]]:
    async with container.database.unit_of_work() as session:
        rows = (
            await session.execute(
                select(Invoice, InvoiceLine)
                .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
                .order_by(Invoice.number)
            )
        ).all()
        return [(invoice, line) for invoice, line in rows]


@pytest.fixture
async def customer_id(client: httpx.AsyncClient, container: Container) -> uuid.UUID:
    customer = await billing_customer(client, container, country="DE", company="Acme GmbH")
    return customer.customer_id


@pytest.fixture
async def product_id(container: Container) -> uuid.UUID:
    return await make_product(container)


async def test_due_services_get_one_renewal_invoice_each(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    await make_tax_rate(container, country="DE", rate_bp=1900)
    today = _today(clock)
    soon = today + timedelta(days=10)  # within the default 14 days
    ids = {
        "monthly": await _service(
            container,
            customer_id=customer_id,
            product_id=product_id,
            next_due_date=soon,
            amount=999,
            quantity=2,
        ),
        "quarterly": await _service(
            container,
            customer_id=customer_id,
            product_id=product_id,
            next_due_date=today - timedelta(days=3),
            cycle="quarterly",
            amount=2500,
        ),
        "later": await _service(
            container,
            customer_id=customer_id,
            product_id=product_id,
            next_due_date=today + timedelta(days=15),
        ),
        "suspended": await _service(
            container,
            customer_id=customer_id,
            product_id=product_id,
            next_due_date=today,
            status=ServiceStatus.SUSPENDED,
        ),
        "one_time": await _service(
            container,
            customer_id=customer_id,
            product_id=product_id,
            next_due_date=None,
            cycle="one_time",
        ),
        "one_time_dated": await _service(
            container,
            customer_id=customer_id,
            product_id=product_id,
            next_due_date=today,
            cycle="one_time",
        ),
    }
    before = await _services(container)

    report = await run_billing(container=container)

    assert (report.services_examined, report.invoices_created) == (2, 2)
    assert (report.skipped, report.failed) == (0, 0)
    rows = await _invoices(container)
    assert len(rows) == 2
    by_service = {line.service_id: (invoice, line) for invoice, line in rows}
    assert set(by_service) == {ids["monthly"], ids["quarterly"]}
    year = clock.now().year
    assert sorted(invoice.number for invoice, _ in rows) == [
        f"INV-{year}-000001",
        f"INV-{year}-000002",
    ]

    invoice, line = by_service[ids["monthly"]]
    assert invoice.kind == InvoiceKind.RENEWAL
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.customer_id == customer_id
    assert line.description == "Web Starter example.com (monthly)"
    assert (line.quantity, line.unit_amount, line.tax_rate_bp) == (2, 999, 1900)
    assert (line.net_amount, line.tax_amount) == (1998, 380)  # 379.62 rounds half up
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (1998, 380, 2378)
    assert line.period_start == soon
    assert line.period_end == _add_month(soon) - timedelta(days=1)
    assert invoice.due_date == soon  # later than today + 7 days of net terms
    assert invoice.issued_at == clock.now()
    assert invoice.buyer_country == "DE"
    assert json.loads(invoice.buyer_snapshot or "{}")["company"] == "Acme GmbH"

    quarterly, quarterly_line = by_service[ids["quarterly"]]
    assert quarterly_line.period_start == today - timedelta(days=3)
    assert quarterly.due_date == today + timedelta(days=7)  # overdue start: the net terms
    assert quarterly.total == 2500 + 475
    assert report.totals == {"EUR": 2378 + 2975}

    after = await _services(container)
    assert after[ids["monthly"]].next_due_date == _add_month(soon)
    assert after[ids["quarterly"]].next_due_date == _add_months(today - timedelta(days=3), 3)
    for name in ("later", "suspended", "one_time", "one_time_dated"):
        assert after[ids[name]].next_due_date == before[ids[name]].next_due_date

    async with container.database.unit_of_work() as session:
        audited = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "issued"))
        ).all()
    assert {entry.entity_id for entry in audited} == {invoice.id, quarterly.id}


def _add_months(day: date, months: int) -> date:
    from app.billing.periods import add_months

    return add_months(day, months)


def _add_month(day: date) -> date:
    return _add_months(day, 1)


async def test_second_run_creates_nothing(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    for _ in range(3):
        await _service(
            container, customer_id=customer_id, product_id=product_id, next_due_date=_today(clock)
        )
    first = await run_billing(container=container, batch_size=2)
    assert first.invoices_created == 3
    assert first.batches == 2
    second = await run_billing(container=container)
    assert (second.services_examined, second.invoices_created) == (0, 0)
    assert len(await _invoices(container)) == 3


async def test_service_behind_by_several_periods_gets_one_invoice_per_period(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    start = _add_months(_today(clock), -2)
    service_id = await _service(
        container, customer_id=customer_id, product_id=product_id, next_due_date=start
    )
    report = await run_billing(container=container)
    assert report.invoices_created == 3
    starts = sorted(
        line.period_start for _, line in await _invoices(container) if line.period_start
    )
    assert starts == [start, _add_months(start, 1), _add_months(start, 2)]
    assert (await _services(container))[service_id].next_due_date == _add_months(start, 3)


async def _invoice_period(
    container: Container, *, customer_id: uuid.UUID, service_id: uuid.UUID, start: date
) -> None:
    """An invoice made by hand for this service's period (a draft with the line)."""
    async with container.database.unit_of_work() as session:
        invoice = Invoice(
            customer_id=customer_id, kind="manual", status="draft", currency="EUR", total=1000
        )
        session.add(invoice)
        await session.flush()
        session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                position=1,
                description="by hand",
                unit_amount=1000,
                net_amount=1000,
                tax_amount=0,
                service_id=service_id,
                period_start=start,
                period_end=start,
            )
        )


async def test_a_period_already_invoiced_is_skipped_and_reported(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    today = _today(clock)
    invoiced = await _service(
        container, customer_id=customer_id, product_id=product_id, next_due_date=today
    )
    fresh = await _service(
        container, customer_id=customer_id, product_id=product_id, next_due_date=today
    )
    await _invoice_period(container, customer_id=customer_id, service_id=invoiced, start=today)

    report = await run_billing(container=container)

    assert (report.invoices_created, report.skipped, report.failed) == (1, 1, 0)
    assert [(p.service_id, p.reason) for p in report.passed_over] == [
        (invoiced, "already_invoiced")
    ]
    services = await _services(container)
    assert services[invoiced].next_due_date == today  # left for staff to look at
    assert services[fresh].next_due_date == _add_month(today)


async def test_the_unique_constraint_is_the_last_line_of_defence(
    container: Container,
    clock: FrozenClock,
    customer_id: uuid.UUID,
    product_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even when the pre-check misses a period invoiced meanwhile, the batch is redone
    service by service: the clash is skipped and reported, the rest is invoiced, numbers stay
    gapless."""
    today = _today(clock)
    clash = await _service(
        container, customer_id=customer_id, product_id=product_id, next_due_date=today
    )
    others = [
        await _service(
            container, customer_id=customer_id, product_id=product_id, next_due_date=today
        )
        for _ in range(2)
    ]
    await _invoice_period(container, customer_id=customer_id, service_id=clash, start=today)

    async def blind(self: BillingRunRepository, **_: Any) -> set[tuple[uuid.UUID, date]]:
        return set()

    monkeypatch.setattr(BillingRunRepository, "invoiced_periods", blind)
    report = await run_billing(container=container)

    assert (report.invoices_created, report.skipped) == (2, 1)
    assert report.passed_over[0].service_id == clash
    renewals = [inv for inv, _ in await _invoices(container) if inv.kind == "renewal"]
    assert {line.service_id for _, line in await _invoices(container)} >= set(others)
    year = clock.now().year
    assert sorted(inv.number or "" for inv in renewals) == [
        f"INV-{year}-000001",
        f"INV-{year}-000002",
    ]


async def test_days_before_due_setting_is_honoured(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    today = _today(clock)
    in_three_days = await _service(
        container,
        customer_id=customer_id,
        product_id=product_id,
        next_due_date=today + timedelta(days=3),
    )
    settings: Settings = container.settings.model_copy(
        update={"invoice": container.settings.invoice.model_copy(update={"days_before_due": 2})}
    )
    strict = Container(
        settings=settings, database=container.database, crypto=container.crypto, clock=clock
    )
    try:
        report = await run_billing(container=strict)
        assert report.due_by == today + timedelta(days=2)
        assert report.invoices_created == 0
        report = await run_billing(container=strict, today=today + timedelta(days=1))
        assert report.invoices_created == 1
    finally:
        await strict.aclose()
    assert (await _services(container))[in_three_days].next_due_date == _add_month(
        today + timedelta(days=3)
    )


async def test_buyer_snapshot_is_encrypted_in_the_raw_row_and_tax_rules_apply(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock, product_id: uuid.UUID
) -> None:
    await make_tax_rate(container, country="FR", rate_bp=2000)
    business = await billing_customer(
        client, container, country="FR", company="Boulangerie SARL", vat_id="FR40303265045"
    )
    await _service(
        container,
        customer_id=business.customer_id,
        product_id=product_id,
        next_due_date=_today(clock),
    )
    report = await run_billing(container=container)
    assert report.invoices_created == 1

    async with container.database.unit_of_work() as session:
        raw = (await session.execute(text("SELECT buyer_snapshot FROM invoices"))).scalar_one()
        customer = await session.get(Customer, business.customer_id)
        assert customer is not None
        email = customer.email
    assert "Boulangerie" not in raw
    assert email not in raw
    [(invoice, line)] = await _invoices(container)
    snapshot = json.loads(invoice.buyer_snapshot or "{}")
    assert (snapshot["company"], snapshot["email"]) == ("Boulangerie SARL", email)
    # The seller is in DE: an FR business with a valid VAT id gets the reverse charge.
    assert invoice.reverse_charge is True
    assert invoice.tax_note == REVERSE_CHARGE_NOTE
    assert (line.tax_rate_bp, invoice.tax_total) == (0, 0)


async def test_credit_pays_renewals_and_zero_totals_are_paid_at_once(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    today = _today(clock)
    paid_by_credit = await _service(
        container, customer_id=customer_id, product_id=product_id, next_due_date=today, amount=500
    )
    free = await _service(
        container, customer_id=customer_id, product_id=product_id, next_due_date=today, amount=0
    )
    async with container.database.unit_of_work() as session:
        await CreditLedger(session).append(
            customer_id=customer_id,
            currency="EUR",
            kind=CreditEntryKind.FUNDS_ADDED,
            amount=300,
            at=clock.now(),
        )
    await run_billing(container=container)
    by_service = {line.service_id: invoice for invoice, line in await _invoices(container)}
    assert by_service[free].status == InvoiceStatus.PAID
    partly = by_service[paid_by_credit]
    assert (partly.status, partly.amount_paid, partly.total) == (InvoiceStatus.OPEN, 300, 500)
    async with container.database.unit_of_work() as session:
        assert await CreditLedger(session).balance(customer_id=customer_id, currency="EUR") == 0


async def test_a_closed_customer_is_reported_as_failed(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    service_id = await _service(
        container, customer_id=customer_id, product_id=product_id, next_due_date=_today(clock)
    )
    async with container.database.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.status = "closed"
    report = await run_billing(container=container)
    assert (report.invoices_created, report.failed) == (0, 1)
    assert report.passed_over[0].reason == "customer_not_billable"
    assert (await _services(container))[service_id].next_due_date == _today(clock)


@pytest.mark.postgres_only
async def test_overlapping_runs_invoice_each_service_once_with_gapless_numbers(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    for _ in range(12):
        await _service(
            container, customer_id=customer_id, product_id=product_id, next_due_date=_today(clock)
        )
    reports = await asyncio.gather(
        run_billing(container=container, batch_size=2),
        run_billing(container=container, batch_size=2),
    )
    assert sum(report.invoices_created for report in reports) == 12
    assert all(report.skipped == 0 for report in reports)
    rows = await _invoices(container)
    assert len({line.service_id for _, line in rows}) == 12
    year = clock.now().year
    assert sorted(invoice.number or "" for invoice, _ in rows) == [
        f"INV-{year}-{n:06d}" for n in range(1, 13)
    ]


async def test_staff_start_a_run_through_the_api(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    customer_id: uuid.UUID,
    product_id: uuid.UUID,
) -> None:
    for _ in range(3):
        await _service(
            container, customer_id=customer_id, product_id=product_id, next_due_date=_today(clock)
        )
    support = await staff(client, container, StaffRole.SUPPORT)
    denied = await client.post(API, headers=support.headers)
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    assert await _invoices(container) == []

    billing = await staff(client, container, StaffRole.BILLING)
    limited = await client.post(API, json={"limit": 2}, headers=billing.headers)
    assert limited.status_code == 200, limited.text
    body = limited.json()
    assert (body["services_examined"], body["invoices_created"]) == (2, 2)
    assert body["today"] == _today(clock).isoformat()
    assert body["totals"] == {"EUR": 2000}

    rest = await client.post(API, headers=billing.headers)
    assert rest.json()["invoices_created"] == 1
    async with container.database.unit_of_work() as session:
        entries = (await session.scalars(select(AuditEntry.actor_kind).distinct())).all()
    assert "staff" in entries

    bad = await client.post(API, json={"today": "2030-01-01"}, headers=billing.headers)
    assert bad.status_code == 422  # the server's clock only


async def test_cli_billing_run(
    container: Container,
    clock: FrozenClock,
    customer_id: uuid.UUID,
    product_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`hostledger jobs billing-run --today …` against the test database, from its settings."""
    day = _today(clock) + timedelta(days=40)
    await _service(container, customer_id=customer_id, product_id=product_id, next_due_date=day)
    settings = container.settings
    monkeypatch.setenv("HOSTLEDGER_ENV", "test")
    monkeypatch.setenv("HOSTLEDGER_DATABASE_URL", settings.database.url)
    for name in ("secret_key", "data_keys", "blind_index_key"):
        value = getattr(settings, name)
        monkeypatch.setenv(f"HOSTLEDGER_{name.upper()}", value.get_secret_value())

    runner = CliRunner()
    args = ["jobs", "billing-run", "--today", (day - timedelta(days=1)).isoformat()]
    try:
        result = await asyncio.to_thread(runner.invoke, cli, [*args, "--batch-size", "10"])
        # The job froze the long-lived heap before its run (app.core.heap).
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on creating and dropping apps
    assert result.exit_code == 0, result.output
    assert "invoices created" in result.output
    [(_, line)] = await _invoices(container)
    assert line.period_start == day
    again = await asyncio.to_thread(runner.invoke, cli, args)
    assert again.exit_code == 0, again.output
    assert len(await _invoices(container)) == 1
    # The CLI's keyring is the test's own keys; keep the test's keyring installed.
    from app.core.crypto import install_field_keyring

    install_field_keyring(container.crypto.fields)


async def test_a_customer_is_read_once_per_run_until_their_record_changes(
    container: Container, clock: FrozenClock, customer_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    """Terms and buyer snapshot are derived once per version of the customer's record: three
    batches of one service read the customer once; a change between batches is billed as
    changed (P1: the snapshot is the buyer as at issue)."""
    today = _today(clock)
    for _ in range(4):
        await _service(
            container, customer_id=customer_id, product_id=product_id, next_due_date=today
        )
    run = BillingRun(container=container, batch_size=1)

    with count_all_statements(container) as statements:
        first = await run.run(limit=3)
    customer_reads = [sql for sql in statements if sql.lstrip().startswith("SELECT customers.")]
    assert first.invoices_created == 3
    assert len(customer_reads) == 1

    async with container.database.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.city = "Hamburg"
    second = await run.run()

    assert second.invoices_created == 1
    cities = [
        json.loads(invoice.buyer_snapshot or "{}")["city"]
        for invoice, _ in await _invoices(container)
    ]
    assert cities[-1] == "Hamburg"
    assert "Hamburg" not in cities[:-1]


async def test_the_run_remembers_a_bounded_number_of_customers(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    customer_id: uuid.UUID,
    product_id: uuid.UUID,
) -> None:
    """More customers in a batch than the run keeps: each is still billed with its own
    snapshot, and the least recently used are forgotten (read again if they come back)."""
    today = _today(clock)
    others = [
        (await billing_customer(client, container, country="DE", city=f"Town {n}")).customer_id
        for n in range(2)
    ]
    for owner in [customer_id, *others, customer_id]:
        await _service(container, customer_id=owner, product_id=product_id, next_due_date=today)
    run = BillingRun(container=container, batch_size=4, buyer_cache_size=1)

    report = await run.run()

    assert report.invoices_created == 4
    assert len(run._buyers) == 1
    billed = {
        invoice.customer_id: json.loads(invoice.buyer_snapshot or "{}")["city"]
        for invoice, _ in await _invoices(container)
    }
    assert billed[others[0]] == "Town 0"
    assert billed[others[1]] == "Town 1"
