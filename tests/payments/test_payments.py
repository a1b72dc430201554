"""Recording payments: partial, exact, over; refused on closed invoices; idempotent; access."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from app.core.container import Container
from app.models.audit import AuditEntry
from app.models.invoice import InvoiceStatus
from app.models.payment import CreditEntryKind, Payment
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, staff
from tests.payments.helpers import (
    API,
    assert_ledger_consistent,
    issued_invoice,
    ledger_entries,
    load_invoice,
    pay,
    void_invoice,
)
from tests.users.helpers import problem_code


async def test_partial_payments_then_the_rest_pays_the_invoice(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])

    first = await pay(client, clerk.headers, invoice_id, 400, reference="SEPA 1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["amount"], body["applied_amount"], body["credited_amount"]) == (400, 400, 0)
    assert body["currency"] == "EUR"
    assert body["reference"] == "SEPA 1"
    invoice = await load_invoice(container, invoice_id)
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == ("open", 400, 600)

    second = await pay(client, clerk.headers, invoice_id, 600)
    assert second.status_code == 201
    invoice = await load_invoice(container, invoice_id)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.paid_at is not None
    assert invoice.amount_paid == 1000
    assert await ledger_entries(container) == []  # nothing was overpaid
    async with container.database.unit_of_work() as session:
        audited = await session.scalar(
            select(func.count()).where(
                AuditEntry.entity_type == "payment", AuditEntry.action == "recorded"
            )
        )
    assert audited == 2


async def test_overpayment_goes_to_the_credit_ledger(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])
    await pay(client, clerk.headers, invoice_id, 300)

    response = await pay(client, clerk.headers, invoice_id, 1000, currency="EUR")
    assert response.status_code == 201, response.text
    assert response.json()["applied_amount"] == 700
    assert response.json()["credited_amount"] == 300
    entries = await ledger_entries(container)
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        (CreditEntryKind.OVERPAYMENT, 300, 300)
    ]
    assert entries[0].payment_id == uuid.UUID(response.json()["id"])
    assert entries[0].invoice_id == invoice_id
    assert (await load_invoice(container, invoice_id)).status == "paid"

    # The credit pays the next invoice as it is issued (auto-apply), through the same ledger.
    next_id = await issued_invoice(container, ada.customer_id, lines=[(200, 1)])
    assert (await load_invoice(container, next_id)).status == "paid"
    balances = await assert_ledger_consistent(container)
    assert balances == {(ada.customer_id, "EUR"): 100}


async def test_payment_on_a_paid_or_void_invoice_is_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    paid_id = await issued_invoice(container, ada.customer_id, lines=[(500, 1)])
    assert (await pay(client, clerk.headers, paid_id, 500)).status_code == 201
    void_id = await issued_invoice(container, ada.customer_id, lines=[(500, 1)])
    await void_invoice(container, void_id)

    for invoice_id in (paid_id, void_id):
        response = await pay(client, clerk.headers, invoice_id, 100)
        assert response.status_code == 409
        assert problem_code(response) == "invoice_not_open"
    async with container.database.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 1
    await assert_ledger_consistent(container)

    missing = await pay(client, clerk.headers, uuid.uuid4(), 100)
    assert missing.status_code == 404


async def test_payment_input_rules(client: httpx.AsyncClient, container: Container) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id)

    mismatch = await pay(client, clerk.headers, invoice_id, 100, currency="USD")
    assert mismatch.status_code == 422
    assert problem_code(mismatch) == "currency_mismatch"

    future = container.clock.now() + timedelta(minutes=5)
    response = await pay(client, clerk.headers, invoice_id, 100, received_at=future.isoformat())
    assert response.status_code == 422
    assert problem_code(response) == "received_in_future"

    for bad in (0, -5, 10.5, "100", 10**11, True):
        response = await pay(client, clerk.headers, invoice_id, bad)
        assert response.status_code == 422, bad
        assert problem_code(response) == "validation_failed"
    naive = await pay(client, clerk.headers, invoice_id, 100, received_at="2026-01-01T10:00:00")
    assert naive.status_code == 422
    control = await pay(client, clerk.headers, invoice_id, 100, reference="a\x00b")
    assert control.status_code == 422

    past = container.clock.now() - timedelta(days=2)
    ok = await pay(client, clerk.headers, invoice_id, 100, received_at=past.isoformat())
    assert ok.status_code == 201
    assert ok.json()["received_at"].startswith(past.date().isoformat())
    assert (await load_invoice(container, invoice_id)).amount_paid == 100


async def test_idempotency_key_is_required_and_replays(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    other_clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])

    no_key = await client.post(
        f"{API}/invoices/{invoice_id}/payments",
        json={"amount": 100, "method": "cash"},
        headers=clerk.headers,
    )
    assert no_key.status_code == 400
    assert problem_code(no_key) == "idempotency_key_required"

    first = await pay(client, clerk.headers, invoice_id, 100, key="pay-1")
    again = await pay(client, clerk.headers, invoice_id, 100, key="pay-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"

    reused = await pay(client, clerk.headers, invoice_id, 200, key="pay-1")
    assert reused.status_code == 422
    assert problem_code(reused) == "idempotency_key_reused"

    # Keys belong to their caller: another clerk's "pay-1" is a new payment.
    theirs = await pay(client, other_clerk.headers, invoice_id, 100, key="pay-1")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]

    async with container.database.unit_of_work() as session:
        amounts = (await session.scalars(select(Payment.amount))).all()
    assert sorted(amounts) == [100, 100]
    assert (await load_invoice(container, invoice_id)).amount_paid == 200


async def test_a_failed_payment_frees_its_key(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])
    refused = await pay(client, clerk.headers, invoice_id, 100, key="k", currency="USD")
    assert refused.status_code == 422
    retried = await pay(client, clerk.headers, invoice_id, 100, key="k", currency="USD")
    assert retried.status_code == 422  # ran again (not replayed) and was refused again
    assert "idempotent-replayed" not in retried.headers
    async with container.database.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0


async def test_who_may_record_and_read_payments(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    support = await staff(client, container, StaffRole.SUPPORT)
    ada = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    ada_invoice = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])
    bob_invoice = await issued_invoice(container, bob.customer_id, lines=[(1000, 1)])
    ada_payment = (await pay(client, clerk.headers, ada_invoice, 100)).json()
    bob_payment = (await pay(client, clerk.headers, bob_invoice, 200)).json()

    for headers in (support.headers, ada.headers):
        response = await pay(client, headers, ada_invoice, 100)
        assert response.status_code == 403, response.text

    mine = await client.get(f"{API}/payments", headers=ada.headers)
    assert mine.status_code == 200
    assert [item["id"] for item in mine.json()["items"]] == [ada_payment["id"]]
    # A customer's filter cannot widen the access filter.
    theirs = await client.get(
        f"{API}/payments", params={"customer_id": str(bob.customer_id)}, headers=ada.headers
    )
    assert theirs.json()["items"] == []
    hidden = await client.get(f"{API}/invoices/{bob_invoice}/payments", headers=ada.headers)
    assert hidden.status_code == 404
    own = await client.get(f"{API}/invoices/{ada_invoice}/payments", headers=ada.headers)
    assert [item["id"] for item in own.json()["items"]] == [ada_payment["id"]]

    everyone = await client.get(f"{API}/payments", params={"limit": 1}, headers=support.headers)
    assert everyone.status_code == 200
    assert [item["id"] for item in everyone.json()["items"]] == [bob_payment["id"]]
    following = await client.get(
        f"{API}/payments",
        params={"limit": 1, "cursor": everyone.json()["next_cursor"]},
        headers=support.headers,
    )
    assert [item["id"] for item in following.json()["items"]] == [ada_payment["id"]]
    assert following.json()["next_cursor"] is None
    by_invoice = await client.get(
        f"{API}/payments", params={"invoice_id": str(bob_invoice)}, headers=clerk.headers
    )
    assert [item["id"] for item in by_invoice.json()["items"]] == [bob_payment["id"]]
