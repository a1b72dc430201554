"""The invoice listing's two writers give one document: on PostgreSQL the database writes each
item (`json_row`), elsewhere pydantic validates and writes the rows. Clients must not be able to
tell them apart: same keys, same order, same values, same datetime and date formats."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.billing.access import BillingViewer
from app.billing.listing import InvoiceListing
from app.billing.repository import InvoiceFilter
from app.core.container import Container
from app.core.hot_reads import json_row
from app.core.pagination import PageParams
from app.models.customer import Customer
from app.models.invoice import Invoice, InvoiceStatus
from tests.billing.helpers import billing_customer

# Whole seconds and fractions, NULL dates and numbers, amounts past 2**31, every status.
VARIANTS: list[dict[str, Any]] = [
    {"status": "draft", "number": None, "issued_at": None, "due_date": None},
    {
        "status": "open",
        "issued_at": datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),
        "due_date": date(2026, 3, 8),
        "total": 3_000_000_000,
        "amount_paid": 1,
    },
    {
        "status": "paid",
        "issued_at": datetime(2026, 3, 2, 9, 15, 30, 120000, tzinfo=UTC),
        "paid_at": datetime(2026, 3, 3, 0, 0, 0, 1, tzinfo=UTC),
        "due_date": date(2026, 3, 9),
        "amount_paid": 1190,
    },
    {"status": "void", "issued_at": datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=UTC)},
    {"status": "uncollectible", "issued_at": datetime(2026, 3, 5, tzinfo=UTC)},
    {"status": "open", "amount_credited": 190, "kind": "renewal"},
    {"status": "open", "kind": "add_funds", "currency": "USD"},
]


async def _add_invoices(container: Container, customer_id: uuid.UUID) -> None:
    async with container.database.unit_of_work() as session:
        for variant in VARIANTS:
            fields: dict[str, Any] = {
                "number": f"T-{uuid.uuid4().hex[:12]}",
                "kind": "manual",
                "currency": "EUR",
                "subtotal": 1000,
                "tax_total": 190,
                "total": 1190,
                **variant,
            }
            session.add(Invoice(customer_id=customer_id, **fields))


async def _user_of(container: Container, customer_id: uuid.UUID) -> uuid.UUID:
    async with container.database.unit_of_work() as session:
        user_id = await session.scalar(select(Customer.user_id).where(Customer.id == customer_id))
    assert user_id is not None
    return user_id


async def _both_documents(
    listing: InvoiceListing, *, viewer: BillingViewer, search: InvoiceFilter, page: PageParams
) -> tuple[dict[str, Any], dict[str, Any]]:
    written = await listing.page_document(viewer=viewer, search=search, page=page)
    validated = await listing.validated_document(viewer=viewer, search=search, page=page)
    return json.loads(written), json.loads(validated)


@pytest.mark.postgres_only
async def test_postgresql_writes_the_page_pydantic_writes(
    client: httpx.AsyncClient, container: Container
) -> None:
    owner = await billing_customer(client, container)
    someone_else = await billing_customer(client, container)
    await _add_invoices(container, owner.customer_id)
    await _add_invoices(container, someone_else.customer_id)
    listing = InvoiceListing(container=container)
    assert listing.summaries.renders_json  # the database-written path is the one compared

    viewers = [
        BillingViewer(user_id=await _user_of(container, owner.customer_id)),
        BillingViewer(user_id=None),
    ]
    searches = [InvoiceFilter(), InvoiceFilter(status=InvoiceStatus.OPEN)]
    for viewer in viewers:
        for search in searches:
            cursor: str | None = None
            pages = 0
            while True:
                page = PageParams(limit=2, cursor=cursor)
                written, validated = await _both_documents(
                    listing, viewer=viewer, search=search, page=page
                )
                assert written == validated
                # Same key order too: a client printing the JSON sees no difference.
                assert [list(item) for item in written["items"]] == [
                    list(item) for item in validated["items"]
                ]
                pages += 1
                cursor = written["next_cursor"]
                if cursor is None:
                    break
            assert pages >= 2  # the cursor was followed, not just the first page


@pytest.mark.postgres_only
async def test_timestamps_are_written_in_utc_with_z_and_microseconds_only_when_set(
    client: httpx.AsyncClient, container: Container
) -> None:
    owner = await billing_customer(client, container)
    await _add_invoices(container, owner.customer_id)
    listing = InvoiceListing(container=container)
    viewer = BillingViewer(user_id=await _user_of(container, owner.customer_id))

    document = json.loads(
        await listing.page_document(
            viewer=viewer, search=InvoiceFilter(), page=PageParams(limit=50)
        )
    )

    issued = {item["issued_at"] for item in document["items"]}
    assert "2026-03-01T12:00:00Z" in issued
    assert "2026-03-02T09:15:30.120000Z" in issued
    assert "2026-03-04T23:59:59.999999Z" in issued
    assert {item["due_date"] for item in document["items"]} >= {"2026-03-08", None}
    assert max(item["total"] for item in document["items"]) == 3_000_000_000


def test_a_column_decrypted_in_python_cannot_be_written_by_the_database() -> None:
    with pytest.raises(ValueError, match="buyer_snapshot"):
        json_row([Invoice.id, Invoice.buyer_snapshot])
