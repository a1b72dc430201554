"""End to end through `POST /orders` (P9): the fraud check decides what happens to the order,
keeps its reasons, and puts held orders in front of an analyst."""

from __future__ import annotations

import uuid

import httpx

from app.core.container import Container
from app.customers.service import customer_email_index
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, make_product, staff
from tests.fraud.helpers import FRAUD, IP_DE, IP_GB, checks_of_order, order_from, reason_codes
from tests.orders.helpers import stored_invoice, stored_order, stored_services


async def test_p9_disposable_email_with_mismatched_ip_country_is_held_for_review_with_both_reasons(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    email = f"x-{uuid.uuid4().hex[:8]}@mailinator.com"
    customer = await billing_customer(
        client,
        container,
        country="DE",
        email=email,
        email_index=customer_email_index(container.crypto, email),
    )
    analyst = await staff(client, container, StaffRole.FRAUD_ANALYST)
    product_id = await make_product(container)

    order = await order_from(client, customer, product_id, ip=IP_GB)

    assert order["status"] == "fraud_review"
    assert (await stored_order(container, order["id"])).status == "fraud_review"
    (check,) = [c for c in await checks_of_order(container, order["id"]) if c.kind == "fraud"]
    assert {"disposable_email", "ip_country_mismatch"} <= reason_codes(check)
    assert check.disposition == "review"
    # 40 + 25, plus whatever else a new account adds, stays below the reject threshold (80).
    assert 65 <= check.score < 80
    reasons = {reason["code"]: reason for reason in check.reasons}
    assert reasons["disposable_email"]["evidence"] == {"email_domain": "mailinator.com"}
    assert reasons["ip_country_mismatch"]["evidence"] == {
        "ip_country": "GB",
        "billing_country": "DE",
    }
    assert check.review_status == "pending"
    # The invoice stays open while an analyst decides.
    invoice, _ = await stored_invoice(container, order["invoice_id"])
    assert invoice.status != "void"

    queue = await client.get(f"{FRAUD}/reviews", headers=analyst.headers)
    assert queue.status_code == 200, queue.text
    (queued,) = [item for item in queue.json()["items"] if item["order_id"] == order["id"]]
    assert queued["id"] == str(check.id)
    assert {"disposable_email", "ip_country_mismatch"} <= {r["code"] for r in queued["reasons"]}


async def test_p9_same_customer_ordering_from_their_billing_country_is_not_held_for_the_ip(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_DE] = "DE"
    customer = await billing_customer(client, container, country="DE")
    product_id = await make_product(container)

    order = await order_from(client, customer, product_id, ip=IP_DE)

    assert order["status"] == "pending"
    (check,) = [c for c in await checks_of_order(container, order["id"]) if c.kind == "fraud"]
    assert check.disposition == "accept"
    assert "ip_country_mismatch" not in reason_codes(check)
    assert check.review_status is None


async def test_p9_blocklisted_ip_is_rejected_and_its_invoice_voided(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    analyst = await staff(client, container, StaffRole.FRAUD_ANALYST)
    blocked = await client.post(
        f"{FRAUD}/blocklist",
        json={"kind": "ip", "value": "81.2.69.0/24", "note": "card testing"},
        headers=analyst.headers,
    )
    assert blocked.status_code == 201, blocked.text
    # A customer who would otherwise pass: billing country and IP country agree.
    customer = await billing_customer(client, container, country="GB")
    product_id = await make_product(container)

    order = await order_from(client, customer, product_id, ip=IP_GB)

    assert order["status"] == "fraud"
    assert (await stored_order(container, order["id"])).status == "fraud"
    invoice, _ = await stored_invoice(container, order["invoice_id"])
    assert invoice.status == "void"
    assert [s.status for s in await stored_services(container, order["id"])] == ["cancelled"]
    (check,) = [c for c in await checks_of_order(container, order["id"]) if c.kind == "fraud"]
    assert check.disposition == "reject"
    assert check.score == 100
    (reason,) = [r for r in check.reasons if r["code"] == "blocklist_ip"]
    assert reason["evidence"] == {
        "entry_id": blocked.json()["id"],
        "kind": "ip",
        "cidr": "81.2.69.0/24",
    }
    assert check.review_status is None  # rejected outright: nothing waits for an analyst


async def test_p9_removing_the_blocklist_entry_lets_the_next_order_through(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    analyst = await staff(client, container, StaffRole.FRAUD_ANALYST)
    blocked = await client.post(
        f"{FRAUD}/blocklist", json={"kind": "ip", "value": IP_GB}, headers=analyst.headers
    )
    customer = await billing_customer(client, container, country="GB")
    product_id = await make_product(container)
    refused = await order_from(client, customer, product_id, ip=IP_GB)

    removed = await client.delete(
        f"{FRAUD}/blocklist/{blocked.json()['id']}", headers=analyst.headers
    )
    accepted = await order_from(client, customer, product_id, ip=IP_GB)

    assert removed.status_code == 204
    assert refused["status"] == "fraud"
    assert accepted["status"] == "pending"
