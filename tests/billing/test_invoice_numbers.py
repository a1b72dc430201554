"""Invoice numbers: taken at issue (drafts have none), gapless and sequential per year, a new
year starting again at 000001, a failed issue consuming nothing, and no duplicates or gaps when
many invoices are issued at the same moment."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from app.audit.service import Actor
from app.billing.service import InvoiceService, NewLine, document_number
from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.customer import Customer
from app.models.invoice import Invoice, InvoiceKind
from tests.billing.helpers import API, billing_customer, draft_invoice, issued_invoice, staff
from tests.users.helpers import problem_code, signed_in_customer

INVOICES = f"{API}/invoices"


def test_document_number_format() -> None:
    assert document_number(prefix="INV", year=2026, value=1) == "INV-2026-000001"
    assert document_number(prefix="CN", year=2027, value=123456) == "CN-2027-123456"


async def test_numbers_are_taken_at_issue_in_order(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    first_draft = await draft_invoice(client, billing, customer.customer_id)
    second_draft = await draft_invoice(client, billing, customer.customer_id)
    assert first_draft["number"] is None
    assert second_draft["number"] is None

    # Issued in the other order than drafted: the number follows the issue.
    second = await client.post(f"{INVOICES}/{second_draft['id']}/issue", headers=billing.headers)
    first = await client.post(f"{INVOICES}/{first_draft['id']}/issue", headers=billing.headers)
    assert second.json()["number"] == "INV-2026-000001"
    assert first.json()["number"] == "INV-2026-000002"
    third = await issued_invoice(client, billing, customer.customer_id)
    assert third["number"] == "INV-2026-000003"
    assert third["issued_at"].startswith("2026-01-15T12:00:00")
    assert third["due_date"] == "2026-01-22"  # net terms: 7 days


async def test_a_failed_issue_consumes_no_number(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    first = await issued_invoice(client, billing, customer.customer_id)
    empty = await draft_invoice(client, billing, customer.customer_id, lines=[])
    refused = await client.post(f"{INVOICES}/{empty['id']}/issue", headers=billing.headers)
    assert refused.status_code == 409
    assert problem_code(refused) == "invoice_has_no_lines"
    still_draft = await client.get(f"{INVOICES}/{empty['id']}", headers=billing.headers)
    assert (still_draft.json()["status"], still_draft.json()["number"]) == ("draft", None)

    # A voided invoice keeps its number: the series has no holes either way.
    voided = await issued_invoice(client, billing, customer.customer_id)
    await client.post(f"{INVOICES}/{voided['id']}/void", headers=billing.headers)
    after = await issued_invoice(client, billing, customer.customer_id)
    assert [first["number"], voided["number"], after["number"]] == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2026-000003",
    ]


class TestNewYear:
    @pytest.fixture
    def clock(self) -> FrozenClock:
        return FrozenClock(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))

    async def test_a_new_year_starts_again_at_one(
        self, client: httpx.AsyncClient, container: Container, clock: FrozenClock
    ) -> None:
        customer = await billing_customer(client, container)
        billing = await staff(client, container)
        december = [await issued_invoice(client, billing, customer.customer_id) for _ in range(2)]
        draft = await draft_invoice(client, billing, customer.customer_id)
        clock.advance(minutes=45)  # 2027-01-01 00:15
        billing = await signed_in_customer(client, billing.account)  # a fresh access token
        january = await client.post(f"{INVOICES}/{draft['id']}/issue", headers=billing.headers)
        assert january.status_code == 200, january.text
        later = await issued_invoice(client, billing, customer.customer_id)
        assert [invoice["number"] for invoice in december] == [
            "INV-2026-000001",
            "INV-2026-000002",
        ]
        assert january.json()["number"] == "INV-2027-000001"
        assert later["number"] == "INV-2027-000002"


async def _drafts(container: Container, count: int) -> list[uuid.UUID]:
    """`count` drafts spread over every customer there is, straight through the service."""
    async with container.database.unit_of_work() as session:
        service = InvoiceService(session=session, container=container)
        customers = list((await session.scalars(select(Customer).order_by(Customer.id))).all())
        ids = []
        for index in range(count):
            invoice = await service.create_draft(
                customer=customers[index % len(customers)],
                kind=InvoiceKind.MANUAL,
                currency="EUR",
                lines=[NewLine(description="Hosting", unit_amount=1000 + index)],
                actor=Actor.system(),
            )
            ids.append(invoice.id)
        return ids


@pytest.mark.postgres_only
async def test_concurrent_issues_take_each_number_exactly_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    for _ in range(5):
        await billing_customer(client, container)
    drafts = await _drafts(container, 50)

    async def issue(invoice_id: uuid.UUID) -> str:
        async with container.database.unit_of_work() as session:
            service = InvoiceService(session=session, container=container)
            invoice = await service.issue(invoice_id=invoice_id, actor=Actor.system())
            assert invoice.number is not None
            return invoice.number

    numbers = await asyncio.gather(*(issue(invoice_id) for invoice_id in drafts))
    expected = [f"INV-2026-{value:06d}" for value in range(1, 51)]
    assert sorted(numbers) == expected
    async with container.database.unit_of_work() as session:
        stored = (await session.scalars(select(Invoice.number).order_by(Invoice.number))).all()
    assert list(stored) == expected


@pytest.mark.postgres_only
async def test_concurrent_issues_through_the_api(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    drafts = [await draft_invoice(client, billing, customer.customer_id) for _ in range(20)]
    responses = await asyncio.gather(
        *(
            client.post(f"{INVOICES}/{draft['id']}/issue", headers=billing.headers)
            for draft in drafts
        )
    )
    assert {response.status_code for response in responses} == {200}
    assert sorted(response.json()["number"] for response in responses) == [
        f"INV-2026-{value:06d}" for value in range(1, 21)
    ]
