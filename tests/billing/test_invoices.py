"""/invoices: one set of endpoints for customers and staff — access as a query filter, the
summary listing (one statement, no buyer details), the detail with its lines and buyer
snapshot, the PDF and CSV, and the draft → open → paid/void/uncollectible rules."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pypdf import PdfReader
from sqlalchemy import text

from app.api.deps import get_session
from app.audit.service import Actor
from app.billing.access import BillingViewer
from app.billing.repository import SUMMARY_COLUMNS, InvoiceFilter, InvoiceRepository
from app.billing.router import router as invoices_router
from app.billing.service import InvoiceService, NewLine, stream_invoices_csv
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.container import Container
from app.models.customer import Customer
from app.models.invoice import InvoiceKind
from app.models.user import StaffRole
from tests.billing.helpers import (
    API,
    BillingCustomer,
    billing_customer,
    count_all_statements,
    draft_invoice,
    issued_invoice,
    staff,
)
from tests.users.helpers import SignedIn, problem_code, signed_in_customer

INVOICES = f"{API}/invoices"


async def seed_invoices(
    container: Container, customer_id: uuid.UUID, *, count: int, issue: bool = True
) -> list[uuid.UUID]:
    """`count` manual invoices straight through the service (faster than the API)."""
    ids: list[uuid.UUID] = []
    async with container.database.unit_of_work() as session:
        service = InvoiceService(session=session, container=container)
        customer = await service.customers.get(customer_id)
        for index in range(count):
            invoice = await service.create_draft(
                customer=customer,
                kind=InvoiceKind.MANUAL,
                currency="EUR",
                lines=[NewLine(description=f"Item {index}", unit_amount=100 + index)],
                actor=Actor.system(),
            )
            if issue:
                await service.issue(invoice_id=invoice.id, actor=Actor.system())
            ids.append(invoice.id)
    return ids


async def give_credit(
    client: httpx.AsyncClient, container: Container, customer: BillingCustomer, amount: int
) -> None:
    """The customer adds funds and the add-funds invoice is paid (as a payment would)."""
    response = await client.post(
        f"{INVOICES}/add-funds", json={"amount": amount}, headers=customer.headers
    )
    assert response.status_code == 201, response.text
    invoice_id = uuid.UUID(response.json()["id"])
    async with container.database.unit_of_work() as session:
        service = InvoiceService(session=session, container=container)
        _, invoice = await service.lock_for_payment(invoice_id)
        await service.settle(invoice, amount=invoice.amount_due)


async def ids_listed(client: httpx.AsyncClient, who: SignedIn | BillingCustomer, **params: Any):  # type: ignore[no-untyped-def]
    response = await client.get(INVOICES, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


# --------------------------------------------------------------------------- drafting, reading


async def test_staff_drafts_an_invoice_and_reads_it_with_lines(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    draft = await draft_invoice(
        client,
        billing,
        customer.customer_id,
        lines=[
            {"description": "Migration", "quantity": 3, "unit_amount": 2500},
            {
                "description": "Hosting",
                "unit_amount": 999,
                "period_start": "2026-01-01",
                "period_end": "2026-01-31",
            },
        ],
        memo="Agreed by phone",
    )
    assert draft["status"] == "draft"
    assert draft["kind"] == "manual"
    assert draft["number"] is None
    assert draft["currency"] == "EUR"
    assert draft["buyer"] is None
    assert (draft["subtotal"], draft["tax_total"], draft["total"]) == (8499, 0, 8499)
    assert draft["amount_due"] == 0
    assert draft["memo"] == "Agreed by phone"

    response = await client.get(f"{INVOICES}/{draft['id']}", headers=billing.headers)
    assert response.status_code == 200
    lines = response.json()["lines"]
    assert [line["description"] for line in lines] == ["Migration", "Hosting"]
    assert lines[0] == {
        **lines[0],
        "quantity": 3,
        "unit_amount": 2500,
        "net_amount": 7500,
        "tax_rate_bp": 0,
        "tax_rate_percent": "0.00",
        "tax_amount": 0,
        "total": 7500,
        "service_id": None,
    }
    assert (lines[1]["period_start"], lines[1]["period_end"]) == ("2026-01-01", "2026-01-31")

    added = await client.post(
        f"{INVOICES}/{draft['id']}/lines",
        json={"description": "Extra mailbox", "quantity": 2, "unit_amount": 150},
        headers=billing.headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["total"] == 8799
    assert [line["position"] for line in added.json()["lines"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"description": "", "unit_amount": 1}, "body.lines.0.description"),
        ({"description": "a\x07b", "unit_amount": 1}, "body.lines.0.description"),
        ({"description": "x" * 301, "unit_amount": 1}, "body.lines.0.description"),
        ({"description": "ok", "unit_amount": 1, "quantity": 0}, "body.lines.0.quantity"),
        ({"description": "ok", "unit_amount": 1, "quantity": 10001}, "body.lines.0.quantity"),
        ({"description": "ok", "unit_amount": -1}, "body.lines.0.unit_amount"),
        ({"description": "ok", "unit_amount": 10**9 + 1}, "body.lines.0.unit_amount"),
        ({"description": "ok", "unit_amount": 10.5}, "body.lines.0.unit_amount"),
        (
            {
                "description": "ok",
                "unit_amount": 1,
                "period_start": "2026-02-01",
                "period_end": "2026-01-01",
            },
            "body.lines.0",
        ),
    ],
)
async def test_invalid_lines_are_refused_naming_the_field(
    client: httpx.AsyncClient, container: Container, line: dict[str, Any], field: str
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    response = await client.post(
        INVOICES,
        json={"customer_id": str(customer.customer_id), "lines": [line]},
        headers=billing.headers,
    )
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_drafting_for_an_unknown_customer_is_404(
    client: httpx.AsyncClient, container: Container
) -> None:
    billing = await staff(client, container)
    response = await client.post(
        INVOICES, json={"customer_id": str(uuid.uuid4()), "lines": []}, headers=billing.headers
    )
    assert response.status_code == 404
    assert problem_code(response) == "customer_not_found"


# --------------------------------------------------------------------------- access


async def test_customers_see_only_their_own_invoices_and_staff_see_all(
    client: httpx.AsyncClient, container: Container
) -> None:
    alice = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    billing = await staff(client, container)
    alices = await issued_invoice(client, billing, alice.customer_id)
    bobs = await issued_invoice(client, billing, bob.customer_id)

    assert await ids_listed(client, alice) == {alices["id"]}
    assert await ids_listed(client, bob) == {bobs["id"]}
    assert await ids_listed(client, billing) == {alices["id"], bobs["id"]}
    # A customer's customer_id filter cannot widen what they see.
    assert await ids_listed(client, alice, customer_id=str(bob.customer_id)) == set()

    own = await client.get(f"{INVOICES}/{alices['id']}", headers=alice.headers)
    assert own.status_code == 200
    assert own.json()["buyer"]["first_name"] == "Ada"
    for path in (f"{INVOICES}/{bobs['id']}", f"{INVOICES}/{bobs['id']}/pdf"):
        response = await client.get(path, headers=alice.headers)
        assert response.status_code == 404
        assert problem_code(response) == "invoice_not_found"
    assert (
        await client.get(f"{INVOICES}/{bobs['id']}", headers=billing.headers)
    ).status_code == 200


async def test_customers_cannot_draft_issue_or_close_invoices(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    draft = await draft_invoice(client, billing, customer.customer_id)
    attempts = [
        ("POST", INVOICES, {"customer_id": str(customer.customer_id), "lines": []}),
        ("POST", f"{INVOICES}/{draft['id']}/issue", None),
        ("POST", f"{INVOICES}/{draft['id']}/lines", {"description": "x", "unit_amount": 0}),
        ("POST", f"{INVOICES}/{draft['id']}/void", None),
        ("POST", f"{INVOICES}/{draft['id']}/write-off", None),
        ("DELETE", f"{INVOICES}/{draft['id']}", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=customer.headers)
        assert response.status_code == 403, (method, path, response.text)


async def test_support_reads_everything_but_cannot_change_anything(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    support = await staff(client, container, StaffRole.SUPPORT)
    invoice = await issued_invoice(client, billing, customer.customer_id)

    assert await ids_listed(client, support) == {invoice["id"]}
    assert (await client.get(f"{INVOICES}/{invoice['id']}", headers=support.headers)).json()[
        "buyer"
    ]["last_name"] == "Lovelace"
    for path, body in [
        (INVOICES, {"customer_id": str(customer.customer_id), "lines": []}),
        (f"{INVOICES}/{invoice['id']}/void", None),
        (f"{INVOICES}/{invoice['id']}/apply-credit", None),
        (f"{INVOICES}/add-funds", {"amount": 1000, "customer_id": str(customer.customer_id)}),
    ]:
        response = await client.post(path, json=body, headers=support.headers)
        assert response.status_code == 403, (path, response.text)
    export = await client.get(f"{INVOICES}/export.csv", headers=support.headers)
    assert export.status_code == 200


# --------------------------------------------------------------------------- the listing


async def test_list_filters(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    alice = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    billing = await staff(client, container)
    draft = await draft_invoice(client, billing, alice.customer_id)
    early = await issued_invoice(client, billing, alice.customer_id)  # due 2026-01-22
    clock.advance(days=10)
    late, voided = await seed_invoices(container, bob.customer_id, count=2)  # due 2026-02-01
    async with container.database.unit_of_work() as session:
        service = InvoiceService(session=session, container=container)
        await service.void(invoice_id=voided, actor=Actor.system(), reason=None)
    # Ten days on, everyone signs in again.
    alice.signed_in = await signed_in_customer(client, alice.signed_in.account)
    bob.signed_in = await signed_in_customer(client, bob.signed_in.account)
    billing = await signed_in_customer(client, billing.account)

    assert early["due_date"] == "2026-01-22"
    assert await ids_listed(client, billing, status="draft") == {draft["id"]}
    assert await ids_listed(client, billing, status="open") == {early["id"], str(late)}
    assert await ids_listed(client, billing, status="void") == {str(voided)}
    assert await ids_listed(client, billing, customer_id=str(alice.customer_id)) == {
        draft["id"],
        early["id"],
    }
    assert await ids_listed(client, billing, due_from="2026-01-23") == {str(late), str(voided)}
    assert await ids_listed(client, billing, due_to="2026-01-22") == {early["id"]}
    assert await ids_listed(client, billing, due_from="2026-01-22", due_to="2026-01-31") == {
        early["id"]
    }
    # Today is 2026-01-25: only the open invoice due on the 22nd is overdue.
    assert await ids_listed(client, billing, overdue="true") == {early["id"]}
    assert len(await ids_listed(client, billing, overdue="false")) == 4
    assert await ids_listed(client, alice, overdue="true") == {early["id"]}
    assert await ids_listed(client, bob, overdue="true") == set()
    response = await client.get(INVOICES, params={"status": "bogus"}, headers=billing.headers)
    assert response.status_code == 422


async def test_list_is_a_summary_and_pages_by_cursor(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    ids = await seed_invoices(container, customer.customer_id, count=5)
    response = await client.get(INVOICES, params={"limit": 3}, headers=customer.headers)
    assert response.status_code == 200
    first = response.json()
    assert [item["id"] for item in first["items"]] == [str(i) for i in reversed(ids[2:])]
    item = first["items"][0]
    assert set(item) == {
        "id",
        "number",
        "customer_id",
        "kind",
        "status",
        "currency",
        "subtotal",
        "tax_total",
        "total",
        "amount_paid",
        "amount_credited",
        "amount_due",
        "issued_at",
        "due_date",
        "paid_at",
    }
    assert item["amount_due"] == item["total"] == 104
    assert item["number"] == "INV-2026-000005"
    second = await client.get(
        INVOICES, params={"limit": 3, "cursor": first["next_cursor"]}, headers=customer.headers
    )
    assert [item["id"] for item in second.json()["items"]] == [str(i) for i in reversed(ids[:2])]
    assert second.json()["next_cursor"] is None
    bad = await client.get(INVOICES, params={"cursor": "nonsense"}, headers=customer.headers)
    assert bad.status_code == 400
    assert problem_code(bad) == "invalid_cursor"


async def test_list_is_one_statement_of_summary_columns_whatever_the_page_size(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    await seed_invoices(container, customer.customer_id, count=21)

    async def statements_for(limit: int) -> list[str]:
        with count_all_statements(container) as statements:
            response = await client.get(INVOICES, params={"limit": limit}, headers=customer.headers)
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        return [s for s in statements if "invoices" in s]

    small, large = await statements_for(2), await statements_for(20)
    assert len(small) == len(large) == 1
    assert "buyer_snapshot" not in large[0]
    assert "invoice_lines" not in large[0]


def test_listing_opens_no_orm_session() -> None:
    """The listing runs on the hot reader: no unit of work in its dependency tree."""
    route = next(
        route
        for route in invoices_router.routes
        if isinstance(route, APIRoute) and route.path == "/invoices" and "GET" in route.methods
    )

    def calls(dependant: Dependant) -> Iterator[Any]:
        for dependency in dependant.dependencies:
            yield dependency.call
            yield from calls(dependency)

    assert get_session not in set(calls(route.dependant))


async def test_customer_listing_walks_the_customer_index(
    container: Container, is_postgres: bool
) -> None:
    """`customer_id = ? ORDER BY id DESC` is served by ix_invoices_customer_id_id."""
    async with container.database.unit_of_work() as session:
        statement = (
            InvoiceRepository(session)
            .filtered(BillingViewer(user_id=uuid.uuid4()), InvoiceFilter())
            .with_only_columns(*SUMMARY_COLUMNS)
            .order_by(text("id DESC"))
            .limit(51)
        )
        compiled = statement.compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        prefix = "EXPLAIN " if is_postgres else "EXPLAIN QUERY PLAN "
        if is_postgres:
            await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            str(row) for row in (await session.execute(text(prefix + str(compiled)))).all()
        )
    assert "ix_invoices_customer_id_id" in plan, plan
    assert "TEMP B-TREE" not in plan.upper()  # no sort step on SQLite


# --------------------------------------------------------------------------- buyer snapshot


async def test_issued_invoices_keep_the_buyer_as_billed_encrypted(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(
        client, container, company="Analytical Engines Ltd", city="Berlin"
    )
    billing = await staff(client, container)
    invoice = await issued_invoice(client, billing, customer.customer_id)
    assert invoice["buyer"]["company"] == "Analytical Engines Ltd"
    assert invoice["buyer"]["customer_number"].startswith("C-")

    changed = await client.patch(
        f"{API}/me",
        json={"first_name": "Augusta", "last_name": "King"},
        headers=customer.headers,
    )
    assert changed.status_code == 200, changed.text
    async with container.database.unit_of_work() as session:
        record = await session.get(Customer, customer.customer_id)
        assert record is not None
        record.company = "Difference Engines plc"

    detail = (await client.get(f"{INVOICES}/{invoice['id']}", headers=customer.headers)).json()
    assert (detail["buyer"]["first_name"], detail["buyer"]["last_name"]) == ("Ada", "Lovelace")
    assert detail["buyer"]["company"] == "Analytical Engines Ltd"
    pdf = await client.get(f"{INVOICES}/{invoice['id']}/pdf", headers=customer.headers)
    words = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Lovelace" in words
    assert "Augusta" not in words
    # A new invoice takes the new details.
    fresh = await issued_invoice(client, billing, customer.customer_id)
    assert fresh["buyer"]["first_name"] == "Augusta"

    async with container.database.unit_of_work() as session:
        raw = (
            await session.execute(
                text("SELECT buyer_snapshot FROM invoices WHERE number = :number"),
                {"number": invoice["number"]},
            )
        ).scalar_one()
    assert raw
    assert "Lovelace" not in raw
    assert "Analytical" not in raw


# --------------------------------------------------------------------------- state rules


async def test_void_only_open_invoices_without_payments(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    draft = await draft_invoice(client, billing, customer.customer_id)
    response = await client.post(f"{INVOICES}/{draft['id']}/void", headers=billing.headers)
    assert response.status_code == 409
    assert problem_code(response) == "invoice_not_open"

    invoice = await issued_invoice(client, billing, customer.customer_id)
    voided = await client.post(
        f"{INVOICES}/{invoice['id']}/void",
        json={"reason": "Sent twice"},
        headers=billing.headers,
    )
    assert voided.status_code == 200, voided.text
    body = voided.json()
    assert body["status"] == "void"
    assert body["voided_at"] is not None
    assert body["amount_due"] == 0
    assert body["memo"] == "Sent twice"
    assert body["number"] == invoice["number"]  # the number stays used
    again = await client.post(f"{INVOICES}/{invoice['id']}/void", headers=billing.headers)
    assert problem_code(again) == "invoice_not_open"

    paid_in_part = await issued_invoice(client, billing, customer.customer_id)
    await give_credit(client, container, customer, 600)
    applied = await client.post(
        f"{INVOICES}/{paid_in_part['id']}/apply-credit",
        json={"amount": 400},
        headers=customer.headers,
    )
    assert applied.status_code == 200, applied.text
    assert (applied.json()["amount_paid"], applied.json()["amount_due"]) == (400, 600)
    refused = await client.post(f"{INVOICES}/{paid_in_part['id']}/void", headers=billing.headers)
    assert refused.status_code == 409
    assert problem_code(refused) == "invoice_has_payments"


async def test_write_off_keeps_what_was_paid(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    draft = await draft_invoice(client, billing, customer.customer_id)
    refused = await client.post(f"{INVOICES}/{draft['id']}/write-off", headers=billing.headers)
    assert problem_code(refused) == "invoice_not_open"
    invoice = await issued_invoice(client, billing, customer.customer_id)
    response = await client.post(
        f"{INVOICES}/{invoice['id']}/write-off", json={}, headers=billing.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "uncollectible"
    assert response.json()["written_off_at"] is not None
    assert response.json()["amount_due"] == 0
    assert await ids_listed(client, billing, status="uncollectible") == {invoice["id"]}


async def test_only_drafts_are_deleted_or_get_lines(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    invoice = await issued_invoice(client, billing, customer.customer_id)
    deleted = await client.delete(f"{INVOICES}/{invoice['id']}", headers=billing.headers)
    assert deleted.status_code == 409
    assert problem_code(deleted) == "invoice_not_draft"
    line = await client.post(
        f"{INVOICES}/{invoice['id']}/lines",
        json={"description": "Late extra", "unit_amount": 100},
        headers=billing.headers,
    )
    assert line.status_code == 409
    assert problem_code(line) == "invoice_not_draft"
    reissue = await client.post(f"{INVOICES}/{invoice['id']}/issue", headers=billing.headers)
    assert problem_code(reissue) == "invoice_not_draft"

    draft = await draft_invoice(client, billing, customer.customer_id)
    response = await client.delete(f"{INVOICES}/{draft['id']}", headers=billing.headers)
    assert response.status_code == 204
    gone = await client.get(f"{INVOICES}/{draft['id']}", headers=billing.headers)
    assert gone.status_code == 404
    for method, path in [
        ("DELETE", f"{INVOICES}/{uuid.uuid4()}"),
        ("POST", f"{INVOICES}/{uuid.uuid4()}/issue"),
        ("POST", f"{INVOICES}/{uuid.uuid4()}/void"),
    ]:
        missing = await client.request(method, path, headers=billing.headers)
        assert problem_code(missing) == "invoice_not_found"


async def test_customer_pays_own_invoice_from_credit(
    client: httpx.AsyncClient, container: Container
) -> None:
    alice = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    billing = await staff(client, container)
    # Issued before there is any credit: nothing is applied.
    alices = await issued_invoice(client, billing, alice.customer_id)
    bobs = await issued_invoice(client, billing, bob.customer_id)
    assert alices["amount_due"] == 1000
    await give_credit(client, container, alice, 1500)

    foreign = await client.post(f"{INVOICES}/{bobs['id']}/apply-credit", headers=alice.headers)
    assert foreign.status_code == 404
    assert problem_code(foreign) == "invoice_not_found"
    too_much = await client.post(
        f"{INVOICES}/{alices['id']}/apply-credit", json={"amount": 1001}, headers=alice.headers
    )
    assert too_much.status_code == 422
    assert problem_code(too_much) == "amount_exceeds_due"
    paid = await client.post(f"{INVOICES}/{alices['id']}/apply-credit", headers=alice.headers)
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["amount_paid"]) == ("paid", 1000)
    assert paid.json()["paid_at"] is not None
    again = await client.post(f"{INVOICES}/{alices['id']}/apply-credit", headers=alice.headers)
    assert problem_code(again) == "invoice_not_open"


async def test_staff_apply_credit_and_customers_without_credit_get_409(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    invoice = await issued_invoice(client, billing, customer.customer_id)
    response = await client.post(
        f"{INVOICES}/{invoice['id']}/apply-credit", json={"amount": 100}, headers=billing.headers
    )
    assert response.status_code == 409
    assert problem_code(response) == "insufficient_credit"
    await give_credit(client, container, customer, 700)
    response = await client.post(
        f"{INVOICES}/{invoice['id']}/apply-credit", headers=billing.headers
    )
    assert response.status_code == 200
    assert (response.json()["amount_paid"], response.json()["amount_due"]) == (700, 300)


async def test_issue_applies_available_credit(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    await give_credit(client, container, customer, 2500)
    first = await issued_invoice(client, billing, customer.customer_id)
    assert (first["status"], first["amount_paid"], first["paid_at"] is not None) == (
        "paid",
        1000,
        True,
    )
    second = await issued_invoice(
        client, billing, customer.customer_id, lines=[{"description": "Big", "unit_amount": 2000}]
    )
    assert (second["status"], second["amount_paid"], second["amount_due"]) == ("open", 1500, 500)


class TestWithoutAutoApply:
    @pytest.fixture
    def settings(self, base_settings: Settings) -> Settings:
        return base_settings.model_copy(
            update={
                "billing": base_settings.billing.model_copy(update={"auto_apply_credit": False})
            }
        )

    async def test_issue_leaves_credit_alone(
        self, client: httpx.AsyncClient, container: Container
    ) -> None:
        customer = await billing_customer(client, container)
        billing = await staff(client, container)
        await give_credit(client, container, customer, 2500)
        invoice = await issued_invoice(client, billing, customer.customer_id)
        assert (invoice["status"], invoice["amount_paid"], invoice["amount_due"]) == (
            "open",
            0,
            1000,
        )


async def test_a_zero_invoice_is_paid_on_issue(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    invoice = await issued_invoice(
        client, billing, customer.customer_id, lines=[{"description": "Free", "unit_amount": 0}]
    )
    assert (invoice["status"], invoice["total"]) == ("paid", 0)


# --------------------------------------------------------------------------- documents


async def test_pdf_of_an_issued_invoice_and_of_a_draft(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    invoice = await issued_invoice(client, billing, customer.customer_id)
    response = await client.get(f"{INVOICES}/{invoice['id']}/pdf", headers=customer.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'inline; filename="INV-2026-000001.pdf"'
    assert response.content.startswith(b"%PDF-")
    words = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "INV-2026-000001" in words

    draft = await draft_invoice(client, billing, customer.customer_id)
    response = await client.get(f"{INVOICES}/{draft['id']}/pdf", headers=billing.headers)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'inline; filename="draft-{draft["id"]}.pdf"'


async def test_csv_export_for_staff_only(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    alice = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    billing = await staff(client, container)
    alices = await issued_invoice(client, billing, alice.customer_id)
    clock.advance(timedelta(minutes=1))
    bobs = await issued_invoice(client, billing, bob.customer_id)

    refused = await client.get(f"{INVOICES}/export.csv", headers=alice.headers)
    assert refused.status_code == 403
    response = await client.get(f"{INVOICES}/export.csv", headers=billing.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="invoices.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    header, body = rows[0], rows[1:]
    assert "number" in [column.lower() for column in header]
    assert len(body) == 2
    numbers = {cell for row in body for cell in row if cell.startswith("INV-")}
    assert numbers == {alices["number"], bobs["number"]}

    filtered = await client.get(
        f"{INVOICES}/export.csv",
        params={"customer_id": str(bob.customer_id)},
        headers=billing.headers,
    )
    rows = list(csv.reader(io.StringIO(filtered.text)))
    assert len(rows) == 2
    assert bobs["number"] in rows[1]


async def test_csv_export_streams_more_than_one_batch(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    await seed_invoices(container, customer.customer_id, count=5)
    chunks = [
        chunk
        async for chunk in stream_invoices_csv(
            container=container,
            viewer=BillingViewer(user_id=None),
            search=InvoiceFilter(),
            batch_size=2,
        )
    ]
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert len(rows) == 6  # one header, five rows: no header repeated per batch
    numbers = sorted(cell for row in rows[1:] for cell in row if cell.startswith("INV-"))
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 6)]
