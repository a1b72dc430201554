"""Disputes; billing's erasure blocker and export sections through the real endpoints."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Container
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, staff
from tests.payments.helpers import API, issued_invoice, pay
from tests.users.helpers import problem_code, signed_in_staff


async def test_open_and_resolve_disputes(client: httpx.AsyncClient, container: Container) -> None:
    clerk = await staff(client, container)
    support = await staff(client, container, StaffRole.SUPPORT)
    ada = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id)
    payment = (await pay(client, clerk.headers, invoice_id, 1000)).json()
    other_invoice = await issued_invoice(container, bob.customer_id)

    opened = await client.post(
        f"{API}/invoices/{invoice_id}/disputes",
        json={
            "reason": "Card holder says unknown",
            "payment_id": payment["id"],
            "is_chargeback": True,
        },
        headers=clerk.headers,
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (dispute["status"], dispute["is_chargeback"]) == ("open", True)
    assert dispute["customer_id"] == str(ada.customer_id)

    wrong_payment = await client.post(
        f"{API}/invoices/{other_invoice}/disputes",
        json={"reason": "x", "payment_id": payment["id"]},
        headers=clerk.headers,
    )
    assert problem_code(wrong_payment) == "payment_not_on_invoice"
    denied = await client.post(
        f"{API}/invoices/{invoice_id}/disputes", json={"reason": "x"}, headers=support.headers
    )
    assert denied.status_code == 403

    listed = await client.get(f"{API}/disputes", params={"status": "open"}, headers=ada.headers)
    assert [item["id"] for item in listed.json()["items"]] == [dispute["id"]]
    assert (await client.get(f"{API}/disputes", headers=bob.headers)).json()["items"] == []
    hidden = await client.get(f"{API}/disputes/{dispute['id']}", headers=bob.headers)
    assert hidden.status_code == 404

    resolve_url = f"{API}/disputes/{dispute['id']}/resolve"
    body = {"outcome": "won", "resolution": "Signed delivery proof"}
    assert (await client.post(resolve_url, json=body, headers=support.headers)).status_code == 403
    assert (
        await client.post(resolve_url, json={**body, "outcome": "open"}, headers=clerk.headers)
    ).status_code == 422
    resolved = await client.post(resolve_url, json=body, headers=clerk.headers)
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "won"
    assert resolved.json()["closed_at"] is not None
    twice = await client.post(resolve_url, json=body, headers=clerk.headers)
    assert twice.status_code == 409
    assert problem_code(twice) == "dispute_not_open"
    still_open = await client.get(
        f"{API}/disputes", params={"status": "open"}, headers=support.headers
    )
    assert still_open.json()["items"] == []
    missing = await client.post(
        f"{API}/invoices/{uuid.uuid4()}/disputes", json={"reason": "x"}, headers=clerk.headers
    )
    assert missing.status_code == 404


async def test_unpaid_invoices_and_open_disputes_block_erasure(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id)

    refused = await client.post(f"{API}/me/erasure-request", json={}, headers=ada.headers)
    assert refused.status_code == 409
    assert problem_code(refused) == "erasure_blocked"
    assert refused.json()["reasons"] == ["You have 1 unpaid invoice(s)."]

    await pay(client, clerk.headers, invoice_id, 1000)
    requested = await client.post(f"{API}/me/erasure-request", json={}, headers=ada.headers)
    assert requested.status_code == 201, requested.text

    # A dispute opened after the request blocks the staff review until it is resolved.
    dispute = (
        await client.post(
            f"{API}/invoices/{invoice_id}/disputes", json={"reason": "x"}, headers=clerk.headers
        )
    ).json()
    approve_url = f"{API}/privacy/erasure-requests/{requested.json()['id']}/approve"
    blocked = await client.post(approve_url, json={"note": "ok"}, headers=admin.headers)
    assert blocked.status_code == 409
    assert blocked.json()["reasons"] == ["You have 1 open dispute(s)."]
    await client.post(
        f"{API}/disputes/{dispute['id']}/resolve",
        json={"outcome": "lost", "resolution": "refunded"},
        headers=clerk.headers,
    )
    approved = await client.post(approve_url, json={"note": "ok"}, headers=admin.headers)
    assert approved.status_code == 200, approved.text


async def test_export_contains_billing_sections(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(700, 1)])
    await pay(client, clerk.headers, invoice_id, 1000, reference="Wire 7")
    await client.post(
        f"{API}/invoices/{invoice_id}/credit-notes",
        json={"reason": "duplicate", "settlement": "refunded"},
        headers=clerk.headers,
    )

    response = await client.get(f"{API}/me/export", headers=ada.headers)
    assert response.status_code == 200
    document = response.json()
    [invoice] = document["invoices"]
    assert (invoice["status"], invoice["total"]) == ("paid", 700)
    assert invoice["lines"][0]["net_amount"] == 700
    assert invoice["buyer"]["customer_number"]
    [payment] = document["payments"]
    assert (payment["amount"], payment["applied_amount"], payment["reference"]) == (
        1000,
        700,
        "Wire 7",
    )
    [note] = document["credit_notes"]
    assert (note["total"], note["settlement"]) == (700, "refunded")
    assert document["credit"]["balances"] == {"EUR": 300}
    assert [entry["kind"] for entry in document["credit"]["entries"]] == ["overpayment"]
