"""History rules: the amount against the customer's past, a first large order, a young account,
and links to earlier fraud, chargebacks and write-offs. Each fires in one test and stays quiet
in another."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.customer import Customer
from app.models.fraud import FraudCheck, OutcomeLabel
from app.models.invoice import Invoice, InvoiceStatus
from app.models.order import Order, OrderStatus
from app.models.payment import Dispute
from tests.billing.helpers import billing_customer, make_product
from tests.fraud.helpers import IP_GB, IP_NL, checks_of_order, order_from, reason_codes
from tests.fraud.rule_helpers import add_orders, evaluate, inputs_for

PHONE = "+4930901820"

# --- amount above history -------------------------------------------------------------------


async def test_amount_above_history_fires_far_above_the_largest_earlier_order(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    customer = await billing_customer(client, container)
    earlier = clock.now() - timedelta(days=40)
    await add_orders(container, customer.customer_id, count=1, total=1000, at=earlier)
    await add_orders(container, customer.customer_id, count=1, total=1200, at=earlier)

    inputs = await inputs_for(container, customer.customer_id, ip=None, amount=6001)
    hit = await evaluate(container, "amount_above_history", inputs)

    assert hit is not None
    assert hit.evidence == {
        "amount": 6001,
        "currency": "EUR",
        "largest_earlier": 1200,
        "earlier_orders": 2,
        "factor": 5,
    }


async def test_amount_above_history_stays_quiet_within_the_factor_and_without_history(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    customer = await billing_customer(client, container)
    earlier = clock.now() - timedelta(days=40)
    await add_orders(container, customer.customer_id, count=1, total=1000, at=earlier)

    # One earlier order is no baseline (min_orders 2).
    one = await inputs_for(container, customer.customer_id, ip=None, amount=100_000)
    assert await evaluate(container, "amount_above_history", one) is None

    # Refused orders and other currencies are not history either.
    await add_orders(
        container, customer.customer_id, count=3, total=10, at=earlier, status=OrderStatus.FRAUD
    )
    await add_orders(container, customer.customer_id, count=3, total=10, at=earlier, currency="USD")
    assert await evaluate(container, "amount_above_history", one) is None

    await add_orders(container, customer.customer_id, count=1, total=1000, at=earlier)
    exactly = await inputs_for(container, customer.customer_id, ip=None, amount=5000)
    assert await evaluate(container, "amount_above_history", exactly) is None
    above = await inputs_for(container, customer.customer_id, ip=None, amount=5001)
    assert await evaluate(container, "amount_above_history", above) is not None


# --- first order amount ---------------------------------------------------------------------


async def test_first_order_amount_fires_on_a_large_first_order_through_the_api(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    product_id = await make_product(container, prices={("monthly", "EUR"): (60_000, 0)})

    order = await order_from(client, customer, product_id, ip="127.0.0.1")

    (check,) = await checks_of_order(container, order["id"])
    (reason,) = [r for r in check.reasons if r["code"] == "first_order_amount"]
    assert reason["contribution"] == 20
    assert reason["evidence"]["threshold"] == 50_000
    assert reason["evidence"]["amount"] == order["total"] >= 60_000


async def test_first_order_amount_stays_quiet_on_a_second_order_and_below_the_threshold(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    small = await make_product(container)
    large = await make_product(container, prices={("monthly", "EUR"): (60_000, 0)})

    first = await order_from(client, customer, small, ip="127.0.0.1")
    second = await order_from(client, customer, large, ip="127.0.0.1")

    (first_check,) = await checks_of_order(container, first["id"])
    (second_check,) = await checks_of_order(container, second["id"])
    assert "first_order_amount" not in reason_codes(first_check)
    assert "first_order_amount" not in reason_codes(second_check)


# --- new account ----------------------------------------------------------------------------


async def test_new_account_fires_on_an_order_from_a_fresh_account(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    product_id = await make_product(container)

    order = await order_from(client, customer, product_id, ip="127.0.0.1")

    (check,) = await checks_of_order(container, order["id"])
    (reason,) = [r for r in check.reasons if r["code"] == "new_account"]
    assert reason["contribution"] == 10
    assert reason["evidence"] == {"account_age_hours": 0.0, "min_age_hours": 24}
    assert order["status"] == "pending"  # alone it is far below review


async def test_new_account_stays_quiet_once_the_account_is_a_day_old(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    customer = await billing_customer(client, container)
    clock.advance(hours=23, minutes=59)
    young = await inputs_for(container, customer.customer_id, ip=None)
    assert await evaluate(container, "new_account", young) is not None
    clock.advance(minutes=1)
    day_old = await inputs_for(container, customer.customer_id, ip=None)
    assert await evaluate(container, "new_account", day_old) is None
    assert await evaluate(container, "new_account", day_old, min_age_hours=48) is not None


# --- linked to fraud ------------------------------------------------------------------------


async def _write_off_invoice(container: Container, invoice_id: str) -> None:
    async with container.database.unit_of_work() as session:
        invoice = await session.get(Invoice, uuid.UUID(invoice_id))
        assert invoice is not None
        invoice.status = InvoiceStatus.UNCOLLECTIBLE.value
        invoice.written_off_at = container.clock.now()


async def test_linked_to_fraud_fires_on_an_ip_shared_with_a_written_off_customer(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    bad = await billing_customer(client, container, country="GB")
    buyer = await billing_customer(client, container, country="GB")
    product_id = await make_product(container)
    bad_order = await order_from(client, bad, product_id, ip=IP_GB)
    (bad_check,) = await checks_of_order(container, bad_order["id"])
    await _write_off_invoice(container, bad_order["invoice_id"])

    order = await order_from(client, buyer, product_id, ip=IP_GB)

    (check,) = await checks_of_order(container, order["id"])
    (reason,) = [r for r in check.reasons if r["code"] == "linked_to_fraud"]
    assert reason["contribution"] == 60
    assert reason["evidence"]["links"] == [
        {"via": "ip", "check_id": str(bad_check.id), "why": "write_off"}
    ]
    assert order["status"] == "fraud_review"
    # Evidence names checks, never the shared address or the other customer.
    stored = json.dumps(check.reasons)
    assert IP_GB not in stored
    assert str(bad.customer_id) not in stored


async def _make_bad(container: Container, why: str, bad_check: FraudCheck) -> None:
    async with container.database.unit_of_work() as session:
        if why == "fraud_label":
            await session.execute(
                update(FraudCheck)
                .where(FraudCheck.id == bad_check.id)
                .values(label=OutcomeLabel.CHARGEBACK.value)
            )
        elif why == "fraud_order":
            await session.execute(
                update(Order)
                .where(Order.id == bad_check.order_id)
                .values(status=OrderStatus.FRAUD.value)
            )
        else:
            invoice = (
                await session.scalars(select(Invoice).where(Invoice.order_id == bad_check.order_id))
            ).one()
            assert bad_check.customer_id is not None
            session.add(
                Dispute(
                    customer_id=bad_check.customer_id,
                    invoice_id=invoice.id,
                    status="open",
                    is_chargeback=True,
                    reason="Card holder disputes the charge",
                    opened_at=container.clock.now(),
                )
            )


async def _set_phone(container: Container, *customer_ids: uuid.UUID) -> None:
    async with container.database.unit_of_work() as session:
        for customer_id in customer_ids:
            customer = await session.get(Customer, customer_id)
            assert customer is not None
            customer.phone = PHONE


@pytest.mark.parametrize("why", ["fraud_label", "fraud_order", "chargeback"])
async def test_linked_to_fraud_fires_on_a_phone_shared_with_earlier_fraud(
    client: httpx.AsyncClient, container: Container, why: str
) -> None:
    bad = await billing_customer(client, container)
    buyer = await billing_customer(client, container)
    await _set_phone(container, bad.customer_id, buyer.customer_id)
    product_id = await make_product(container)
    bad_order = await order_from(client, bad, product_id, ip="127.0.0.1")
    (bad_check,) = await checks_of_order(container, bad_order["id"])
    await _make_bad(container, why, bad_check)

    inputs = await inputs_for(container, buyer.customer_id, ip="127.0.0.1")
    hit = await evaluate(container, "linked_to_fraud", inputs)

    assert hit is not None
    assert hit.evidence["links"] == [{"via": "phone", "check_id": str(bad_check.id), "why": why}]
    assert PHONE not in json.dumps(hit.evidence) + hit.message


async def test_linked_to_fraud_stays_quiet_for_the_own_account_private_ips_and_good_customers(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table.update({IP_GB: "GB", IP_NL: "NL"})
    bad = await billing_customer(client, container, country="GB")
    good = await billing_customer(client, container, country="GB")
    buyer = await billing_customer(client, container, country="GB")
    product_id = await make_product(container)
    bad_public = await order_from(client, bad, product_id, ip=IP_GB)
    await order_from(client, bad, product_id, ip="127.0.0.1")
    await order_from(client, good, product_id, ip=IP_NL)
    await _write_off_invoice(container, bad_public["invoice_id"])

    # The written-off customer's own next order: their own history is not a link.
    own = await order_from(client, bad, product_id, ip=IP_GB)
    (own_check,) = await checks_of_order(container, own["id"])
    assert "linked_to_fraud" not in reason_codes(own_check)

    # Another customer on the loopback address the bad customer also used: no IP link.
    local = await order_from(client, buyer, product_id, ip="127.0.0.1")
    (local_check,) = await checks_of_order(container, local["id"])
    assert "linked_to_fraud" not in reason_codes(local_check)

    # Sharing an address with a customer in good standing is no link either.
    shared = await inputs_for(container, buyer.customer_id, ip=IP_NL)
    assert shared.ip_is_public
    assert await evaluate(container, "linked_to_fraud", shared) is None
