"""The credit balance endpoints: balances per currency, the ledger, funds added by staff."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from app.audit.service import Actor
from app.billing.errors import InsufficientCredit
from app.billing.ledger import CreditLedger
from app.billing.money import MAX_AMOUNT
from app.billing.service import InvoiceService
from app.core.container import Container
from app.models.audit import AuditEntry
from app.models.payment import CreditEntryKind
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, staff
from tests.payments.helpers import (
    API,
    assert_ledger_consistent,
    issued_invoice,
    load_invoice,
    pay,
)
from tests.users.helpers import problem_code


async def _add(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    customer_id: uuid.UUID,
    amount: object,
    currency: str = "EUR",
) -> httpx.Response:
    return await client.post(
        f"{API}/customers/{customer_id}/credit",
        json={"amount": amount, "currency": currency, "memo": "Goodwill"},
        headers=headers,
    )


async def test_staff_add_funds_and_everyone_reads_the_ledger(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    first = await _add(client, clerk.headers, ada.customer_id, 500)
    assert first.status_code == 201, first.text
    assert first.json()["kind"] == "funds_added"
    assert (first.json()["sequence"], first.json()["balance_after"]) == (1, 500)
    assert (await _add(client, clerk.headers, ada.customer_id, 250, "USD")).status_code == 201
    assert (await _add(client, clerk.headers, ada.customer_id, 100)).status_code == 201

    staff_view = await client.get(
        f"{API}/customers/{ada.customer_id}/credit", headers=clerk.headers
    )
    assert staff_view.status_code == 200
    body = staff_view.json()
    assert body["balances"] == [
        {"currency": "EUR", "amount": 600},
        {"currency": "USD", "amount": 250},
    ]
    assert [item["amount"] for item in body["items"]] == [100, 250, 500]  # newest first
    assert body["items"][0]["memo"] == "Goodwill"

    mine = await client.get(f"{API}/me/credit", params={"currency": "EUR"}, headers=ada.headers)
    assert mine.status_code == 200
    assert [item["balance_after"] for item in mine.json()["items"]] == [600, 500]
    paged = await client.get(f"{API}/me/credit", params={"limit": 1}, headers=ada.headers)
    assert len(paged.json()["items"]) == 1
    rest = await client.get(
        f"{API}/me/credit",
        params={"limit": 5, "cursor": paged.json()["next_cursor"]},
        headers=ada.headers,
    )
    assert len(rest.json()["items"]) == 2

    async with container.database.unit_of_work() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.entity_type == "credit_entry")
            )
        ).all()
    assert actions == ["funds_added"] * 3
    await assert_ledger_consistent(container)


async def test_credit_access_and_input_rules(
    client: httpx.AsyncClient, container: Container
) -> None:
    support = await staff(client, container, StaffRole.SUPPORT)
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    bob = await billing_customer(client, container)

    # Customers read only their own (there is no customer-facing route to anyone else's).
    other = await client.get(f"{API}/customers/{bob.customer_id}/credit", headers=ada.headers)
    assert other.status_code == 403
    for headers in (ada.headers, support.headers):
        assert (await _add(client, headers, ada.customer_id, 100)).status_code == 403
    readable = await client.get(
        f"{API}/customers/{ada.customer_id}/credit", headers=support.headers
    )
    assert readable.status_code == 200
    assert readable.json()["balances"] == []

    for bad in (0, -100, 1.5, "100"):
        response = await _add(client, clerk.headers, ada.customer_id, bad)
        assert response.status_code == 422, bad
    no_memo = await client.post(
        f"{API}/customers/{ada.customer_id}/credit",
        json={"amount": 100, "currency": "EUR"},
        headers=clerk.headers,
    )
    assert no_memo.status_code == 422
    setting = await client.post(
        f"{API}/customers/{ada.customer_id}/credit",
        json={"amount": 100, "currency": "EUR", "memo": "x", "balance": 5},
        headers=clerk.headers,
    )
    assert setting.status_code == 422  # no endpoint sets a balance
    missing = await _add(client, clerk.headers, uuid.uuid4(), 100)
    assert missing.status_code == 404
    assert (await client.get(f"{API}/me/credit", headers=clerk.headers)).status_code == 404

    # Money columns are 64-bit: a balance passes 2**31 - 1 (a 32-bit column's end) intact …
    assert (await _add(client, clerk.headers, ada.customer_id, 2**31 - 1)).status_code == 201
    assert (await _add(client, clerk.headers, ada.customer_id, 1)).status_code == 201
    balance = await client.get(f"{API}/customers/{ada.customer_id}/credit", headers=clerk.headers)
    assert balance.json()["balances"] == [{"currency": "EUR", "amount": 2**31}]
    # … up to the ledger's own limit, which is a client error to pass, never an overflow.
    async with container.database.unit_of_work() as session:
        await CreditLedger(session).append(
            customer_id=ada.customer_id,
            currency="EUR",
            kind=CreditEntryKind.FUNDS_ADDED,
            amount=MAX_AMOUNT - 2**31,
            at=container.clock.now(),
        )
    overflow = await _add(client, clerk.headers, ada.customer_id, 1)
    assert overflow.status_code == 422
    assert problem_code(overflow) == "balance_limit_exceeded"


async def _apply_credit(container: Container, invoice_id: uuid.UUID, amount: int | None) -> None:
    async with container.database.unit_of_work() as session:
        service = InvoiceService(session=session, container=container)
        await service.apply_credit(invoice_id=invoice_id, actor=Actor.system(), amount=amount)


async def test_credit_applied_to_an_invoice_never_goes_negative(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 1)])
    await _add(client, clerk.headers, ada.customer_id, 300)
    await _apply_credit(container, invoice_id, None)
    invoice = await load_invoice(container, invoice_id)
    assert (invoice.amount_paid, invoice.status) == (300, "open")
    with pytest.raises(InsufficientCredit):
        await _apply_credit(container, invoice_id, 100)
    assert (await pay(client, clerk.headers, invoice_id, 700)).status_code == 201
    balances = await assert_ledger_consistent(container)
    assert balances == {(ada.customer_id, "EUR"): 0}
