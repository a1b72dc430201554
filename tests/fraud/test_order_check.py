"""Every order gets a fraud check whose record is kept (P5, P9)."""

from __future__ import annotations

import json

import httpx

from app.core.container import Container
from tests.billing.helpers import billing_customer, make_product
from tests.fraud.helpers import IP_GB, checks_of_order, order_from, reason_codes


async def test_p5_every_order_keeps_its_validation_record(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    customer = await billing_customer(client, container, country="DE")
    product_id = await make_product(container)
    order = await order_from(client, customer, product_id, ip=IP_GB)

    (check,) = await checks_of_order(container, order["id"])
    assert check.kind == "fraud"
    assert check.subject == "order"
    assert check.customer_id == customer.customer_id
    assert 0 <= check.score <= 100
    assert check.disposition in {"accept", "review", "reject"}
    assert check.ip_country == "GB"
    assert check.billing_country == "DE"
    assert check.ruleset_version
    assert check.duration_us >= 0
    inputs = json.loads(check.inputs)
    assert inputs["ip"] == IP_GB
    assert inputs["amount"] == check.amount
    # The address is matched later through its blind index, never stored in clear beside it.
    assert check.ip_index is not None
    assert IP_GB not in check.ip_index
    assert isinstance(reason_codes(check), set)
