"""Orders end to end: placement priced on the server (tax per line, numbers, services), who may
order, the check registry, activation by payment, fraud review, cancellation, visibility and
the constant statement count of the listing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from app.audit.service import Actor
from app.billing.access import BillingViewer
from app.billing.service import InvoiceService
from app.core.container import Container
from app.models.audit import AuditEntry
from app.models.customer import Customer, CustomerStatus, IdentityStatus
from app.models.order import Order
from app.models.user import StaffRole
from app.orders.checks import (
    ORDER_CHECKS,
    CheckOutcome,
    Disposition,
    OrderCheck,
    OrderCheckContext,
    register_order_check,
    strictest,
)
from app.orders.service import OrderService
from tests.billing.helpers import billing_customer, make_product, make_tax_rate, staff
from tests.orders.helpers import (
    ORDERS,
    pay,
    place_order,
    stored_invoice,
    stored_order,
    stored_services,
)
from tests.users.helpers import count_statements, problem_code

SYSTEM = Actor.system()


@pytest.fixture
def order_checks() -> Iterator[list[OrderCheck]]:
    """The check registry, restored after the test."""
    saved = list(ORDER_CHECKS)
    yield ORDER_CHECKS
    ORDER_CHECKS[:] = saved


async def _audit_actions(container: Container, entity_id: str) -> list[str]:
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_id == uuid.UUID(entity_id))
            .order_by(AuditEntry.id)
        )
        return list(rows.all())


# --------------------------------------------------------------------------- placing


async def test_verified_customer_places_an_order_priced_and_taxed_on_the_server(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="DE", rate_bp=1900)
    product = await make_product(container, prices={("monthly", "EUR"): (1250, 350)})
    customer = await billing_customer(client, container, country="DE")

    response = await client.post(
        ORDERS,
        json={
            "items": [
                {
                    "product_id": str(product),
                    "cycle": "monthly",
                    "description": "example.com",
                    # a client amount is not part of the contract: refused, never trusted
                }
            ]
        },
        headers={**customer.headers, "User-Agent": "order-test/1.0"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["number"] == "ORD-2026-000001"
    assert body["status"] == "pending"
    assert body["currency"] == "EUR"
    # 1250 + 19 % (237.5 → 238, half-up) + setup 350 + 19 % (66.5 → 67)
    assert body["total"] == 1250 + 238 + 350 + 67
    [item] = body["items"]
    assert item["unit_amount"] == 1250
    assert item["setup_fee"] == 350
    assert item["description"] == "example.com"
    invoice, lines = await stored_invoice(container, body["invoice_id"])
    assert invoice.number == "INV-2026-000001"
    assert invoice.status == "open"
    assert invoice.kind == "order"
    assert invoice.total == body["total"]
    assert invoice.tax_total == 238 + 67
    first, setup = lines
    assert first.description == "Web Starter (monthly) - example.com"
    assert (first.quantity, first.unit_amount, first.net_amount, first.tax_amount) == (
        1,
        1250,
        1250,
        238,
    )
    assert first.service_id == uuid.UUID(item["service_id"])
    assert (first.period_start, first.period_end) == (date(2026, 1, 15), date(2026, 2, 14))
    assert setup.description == "Setup fee: Web Starter"
    assert (setup.net_amount, setup.tax_amount, setup.service_id) == (350, 67, None)
    [service] = await stored_services(container, body["id"])
    assert service.status == "pending"
    assert service.next_due_date is None
    assert (service.recurring_amount, service.currency, service.cycle) == (1250, "EUR", "monthly")
    assert service.description == "example.com"
    order = await stored_order(container, body["id"])
    assert order.client_ip == "127.0.0.1"
    assert order.user_agent == "order-test/1.0"
    assert str(order.placed_by_id) == customer.signed_in.user_id
    assert "placed" in await _audit_actions(container, body["id"])


async def test_client_amounts_are_refused(client: httpx.AsyncClient, container: Container) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    response = await client.post(
        ORDERS,
        json={"items": [{"product_id": str(product), "cycle": "monthly", "unit_amount": 1}]},
        headers=customer.headers,
    )
    assert response.status_code == 422
    assert problem_code(response) == "validation_failed"


async def test_quantity_multiplies_the_period_and_the_setup_fee(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(
        container, prices={("annual", "USD"): (10_000, 500), ("one_time", "USD"): (700, 0)}
    )
    customer = await billing_customer(client, container, country="US", currency="USD")
    response = await client.post(
        ORDERS,
        json={
            "items": [
                {"product_id": str(product), "cycle": "annual", "quantity": 3},
                {"product_id": str(product), "cycle": "one_time"},
            ]
        },
        headers=customer.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["currency"] == "USD"  # the customer's preferred currency
    assert body["total"] == 3 * 10_000 + 3 * 500 + 700
    _, lines = await stored_invoice(container, body["invoice_id"])
    assert [(line.description, line.quantity, line.net_amount) for line in lines] == [
        ("Web Starter (annual)", 3, 30_000),
        ("Setup fee: Web Starter", 3, 1_500),
        ("Web Starter (one_time)", 1, 700),
    ]
    assert lines[0].period_end == date(2027, 1, 14)
    assert lines[2].period_start is None
    assert lines[2].period_end is None


async def test_unverified_customer_cannot_order(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container, identity=IdentityStatus.UNVERIFIED)
    response = await client.post(
        ORDERS,
        json={"items": [{"product_id": str(product), "cycle": "monthly"}]},
        headers=customer.headers,
    )
    assert response.status_code == 403
    assert problem_code(response) == "customer_not_verified"


async def test_suspended_customer_cannot_order(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(
        client, container, identity=IdentityStatus.VERIFIED, status=CustomerStatus.SUSPENDED.value
    )
    response = await client.post(
        ORDERS,
        json={"items": [{"product_id": str(product), "cycle": "monthly"}]},
        headers=customer.headers,
    )
    assert response.status_code == 409
    assert problem_code(response) == "customer_not_orderable"


async def test_unpriceable_items_are_422_naming_each_item(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)  # monthly EUR only
    customer = await billing_customer(client, container)
    response = await client.post(
        ORDERS,
        json={
            "items": [
                {"product_id": str(product), "cycle": "monthly"},
                {"product_id": str(uuid.uuid4()), "cycle": "monthly"},
                {"product_id": str(product), "cycle": "annual"},
            ]
        },
        headers=customer.headers,
    )
    assert response.status_code == 422
    assert problem_code(response) == "price_unavailable"
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == ["body.items.1.product_id", "body.items.2.product_id"]
    async with container.database.unit_of_work() as session:
        assert (await session.scalars(select(Order))).first() is None


async def test_price_in_another_currency_is_unavailable(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)  # EUR only
    customer = await billing_customer(client, container)
    response = await client.post(
        ORDERS,
        json={"items": [{"product_id": str(product), "cycle": "monthly"}], "currency": "GBP"},
        headers=customer.headers,
    )
    assert response.status_code == 422
    assert problem_code(response) == "price_unavailable"


async def test_order_body_limits(client: httpx.AsyncClient, container: Container) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    item = {"product_id": str(product), "cycle": "monthly"}
    for body in (
        {"items": []},
        {"items": [item] * 21},
        {"items": [{**item, "quantity": 101}]},
        {"items": [{**item, "quantity": 0}]},
        {"items": [{**item, "description": "a\x00b"}]},
        {"items": [{**item, "description": "x" * 201}]},
        {"items": [{**item, "cycle": "weekly"}]},
        {"items": [item], "currency": "XXY"},
    ):
        response = await client.post(ORDERS, json=body, headers=customer.headers)
        assert response.status_code == 422, body
        assert problem_code(response) == "validation_failed"


async def test_staff_order_for_a_named_customer(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container, identity=IdentityStatus.UNVERIFIED)
    billing = await staff(client, container)
    item = {"product_id": str(product), "cycle": "monthly"}

    missing = await client.post(ORDERS, json={"items": [item]}, headers=billing.headers)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.customer_id"

    response = await client.post(
        ORDERS,
        json={"items": [item], "customer_id": str(customer.customer_id)},
        headers=billing.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["customer_id"] == str(customer.customer_id)
    order = await stored_order(container, response.json()["id"])
    assert str(order.placed_by_id) == billing.user_id

    support = await staff(client, container, role=StaffRole.SUPPORT)
    refused = await client.post(
        ORDERS,
        json={"items": [item], "customer_id": str(customer.customer_id)},
        headers=support.headers,
    )
    assert refused.status_code == 403


async def test_customer_cannot_name_a_customer(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    other = await billing_customer(client, container)
    response = await client.post(
        ORDERS,
        json={
            "items": [{"product_id": str(product), "cycle": "monthly"}],
            "customer_id": str(other.customer_id),
        },
        headers=customer.headers,
    )
    assert response.status_code == 403


# --------------------------------------------------------------------------- paying


async def test_paying_the_invoice_activates_the_order_and_its_services(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(
        container, prices={("monthly", "EUR"): (999, 0), ("one_time", "EUR"): (500, 0)}
    )
    customer = await billing_customer(client, container)
    response = await client.post(
        ORDERS,
        json={
            "items": [
                {"product_id": str(product), "cycle": "monthly", "description": "site"},
                {"product_id": str(product), "cycle": "one_time", "description": "migration"},
            ]
        },
        headers=customer.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()

    await pay(container, body["invoice_id"], amount=100)  # a part does not activate
    assert (await stored_order(container, body["id"])).status == "pending"
    await pay(container, body["invoice_id"])

    order = await stored_order(container, body["id"])
    assert order.status == "active"
    assert order.activated_at is not None
    services = {
        service.description: service for service in await stored_services(container, body["id"])
    }
    assert services["site"].status == "active"
    assert services["site"].next_due_date == date(2026, 2, 15)
    assert services["site"].activated_at is not None
    assert services["migration"].status == "active"
    assert services["migration"].next_due_date is None
    assert "activated" in await _audit_actions(container, body["id"])
    listed = await client.get(f"{ORDERS}/{body['id']}", headers=customer.headers)
    assert listed.json()["status"] == "active"


async def test_credit_paying_at_issue_activates_at_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container, prices={("monthly", "EUR"): (0, 0)})
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)
    assert body["status"] == "active"  # a zero total is paid at issue
    [service] = await stored_services(container, body["id"])
    assert service.status == "active"
    assert service.next_due_date == date(2026, 2, 15)


# --------------------------------------------------------------------------- checks


async def test_review_holds_the_order_and_payment_does_not_activate_it(
    client: httpx.AsyncClient, container: Container, order_checks: list[OrderCheck]
) -> None:
    seen: list[OrderCheckContext] = []

    async def hold(context: OrderCheckContext) -> CheckOutcome:
        seen.append(context)
        return CheckOutcome.review("test_hold")

    register_order_check(hold)
    product = await make_product(container)
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)

    assert body["status"] == "fraud_review"
    [context] = seen
    assert context.invoice.total == body["total"]
    assert context.client_ip == "127.0.0.1"
    assert context.customer.id == customer.customer_id
    assert len(context.items) == 1
    invoice, _ = await stored_invoice(container, body["invoice_id"])
    assert invoice.status == "open"  # the customer still gets an invoice to pay

    await pay(container, body["invoice_id"])
    assert (await stored_order(container, body["id"])).status == "fraud_review"
    assert [s.status for s in await stored_services(container, body["id"])] == ["pending"]
    async with container.database.unit_of_work() as session:
        entry = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity_id == uuid.UUID(body["id"]),
                    AuditEntry.action == "held_for_review",
                )
            )
        ).one()
        assert "reason.test_hold" in entry.changes

    async with container.database.unit_of_work() as session:
        await OrderService(session=session, container=container).approve(
            uuid.UUID(body["id"]), actor=SYSTEM
        )
    assert (await stored_order(container, body["id"])).status == "active"
    [service] = await stored_services(container, body["id"])
    assert service.status == "active"
    assert service.next_due_date == date(2026, 2, 15)


async def test_approving_an_unpaid_held_order_makes_it_pending_then_payment_activates(
    client: httpx.AsyncClient, container: Container, order_checks: list[OrderCheck]
) -> None:
    async def hold(context: OrderCheckContext) -> CheckOutcome:
        return CheckOutcome.review("test_hold")

    register_order_check(hold)
    product = await make_product(container)
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)
    async with container.database.unit_of_work() as session:
        orders = OrderService(session=session, container=container)
        await orders.approve(uuid.UUID(body["id"]), actor=SYSTEM)
    assert (await stored_order(container, body["id"])).status == "pending"
    await pay(container, body["invoice_id"])
    assert (await stored_order(container, body["id"])).status == "active"


async def test_reject_makes_the_order_fraud_and_voids_its_invoice(
    client: httpx.AsyncClient, container: Container, order_checks: list[OrderCheck]
) -> None:
    async def allow(context: OrderCheckContext) -> CheckOutcome:
        return CheckOutcome.accept()

    async def hold(context: OrderCheckContext) -> CheckOutcome:
        return CheckOutcome.review("soft_signal")

    async def refuse(context: OrderCheckContext) -> CheckOutcome:
        return CheckOutcome.reject("test_reject")

    for check in (allow, hold, refuse):
        register_order_check(check)
    product = await make_product(container)
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)

    assert body["status"] == "fraud"
    invoice, _ = await stored_invoice(container, body["invoice_id"])
    assert invoice.status == "void"
    assert invoice.number == "INV-2026-000001"
    assert [s.status for s in await stored_services(container, body["id"])] == ["cancelled"]
    assert "rejected" in await _audit_actions(container, body["id"])


async def test_staff_reject_of_a_pending_order(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)
    async with container.database.unit_of_work() as session:
        await OrderService(session=session, container=container).reject(
            uuid.UUID(body["id"]), actor=SYSTEM
        )
    assert (await stored_order(container, body["id"])).status == "fraud"
    invoice, _ = await stored_invoice(container, body["invoice_id"])
    assert invoice.status == "void"
    assert [s.status for s in await stored_services(container, body["id"])] == ["cancelled"]


def test_strictest_outcome_wins_and_keeps_every_reason() -> None:
    combined = strictest(
        [
            CheckOutcome.accept(),
            CheckOutcome.review("a"),
            CheckOutcome.reject("b"),
            CheckOutcome.review("a", "c"),
        ]
    )
    assert combined.disposition is Disposition.REJECT
    assert combined.reasons == ("a", "b", "c")
    assert strictest([]).disposition is Disposition.ACCEPT


# --------------------------------------------------------------------------- cancelling


async def test_customer_cancels_their_own_pending_unpaid_order(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)

    response = await client.post(f"{ORDERS}/{body['id']}/cancel", headers=customer.headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_at"] is not None
    invoice, _ = await stored_invoice(container, body["invoice_id"])
    assert invoice.status == "void"
    [service] = await stored_services(container, body["id"])
    assert service.status == "cancelled"
    assert service.ended_at is not None
    assert "cancelled" in await _audit_actions(container, body["id"])

    again = await client.post(f"{ORDERS}/{body['id']}/cancel", headers=customer.headers)
    assert again.status_code == 409
    assert problem_code(again) == "order_not_cancellable"
    assert again.json()["current_status"] == "cancelled"


async def test_customer_cannot_cancel_once_something_is_paid(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)
    await pay(container, body["invoice_id"], amount=100)

    response = await client.post(f"{ORDERS}/{body['id']}/cancel", headers=customer.headers)
    assert response.status_code == 409
    assert problem_code(response) == "order_not_cancellable"

    billing = await staff(client, container)
    by_staff = await client.post(f"{ORDERS}/{body['id']}/cancel", headers=billing.headers)
    assert by_staff.status_code == 200
    invoice, _ = await stored_invoice(container, body["invoice_id"])
    assert invoice.status == "open"  # a paid part is corrected with a credit note, not voided


async def test_held_orders_are_cancelled_by_staff_only(
    client: httpx.AsyncClient, container: Container, order_checks: list[OrderCheck]
) -> None:
    async def hold(context: OrderCheckContext) -> CheckOutcome:
        return CheckOutcome.review("test_hold")

    register_order_check(hold)
    product = await make_product(container)
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)

    by_customer = await client.post(f"{ORDERS}/{body['id']}/cancel", headers=customer.headers)
    assert by_customer.status_code == 409
    support = await staff(client, container, role=StaffRole.SUPPORT)
    by_support = await client.post(f"{ORDERS}/{body['id']}/cancel", headers=support.headers)
    assert by_support.status_code == 403
    billing = await staff(client, container)
    by_billing = await client.post(f"{ORDERS}/{body['id']}/cancel", headers=billing.headers)
    assert by_billing.status_code == 200
    assert by_billing.json()["status"] == "cancelled"


async def test_active_orders_cannot_be_cancelled(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    body = await place_order(client, customer, product)
    await pay(container, body["invoice_id"])
    billing = await staff(client, container)
    response = await client.post(f"{ORDERS}/{body['id']}/cancel", headers=billing.headers)
    assert response.status_code == 409
    assert problem_code(response) == "order_not_cancellable"


# --------------------------------------------------------------------------- reading


async def test_customers_see_only_their_own_orders(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    alice = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    mine = await place_order(client, alice, product)
    theirs = await place_order(client, bob, product)

    other = await client.get(f"{ORDERS}/{theirs['id']}", headers=alice.headers)
    assert other.status_code == 404
    assert problem_code(other) == "order_not_found"
    cancel = await client.post(f"{ORDERS}/{theirs['id']}/cancel", headers=alice.headers)
    assert cancel.status_code == 404
    own = await client.get(f"{ORDERS}/{mine['id']}", headers=alice.headers)
    assert own.status_code == 200
    assert own.json()["invoice_id"] == mine["invoice_id"]
    assert len(own.json()["items"]) == 1

    listed = await client.get(
        ORDERS, params={"customer_id": str(bob.customer_id)}, headers=alice.headers
    )
    assert listed.json()["items"] == []
    listed = await client.get(ORDERS, headers=alice.headers)
    assert [order["id"] for order in listed.json()["items"]] == [mine["id"]]

    support = await staff(client, container, role=StaffRole.SUPPORT)
    everyone = await client.get(ORDERS, headers=support.headers)
    assert {order["id"] for order in everyone.json()["items"]} == {mine["id"], theirs["id"]}
    filtered = await client.get(
        ORDERS, params={"customer_id": str(bob.customer_id)}, headers=support.headers
    )
    assert [order["id"] for order in filtered.json()["items"]] == [theirs["id"]]
    by_status = await client.get(ORDERS, params={"status": "active"}, headers=support.headers)
    assert by_status.json()["items"] == []


async def test_order_listing_costs_the_same_statements_at_any_page_size(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container, prices={("monthly", "EUR"): (999, 100)})
    customer = await billing_customer(client, container)
    for _ in range(4):
        await place_order(client, customer, product, quantity=2)

    with count_statements(container) as one:
        small = await client.get(ORDERS, params={"limit": 1}, headers=customer.headers)
    with count_statements(container) as many:
        large = await client.get(ORDERS, params={"limit": 4}, headers=customer.headers)

    assert len(small.json()["items"]) == 1
    assert len(large.json()["items"]) == 4
    assert all(order["items"] and order["invoice_id"] for order in large.json()["items"])
    assert len(one) == len(many)

    page = await client.get(
        ORDERS, params={"limit": 3, "cursor": small.json()["next_cursor"]}, headers=customer.headers
    )
    assert len(page.json()["items"]) == 3
    assert page.json()["next_cursor"] is None


async def test_order_numbers_are_sequential(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    first = await place_order(client, customer, product)
    second = await place_order(client, customer, product)
    assert (first["number"], second["number"]) == ("ORD-2026-000001", "ORD-2026-000002")


async def test_closed_customer_named_by_staff_cannot_order(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    async with container.database.unit_of_work() as session:
        record = await session.get(Customer, customer.customer_id)
        assert record is not None
        record.status = CustomerStatus.CLOSED.value
    billing = await staff(client, container)
    response = await client.post(
        ORDERS,
        json={
            "items": [{"product_id": str(product), "cycle": "monthly"}],
            "customer_id": str(customer.customer_id),
        },
        headers=billing.headers,
    )
    assert response.status_code == 409
    assert problem_code(response) == "customer_not_orderable"


async def test_available_credit_pays_the_order_at_issue_and_activates_it(
    client: httpx.AsyncClient, container: Container
) -> None:
    product = await make_product(container)
    customer = await billing_customer(client, container)
    async with container.database.unit_of_work() as session:
        funds = await InvoiceService(session=session, container=container).add_funds(
            viewer=BillingViewer(user_id=None, can_write=True),
            customer_id=customer.customer_id,
            amount=5000,
            currency=None,
            actor=SYSTEM,
        )
    await pay(container, funds.id)

    body = await place_order(client, customer, product)

    assert body["status"] == "active"
    invoice, _ = await stored_invoice(container, body["invoice_id"])
    assert invoice.status == "paid"
    assert invoice.amount_paid == 999
    [service] = await stored_services(container, body["id"])
    assert service.status == "active"
