"""Shared helpers for the fraud tests: public test addresses, orders from an IP, stored checks."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.core.container import Container
from app.models.fraud import FraudCheck
from tests.billing.helpers import BillingCustomer
from tests.orders.helpers import ORDERS

API = "/api/v1"
FRAUD = f"{API}/fraud"
# Public (globally routable) addresses: documentation ranges like 203.0.113.0/24 are not
# public, so the location rules would abstain on them.
IP_GB = "81.2.69.160"
IP_DE = "85.214.132.117"
IP_NL = "145.220.10.1"
IP_US = "8.8.8.8"
IPV6_DE = "2a00:1450:4001:82a::200e"


def from_ip(customer: BillingCustomer, ip: str) -> dict[str, str]:
    """The customer's auth headers, sent as if from `ip` (the test client is a trusted proxy)."""
    return {**customer.headers, "X-Forwarded-For": ip}


async def order_from(
    client: httpx.AsyncClient,
    customer: BillingCustomer,
    product_id: uuid.UUID,
    *,
    ip: str,
    cycle: str = "monthly",
    expect: int = 201,
    **item: Any,
) -> dict[str, Any]:
    response = await client.post(
        ORDERS,
        json={"items": [{"product_id": str(product_id), "cycle": cycle, **item}]},
        headers=from_ip(customer, ip),
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def checks_of_order(container: Container, order_id: str | uuid.UUID) -> list[FraudCheck]:
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(
            select(FraudCheck)
            .where(FraudCheck.order_id == uuid.UUID(str(order_id)))
            .order_by(FraudCheck.id)
        )
        return list(rows.all())


def reason_codes(check: FraudCheck) -> set[str]:
    return {reason["code"] for reason in check.reasons}
