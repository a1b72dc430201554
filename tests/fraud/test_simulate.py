"""`POST /fraud/simulate`: a hypothetical order is scored with the live rules, nothing stored."""

from __future__ import annotations

import httpx

from app.core.container import Container
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, make_product, staff
from tests.fraud.helpers import FRAUD, IP_DE, IP_GB, order_from
from tests.fraud.staff_helpers import analyst, fraud_check_count, only_rule

SIMULATE = f"{FRAUD}/simulate"


async def test_simulate_scores_a_hypothetical_order_and_stores_nothing(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    customer = await billing_customer(client, container, country="DE")
    await order_from(client, customer, await make_product(container), ip=IP_DE)
    await only_rule(container, "disposable_email", weight=55)
    tuner = await analyst(client, container)
    stored = await fraud_check_count(container)

    response = await client.post(
        SIMULATE,
        json={
            "ip": IP_GB,
            "email": "someone@mailinator.com",
            "phone": "+4930123456",
            "billing_country": "DE",
            "user_agent": "Mozilla/5.0",
            "amount": 2500,
            "currency": "EUR",
            "payment_country": "DE",
            "payment_fingerprint": "fp_123",
            "customer_id": str(customer.customer_id),
            "account_created_at": "2026-01-01T00:00:00Z",
        },
        headers=tuner.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["score"] == 55
    assert body["disposition"] == "review"
    assert body["risk_level"] == "medium"
    assert [reason["code"] for reason in body["reasons"]] == ["disposable_email"]
    assert body["reasons"][0]["evidence"] == {"email_domain": "mailinator.com"}
    assert body["ip_country"] == "GB"
    assert body["email_domain"] == "mailinator.com"
    assert body["phone_country"] == "DE"
    rules = (await client.get(f"{FRAUD}/rules", headers=tuner.headers)).json()
    assert body["ruleset_version"] == rules["ruleset_version"]
    assert await fraud_check_count(container) == stored


async def test_simulate_with_nothing_known_accepts(
    client: httpx.AsyncClient, container: Container
) -> None:
    tuner = await analyst(client, container)
    response = await client.post(SIMULATE, json={}, headers=tuner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["disposition"] == "accept"
    assert response.json()["score"] == 0
    assert await fraud_check_count(container) == 0


async def test_simulate_rejects_malformed_fields(
    client: httpx.AsyncClient, container: Container
) -> None:
    tuner = await analyst(client, container)
    for body, field in (
        ({"billing_country": "Germany"}, "body.billing_country"),
        ({"currency": "EURO"}, "body.currency"),
        ({"amount": -1}, "body.amount"),
        ({"account_created_at": "2026-01-01T00:00:00"}, "body.account_created_at"),
        ({"colour": "red"}, "body.colour"),
    ):
        response = await client.post(SIMULATE, json=body, headers=tuner.headers)
        assert response.status_code == 422, (body, response.text)
        assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_simulate_needs_fraud_read(client: httpx.AsyncClient, container: Container) -> None:
    customer = await billing_customer(client, container)
    support = await staff(client, container, StaffRole.SUPPORT)
    for headers in (customer.headers, support.headers):
        response = await client.post(SIMULATE, json={}, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_scope"
