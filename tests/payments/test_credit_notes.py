"""Credit notes: whole and partial, gapless numbers, never more than invoiced, settlement."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.core.container import Container
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, make_tax_rate, staff
from tests.payments.helpers import (
    API,
    assert_ledger_consistent,
    invoice_lines,
    issued_invoice,
    ledger_entries,
    load_invoice,
    pay,
    void_invoice,
)
from tests.users.helpers import problem_code


async def _credit(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    invoice_id: uuid.UUID,
    *,
    settlement: str = "credit_balance",
    lines: list[dict[str, Any]] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"reason": "service_unsatisfactory", "settlement": settlement}
    if lines is not None:
        body["lines"] = lines
    return await client.post(
        f"{API}/invoices/{invoice_id}/credit-notes", json=body, headers=headers
    )


async def test_open_unpaid_invoice_fully_credited_is_void_and_numbers_are_gapless(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="DE", rate_bp=1900)
    clerk = await staff(client, container)
    ada = await billing_customer(client, container, country="DE")
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 2), (333, 1)])
    invoice = await load_invoice(container, invoice_id)
    assert (invoice.subtotal, invoice.tax_total) == (2333, 380 + 63)

    response = await _credit(client, clerk.headers, invoice_id)
    assert response.status_code == 201, response.text
    note = response.json()
    year = container.clock.now().year
    assert note["number"] == f"CN-{year}-000001"
    assert (note["subtotal"], note["tax_total"], note["total"]) == (2333, 443, 2776)
    assert (note["applied_to_due"], note["settled_amount"]) == (2776, 0)
    assert [
        (line["quantity"], line["net_amount"], line["tax_amount"]) for line in note["lines"]
    ] == [
        (2, 2000, 380),
        (1, 333, 63),
    ]
    invoice = await load_invoice(container, invoice_id)
    assert invoice.status == "void"
    assert invoice.voided_at is not None
    assert invoice.amount_credited == 2776
    assert await ledger_entries(container) == []

    again = await _credit(client, clerk.headers, invoice_id)
    assert again.status_code == 409
    assert problem_code(again) == "invoice_not_issued"

    second_invoice = await issued_invoice(container, ada.customer_id, lines=[(100, 1)])
    second = await _credit(client, clerk.headers, second_invoice)
    assert second.json()["number"] == f"CN-{year}-000002"


async def test_partial_credit_lowers_due_and_cannot_exceed_the_invoice(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="DE", rate_bp=5000)
    clerk = await staff(client, container)
    ada = await billing_customer(client, container, country="DE")
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1, 3), (1000, 1)])
    small, big = await invoice_lines(container, invoice_id)
    assert (small.net_amount, small.tax_amount) == (3, 2)  # 1.5 rounds half-up

    one = await _credit(
        client, clerk.headers, invoice_id, lines=[{"invoice_line_id": str(small.id), "quantity": 1}]
    )
    assert one.status_code == 201, one.text
    assert (one.json()["subtotal"], one.json()["tax_total"]) == (1, 1)  # 0.5 rounds up
    two = await _credit(
        client, clerk.headers, invoice_id, lines=[{"invoice_line_id": str(small.id), "quantity": 1}]
    )
    assert (two.json()["subtotal"], two.json()["tax_total"]) == (1, 1)
    # The last unit takes what is left: three units never credit more tax than was invoiced.
    last = await _credit(
        client, clerk.headers, invoice_id, lines=[{"invoice_line_id": str(small.id), "quantity": 1}]
    )
    assert (last.json()["subtotal"], last.json()["tax_total"]) == (1, 0)

    too_many = await _credit(
        client, clerk.headers, invoice_id, lines=[{"invoice_line_id": str(small.id), "quantity": 1}]
    )
    assert too_many.status_code == 422
    assert problem_code(too_many) == "credit_exceeds_invoice"
    assert too_many.json()["invoice_line_id"] == str(small.id)
    assert too_many.json()["creditable_quantity"] == 0
    over = await _credit(
        client, clerk.headers, invoice_id, lines=[{"invoice_line_id": str(big.id), "quantity": 2}]
    )
    assert problem_code(over) == "credit_exceeds_invoice"

    foreign = await _credit(
        client,
        clerk.headers,
        invoice_id,
        lines=[{"invoice_line_id": str(uuid.uuid4()), "quantity": 1}],
    )
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "body.lines.0.invoice_line_id"
    twice = await _credit(
        client,
        clerk.headers,
        invoice_id,
        lines=[
            {"invoice_line_id": str(big.id), "quantity": 1},
            {"invoice_line_id": str(big.id), "quantity": 1},
        ],
    )
    assert twice.status_code == 422

    invoice = await load_invoice(container, invoice_id)
    assert (invoice.status, invoice.amount_credited, invoice.amount_due) == ("open", 5, 1500)
    # The whole invoice now means what is left of it.
    rest = await _credit(client, clerk.headers, invoice_id)
    assert rest.json()["total"] == 1500
    assert [line["invoice_line_id"] for line in rest.json()["lines"]] == [str(big.id)]
    assert (await load_invoice(container, invoice_id)).status == "void"


async def test_settlement_of_money_already_paid(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)

    # Paid invoice, credited to the balance: everything becomes credit.
    paid_id = await issued_invoice(container, ada.customer_id, lines=[(400, 1), (600, 1)])
    await pay(client, clerk.headers, paid_id, 1000)
    first_line = (await invoice_lines(container, paid_id))[0]
    note = await _credit(
        client,
        clerk.headers,
        paid_id,
        lines=[{"invoice_line_id": str(first_line.id), "quantity": 1}],
    )
    assert (note.json()["applied_to_due"], note.json()["settled_amount"]) == (0, 400)
    entries = await ledger_entries(container)
    assert [(e.kind, e.amount, e.credit_note_id) for e in entries] == [
        ("credit_note", 400, uuid.UUID(note.json()["id"]))
    ]
    assert (await load_invoice(container, paid_id)).status == "paid"

    # Partly paid open invoice, refunded: the due part is credited, the paid part only recorded.
    open_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])
    assert (await load_invoice(container, open_id)).amount_paid == 400  # auto-applied credit
    await pay(client, clerk.headers, open_id, 100)
    refunded = await _credit(client, clerk.headers, open_id, settlement="refunded")
    assert refunded.status_code == 201
    assert (refunded.json()["applied_to_due"], refunded.json()["settled_amount"]) == (500, 500)
    invoice = await load_invoice(container, open_id)
    assert (invoice.status, invoice.amount_paid, invoice.amount_credited) == ("paid", 500, 500)
    balances = await assert_ledger_consistent(container)
    assert balances == {(ada.customer_id, "EUR"): 0}  # 400 credited, 400 used, nothing refunded

    # Drafts and void invoices are not credited.
    void_id = await issued_invoice(container, ada.customer_id, lines=[(50, 1)])
    await void_invoice(container, void_id)
    assert (await _credit(client, clerk.headers, void_id)).status_code == 409


async def test_credit_note_access(client: httpx.AsyncClient, container: Container) -> None:
    clerk = await staff(client, container)
    support = await staff(client, container, StaffRole.SUPPORT)
    ada = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    ada_note = (
        await _credit(client, clerk.headers, await issued_invoice(container, ada.customer_id))
    ).json()
    bob_note = (
        await _credit(client, clerk.headers, await issued_invoice(container, bob.customer_id))
    ).json()

    mine = await client.get(f"{API}/credit-notes", headers=ada.headers)
    assert [item["id"] for item in mine.json()["items"]] == [ada_note["id"]]
    one = await client.get(f"{API}/credit-notes/{ada_note['id']}", headers=ada.headers)
    assert one.status_code == 200
    assert len(one.json()["lines"]) == 1
    hidden = await client.get(f"{API}/credit-notes/{bob_note['id']}", headers=ada.headers)
    assert hidden.status_code == 404

    everyone = await client.get(f"{API}/credit-notes", headers=support.headers)
    assert {item["id"] for item in everyone.json()["items"]} == {ada_note["id"], bob_note["id"]}
    invoice_id = await issued_invoice(container, ada.customer_id)
    for headers in (support.headers, ada.headers):
        assert (await _credit(client, headers, invoice_id)).status_code == 403
