"""Adding funds by hand and issuing credit notes take an optional Idempotency-Key (P6, P7): a
retried request with the same key moves money once and gets the first answer again; without a
key every request runs, as before."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.core.container import Container
from tests.billing.helpers import billing_customer, staff
from tests.payments.helpers import (
    API,
    assert_ledger_consistent,
    invoice_lines,
    issued_invoice,
    ledger_entries,
    load_invoice,
)
from tests.users.helpers import problem_code


def _key_headers(headers: dict[str, str], key: str | None) -> dict[str, str]:
    return headers if key is None else {**headers, "Idempotency-Key": key}


async def _add_funds(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    customer_id: uuid.UUID,
    *,
    key: str | None,
    amount: int = 500,
) -> httpx.Response:
    return await client.post(
        f"{API}/customers/{customer_id}/credit",
        json={"amount": amount, "currency": "EUR", "memo": "Goodwill"},
        headers=_key_headers(headers, key),
    )


async def _credit_note(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    invoice_id: uuid.UUID,
    *,
    key: str | None,
    lines: list[dict[str, Any]],
) -> httpx.Response:
    return await client.post(
        f"{API}/invoices/{invoice_id}/credit-notes",
        json={"reason": "order_change", "settlement": "credit_balance", "lines": lines},
        headers=_key_headers(headers, key),
    )


async def test_adding_funds_twice_with_one_key_adds_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)

    first = await _add_funds(client, clerk.headers, ada.customer_id, key="funds-1")
    retry = await _add_funds(client, clerk.headers, ada.customer_id, key="funds-1")

    assert first.status_code == retry.status_code == 201, first.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert retry.json() == first.json()
    assert [entry.amount for entry in await ledger_entries(container)] == [500]

    other = await _add_funds(client, clerk.headers, ada.customer_id, key="funds-1", amount=7)
    assert other.status_code == 422
    assert problem_code(other) == "idempotency_key_reused"
    assert [entry.amount for entry in await ledger_entries(container)] == [500]


async def test_adding_funds_without_a_key_runs_every_request(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)

    for _ in range(2):
        response = await _add_funds(client, clerk.headers, ada.customer_id, key=None)
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers

    assert [entry.amount for entry in await ledger_entries(container)] == [500, 500]
    await assert_ledger_consistent(container)


@pytest.mark.parametrize("key", ["", "tab\there", "x" * 256])
async def test_a_malformed_optional_key_is_refused(
    client: httpx.AsyncClient, container: Container, key: str
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)

    response = await client.post(
        f"{API}/customers/{ada.customer_id}/credit",
        json={"amount": 500, "currency": "EUR"},
        headers={**clerk.headers, "Idempotency-Key": key},
    )

    assert response.status_code == 400
    assert problem_code(response) == "idempotency_key_invalid"
    assert await ledger_entries(container) == []


async def test_a_retried_partial_credit_note_is_issued_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    clerk = await staff(client, container)
    ada = await billing_customer(client, container)
    invoice_id = await issued_invoice(container, ada.customer_id, lines=[(1000, 3)])
    [line] = await invoice_lines(container, invoice_id)
    one_unit = [{"invoice_line_id": str(line.id), "quantity": 1}]

    first = await _credit_note(client, clerk.headers, invoice_id, key="cn-retry", lines=one_unit)
    retry = await _credit_note(client, clerk.headers, invoice_id, key="cn-retry", lines=one_unit)

    assert first.status_code == retry.status_code == 201, first.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["number"] == first.json()["number"]
    invoice = await load_invoice(container, invoice_id)
    assert invoice.amount_credited == 1000  # one unit, not two

    # Without a key the same request is a second credit note.
    again = await _credit_note(client, clerk.headers, invoice_id, key=None, lines=one_unit)
    assert again.status_code == 201, again.text
    assert again.json()["number"] != first.json()["number"]
    assert (await load_invoice(container, invoice_id)).amount_credited == 2000
