"""POST /invoices/add-funds: a prepayment invoice, untaxed and issued at once; paying it adds
its amount to the customer's credit balance."""

from __future__ import annotations

import uuid

import httpx

from app.billing.ledger import CreditLedger
from app.billing.service import InvoiceService
from app.core.container import Container
from app.models.customer import Customer, CustomerStatus
from app.models.user import StaffRole
from tests.billing.helpers import API, billing_customer, issued_invoice, make_tax_rate, staff
from tests.users.helpers import problem_code

ADD_FUNDS = f"{API}/invoices/add-funds"


async def pay(container: Container, invoice_id: str) -> None:
    """Settle the whole invoice, as a recorded payment would."""
    async with container.database.unit_of_work() as session:
        service = InvoiceService(session=session, container=container)
        _, invoice = await service.lock_for_payment(uuid.UUID(invoice_id))
        await service.settle(invoice, amount=invoice.amount_due)


async def balance(container: Container, customer_id: uuid.UUID, currency: str = "EUR") -> int:
    async with container.database.unit_of_work() as session:
        return await CreditLedger(session).balance(customer_id=customer_id, currency=currency)


async def test_customer_adds_funds_untaxed_and_issued_at_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="DE", rate_bp=1900)
    customer = await billing_customer(client, container)
    response = await client.post(ADD_FUNDS, json={"amount": 5000}, headers=customer.headers)
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert invoice["kind"] == "add_funds"
    assert invoice["status"] == "open"
    assert invoice["number"] == "INV-2026-000001"
    assert invoice["customer_id"] == str(customer.customer_id)
    assert invoice["currency"] == "EUR"
    # A prepayment: no tax, although the customer's country has a 19 % rate.
    assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == (5000, 0, 5000)
    assert invoice["amount_due"] == 5000
    [line] = invoice["lines"]
    assert (line["description"], line["quantity"], line["unit_amount"]) == ("Add funds", 1, 5000)
    assert (line["tax_rate_bp"], line["tax_amount"]) == (0, 0)
    assert invoice["buyer"]["last_name"] == "Lovelace"

    assert await balance(container, customer.customer_id) == 0
    await pay(container, invoice["id"])
    assert await balance(container, customer.customer_id) == 5000
    paid = await client.get(f"{API}/invoices/{invoice['id']}", headers=customer.headers)
    assert (paid.json()["status"], paid.json()["amount_due"]) == ("paid", 0)


async def test_credit_never_pays_an_add_funds_invoice(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    first = await client.post(ADD_FUNDS, json={"amount": 5000}, headers=customer.headers)
    await pay(container, first.json()["id"])
    # Auto-apply on issue leaves a second add-funds invoice alone …
    second = await client.post(ADD_FUNDS, json={"amount": 1000}, headers=customer.headers)
    assert (second.json()["status"], second.json()["amount_paid"]) == ("open", 0)
    # … and applying credit to it by hand is refused.
    response = await client.post(
        f"{API}/invoices/{second.json()['id']}/apply-credit", headers=customer.headers
    )
    assert response.status_code == 409
    assert problem_code(response) == "credit_not_applicable"
    assert await balance(container, customer.customer_id) == 5000


async def test_added_funds_pay_the_next_invoice_on_issue(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    funds = await client.post(ADD_FUNDS, json={"amount": 1500}, headers=customer.headers)
    await pay(container, funds.json()["id"])
    invoice = await issued_invoice(client, billing, customer.customer_id)
    assert (invoice["status"], invoice["amount_paid"]) == ("paid", 1000)
    assert await balance(container, customer.customer_id) == 500


async def test_amount_must_be_within_the_configured_limits(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    limits = container.settings.billing
    for amount in (limits.add_funds_min - 1, limits.add_funds_max + 1, 0, -5):
        response = await client.post(ADD_FUNDS, json={"amount": amount}, headers=customer.headers)
        assert response.status_code == 422, amount
        assert [error["field"] for error in response.json()["errors"]] == ["body.amount"]
    for amount in ("5000", 50.5):
        response = await client.post(ADD_FUNDS, json={"amount": amount}, headers=customer.headers)
        assert response.status_code == 422
        assert [error["field"] for error in response.json()["errors"]] == ["body.amount"]
    for amount in (limits.add_funds_min, limits.add_funds_max):
        response = await client.post(ADD_FUNDS, json={"amount": amount}, headers=customer.headers)
        assert response.status_code == 201, response.text
    listed = await client.get(f"{API}/invoices", headers=customer.headers)
    assert len(listed.json()["items"]) == 2  # the refused requests left nothing behind


async def test_currency_defaults_to_the_customers_and_can_be_chosen(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container, currency="CHF")
    default = await client.post(ADD_FUNDS, json={"amount": 1000}, headers=customer.headers)
    assert default.json()["currency"] == "CHF"
    chosen = await client.post(
        ADD_FUNDS, json={"amount": 1000, "currency": "usd"}, headers=customer.headers
    )
    assert chosen.json()["currency"] == "USD"
    await pay(container, chosen.json()["id"])
    assert await balance(container, customer.customer_id, "USD") == 1000
    assert await balance(container, customer.customer_id, "CHF") == 0
    unknown = await client.post(
        ADD_FUNDS, json={"amount": 1000, "currency": "XYZ"}, headers=customer.headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.currency"


async def test_staff_add_funds_for_a_named_customer(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    response = await client.post(
        ADD_FUNDS,
        json={"amount": 2500, "customer_id": str(customer.customer_id)},
        headers=billing.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["customer_id"] == str(customer.customer_id)
    assert response.json()["kind"] == "add_funds"

    unnamed = await client.post(ADD_FUNDS, json={"amount": 2500}, headers=billing.headers)
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["field"] == "body.customer_id"
    unknown = await client.post(
        ADD_FUNDS, json={"amount": 2500, "customer_id": str(uuid.uuid4())}, headers=billing.headers
    )
    assert unknown.status_code == 404
    support = await staff(client, container, StaffRole.SUPPORT)
    refused = await client.post(
        ADD_FUNDS,
        json={"amount": 2500, "customer_id": str(customer.customer_id)},
        headers=support.headers,
    )
    assert refused.status_code == 403


async def test_customers_add_funds_only_for_themselves(
    client: httpx.AsyncClient, container: Container
) -> None:
    alice = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    refused = await client.post(
        ADD_FUNDS, json={"amount": 1000, "customer_id": str(bob.customer_id)}, headers=alice.headers
    )
    assert refused.status_code == 403
    own = await client.post(
        ADD_FUNDS,
        json={"amount": 1000, "customer_id": str(alice.customer_id)},
        headers=alice.headers,
    )
    assert own.status_code == 201
    listed = await client.get(f"{API}/invoices", headers=bob.headers)
    assert listed.json()["items"] == []


async def test_closed_customer_cannot_add_funds(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    billing = await staff(client, container)
    async with container.database.unit_of_work() as session:
        record = await session.get(Customer, customer.customer_id)
        assert record is not None
        record.status = CustomerStatus.CLOSED.value
    response = await client.post(
        ADD_FUNDS,
        json={"amount": 1000, "customer_id": str(customer.customer_id)},
        headers=billing.headers,
    )
    assert response.status_code == 409
    assert problem_code(response) == "customer_not_billable"
