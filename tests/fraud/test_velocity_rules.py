"""Velocity rules: orders per IP, email and customer in 1 h and 24 h; registrations per IP in
24 h; failed sign-ins on the account. Each fires in one test and stays quiet in another."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx

from app.core.clock import FrozenClock
from app.core.container import Container
from app.security_events.service import EventType
from tests.billing.helpers import billing_customer, make_product
from tests.fraud.helpers import IP_DE, IP_GB, IP_NL, checks_of_order, order_from, reason_codes
from tests.fraud.rule_helpers import add_events, add_orders, evaluate, inputs_for, user_of

API = "/api/v1"


# --- orders per IP ----------------------------------------------------------------------------


async def test_orders_per_ip_fires_when_a_fifth_order_comes_from_one_ip_within_the_hour(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    first = await billing_customer(client, container, country="GB")
    second = await billing_customer(client, container, country="GB")
    product_id = await make_product(container)
    for _ in range(4):
        order = await order_from(client, first, product_id, ip=IP_GB)
    # Four earlier orders from the address: within the default limit of 3 per hour only
    # until the fourth, so the fourth order itself is still quiet on the IP.
    (fourth_check,) = await checks_of_order(container, order["id"])
    assert "orders_per_ip" not in reason_codes(fourth_check)

    order = await order_from(client, second, product_id, ip=IP_GB)

    (check,) = await checks_of_order(container, order["id"])
    (reason,) = [r for r in check.reasons if r["code"] == "orders_per_ip"]
    assert reason["contribution"] == 25
    assert reason["evidence"]["orders_1h"] == 4
    assert reason["evidence"]["exceeded"] == ["1h"]
    assert IP_GB not in str(check.reasons)


async def test_orders_per_ip_fires_on_the_24_hour_window(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    country_table: dict[str, str],
) -> None:
    country_table[IP_NL] = "NL"
    customer = await billing_customer(client, container, country="NL")
    now = clock.now()
    await add_orders(
        container, customer.customer_id, count=11, ip=IP_NL, at=now - timedelta(hours=5)
    )

    hit = await evaluate(
        container, "orders_per_ip", await inputs_for(container, customer.customer_id, ip=IP_NL)
    )

    assert hit is not None
    assert hit.evidence["orders_1h"] == 0
    assert hit.evidence["orders_24h"] == 11
    assert hit.evidence["exceeded"] == ["24h"]


async def test_orders_per_ip_stays_quiet_within_limits_outside_the_window_and_on_private_ips(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    country_table: dict[str, str],
) -> None:
    country_table[IP_NL] = "NL"
    customer = await billing_customer(client, container, country="NL")
    now = clock.now()
    await add_orders(
        container, customer.customer_id, count=3, ip=IP_NL, at=now - timedelta(minutes=10)
    )
    await add_orders(
        container, customer.customer_id, count=7, ip=IP_NL, at=now - timedelta(hours=23)
    )
    await add_orders(
        container, customer.customer_id, count=20, ip=IP_NL, at=now - timedelta(hours=25)
    )
    # Orders after the moment checked (a replay of an older check) do not count either.
    await add_orders(
        container, customer.customer_id, count=5, ip=IP_NL, at=now + timedelta(minutes=1)
    )
    await add_orders(container, customer.customer_id, count=20, ip="127.0.0.1", at=now)

    inputs = await inputs_for(container, customer.customer_id, ip=IP_NL)
    assert await evaluate(container, "orders_per_ip", inputs) is None
    local = await inputs_for(container, customer.customer_id, ip="127.0.0.1")
    assert not local.ip_is_public
    assert await evaluate(container, "orders_per_ip", local) is None


async def test_orders_per_ip_does_not_count_the_order_being_checked(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    country_table: dict[str, str],
) -> None:
    country_table[IP_NL] = "NL"
    customer = await billing_customer(client, container, country="NL")
    ids = await add_orders(container, customer.customer_id, count=4, ip=IP_NL, at=clock.now())
    inputs = await inputs_for(container, customer.customer_id, ip=IP_NL, order_id=ids[-1])
    assert await evaluate(container, "orders_per_ip", inputs) is None
    inputs = await inputs_for(container, customer.customer_id, ip=IP_NL)
    assert await evaluate(container, "orders_per_ip", inputs) is not None


# --- orders per email and per customer ------------------------------------------------------


async def test_orders_per_email_fires_on_orders_under_the_email_by_another_customer_record(
    client: httpx.AsyncClient, container: Container
) -> None:
    earlier = await billing_customer(client, container)
    product_id = await make_product(container)
    for _ in range(4):
        await order_from(client, earlier, product_id, ip="127.0.0.1")
    earlier_inputs = await inputs_for(container, earlier.customer_id, ip=None)
    # Another customer record now orders under the email those orders were placed with.
    customer = await billing_customer(client, container)
    inputs = dataclasses.replace(
        await inputs_for(container, customer.customer_id, ip=None),
        email_index=earlier_inputs.email_index,
    )

    hit = await evaluate(container, "orders_per_email", inputs)

    assert hit is not None
    assert (hit.evidence["orders_1h"], hit.evidence["orders_24h"]) == (4, 4)


async def test_orders_per_email_stays_quiet_on_the_customers_own_orders(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    product_id = await make_product(container)
    for _ in range(5):
        await order_from(client, customer, product_id, ip="127.0.0.1")
    inputs = await inputs_for(container, customer.customer_id, ip=None)
    assert inputs.email_index is not None
    # Counted by orders_per_customer instead: one order never counts twice.
    assert await evaluate(container, "orders_per_email", inputs) is None
    assert await evaluate(container, "orders_per_customer", inputs) is not None


async def test_orders_per_customer_fires_through_the_api_on_the_fifth_order_in_an_hour(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    customer = await billing_customer(client, container)
    product_id = await make_product(container)
    for _ in range(4):
        await order_from(client, customer, product_id, ip="127.0.0.1")
        clock.advance(minutes=1)

    order = await order_from(client, customer, product_id, ip="127.0.0.1")

    (check,) = await checks_of_order(container, order["id"])
    codes = reason_codes(check)
    assert "orders_per_customer" in codes
    assert "orders_per_email" not in codes  # the customer's own orders: counted once
    assert "orders_per_ip" not in codes  # a loopback address: the IP rule abstains
    (reason,) = [r for r in check.reasons if r["code"] == "orders_per_customer"]
    assert reason["evidence"]["orders_1h"] == 4


async def test_orders_per_customer_stays_quiet_once_the_orders_are_a_day_old(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    customer = await billing_customer(client, container)
    await add_orders(container, customer.customer_id, count=30, at=clock.now())
    clock.advance(hours=24, seconds=1)
    inputs = await inputs_for(container, customer.customer_id, ip=None)
    assert await evaluate(container, "orders_per_customer", inputs) is None
    assert await evaluate(container, "orders_per_customer", inputs, max_24h=50) is None
    clock.advance(hours=-2)
    inputs = await inputs_for(container, customer.customer_id, ip=None)
    assert await evaluate(container, "orders_per_customer", inputs) is not None


# --- registrations per IP -------------------------------------------------------------------


async def _register_from(client: httpx.AsyncClient, ip: str, index: int) -> None:
    response = await client.post(
        f"{API}/auth/register",
        json={
            "email": f"velocity-{index}-{ip.replace('.', '-')}@example.com",
            "password": "correct horse battery staple 42",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "country": "DE",
        },
        headers={"X-Forwarded-For": ip},
    )
    assert response.status_code == 201, response.text


async def test_registrations_per_ip_fires_after_four_other_accounts_from_the_ip(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_DE] = "DE"
    for index in range(4):
        await _register_from(client, IP_DE, index)
    customer = await billing_customer(client, container, country="DE")
    product_id = await make_product(container)

    order = await order_from(client, customer, product_id, ip=IP_DE)

    (check,) = await checks_of_order(container, order["id"])
    (reason,) = [r for r in check.reasons if r["code"] == "registrations_per_ip"]
    assert reason["evidence"] == {"registrations_24h": 4, "max_24h": 3}


async def test_registrations_per_ip_stays_quiet_at_the_limit_without_counting_the_own_account(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    country_table: dict[str, str],
) -> None:
    country_table[IP_DE] = "DE"
    customer = await billing_customer(client, container, country="DE")
    user_id = await user_of(container, customer.customer_id)
    now = clock.now()
    # Three other accounts, the customer's own registration, and old ones: 3 <= 3.
    await add_events(container, event_type=EventType.REGISTERED.value, count=3, ip=IP_DE, at=now)
    await add_events(
        container, event_type=EventType.REGISTERED.value, count=1, ip=IP_DE, at=now, user_id=user_id
    )
    await add_events(
        container,
        event_type=EventType.REGISTERED.value,
        count=10,
        ip=IP_DE,
        at=now - timedelta(hours=25),
    )
    await add_events(container, event_type=EventType.LOGIN_FAILED.value, count=10, ip=IP_DE, at=now)
    await add_events(
        container, event_type=EventType.REGISTERED.value, count=10, ip="10.0.0.7", at=now
    )

    inputs = await inputs_for(container, customer.customer_id, ip=IP_DE)
    assert await evaluate(container, "registrations_per_ip", inputs) is None
    private = await inputs_for(container, customer.customer_id, ip="10.0.0.7")
    assert await evaluate(container, "registrations_per_ip", private) is None
    # One more other account tips it over.
    await add_events(container, event_type=EventType.REGISTERED.value, count=1, ip=IP_DE, at=now)
    assert await evaluate(container, "registrations_per_ip", inputs) is not None


# --- failed sign-ins ------------------------------------------------------------------------


async def test_failed_logins_fires_after_six_failed_sign_ins_through_the_api(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    customer = await billing_customer(client, container)
    for attempt in range(6):
        if attempt == 5:
            clock.advance(seconds=31)  # the soft lockout after five failures has passed
        response = await client.post(
            f"{API}/auth/login",
            json={"email": customer.signed_in.account.email, "password": "not the password 1"},
        )
        assert response.status_code == 401, response.text

    inputs = await inputs_for(container, customer.customer_id, ip=None)
    hit = await evaluate(container, "failed_logins", inputs)

    assert hit is not None
    assert hit.evidence == {"failed_logins_24h": 6, "max_24h": 5}


async def test_failed_logins_stays_quiet_at_the_limit_for_other_accounts_and_old_failures(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    customer = await billing_customer(client, container)
    other = await billing_customer(client, container)
    user_id = await user_of(container, customer.customer_id)
    other_user_id = await user_of(container, other.customer_id)
    now = clock.now()
    failed = EventType.LOGIN_FAILED.value
    await add_events(container, event_type=failed, count=5, at=now, user_id=user_id)
    await add_events(
        container, event_type=failed, count=9, at=now - timedelta(hours=25), user_id=user_id
    )
    await add_events(container, event_type=failed, count=9, at=now, user_id=other_user_id)

    inputs = await inputs_for(container, customer.customer_id, ip=None)
    assert await evaluate(container, "failed_logins", inputs) is None
    await add_events(container, event_type=failed, count=1, at=now, user_id=user_id)
    assert await evaluate(container, "failed_logins", inputs) is not None
