"""The review queue (P9) and reading checks (P5): held orders wait for an analyst, whose
decision moves the order on and is audited; reading a check's inputs is a logged access."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from app.core.container import Container
from app.models.audit import DataAccess
from app.models.fraud import FraudCheck
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, make_product, staff
from tests.fraud.helpers import IP_DE, checks_of_order, order_from
from tests.fraud.staff_helpers import (
    CHECKS,
    REVIEWS,
    analyst,
    audit_actions,
    held_order,
    only_rule,
)
from tests.orders.helpers import pay, stored_invoice, stored_order


async def _decide(
    client: httpx.AsyncClient, headers: dict[str, str], check_id: object, verb: str, **body: object
) -> httpx.Response:
    return await client.post(
        f"{REVIEWS}/{check_id}/{verb}", json={"note": "checked by phone", **body}, headers=headers
    )


async def test_p9_review_queue_lists_held_orders_oldest_first(
    client: httpx.AsyncClient, container: Container
) -> None:
    product_id = await make_product(container)
    first_customer, first = await held_order(client, container, product_id=product_id)
    _, second = await held_order(client, container, product_id=product_id)
    reader = await analyst(client, container)

    response = await client.get(REVIEWS, headers=reader.headers)

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["order_id"] for item in items] == [first["id"], second["id"]]
    head = items[0]
    assert head["order_number"] == first["number"]
    assert head["order_status"] == "fraud_review"
    assert head["customer_id"] == str(first_customer.customer_id)
    assert head["kind"] == "fraud"
    assert head["score"] == 60
    assert head["disposition"] == "review"
    assert [reason["code"] for reason in head["reasons"]] == ["free_email"]
    assert head["reasons"][0]["contribution"] == 60


async def test_p9_review_queue_pages_with_a_cursor(
    client: httpx.AsyncClient, container: Container
) -> None:
    product_id = await make_product(container)
    orders = [(await held_order(client, container, product_id=product_id))[1] for _ in range(3)]
    reader = await analyst(client, container)

    first = (await client.get(REVIEWS, params={"limit": 2}, headers=reader.headers)).json()
    rest = (
        await client.get(
            REVIEWS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=reader.headers
        )
    ).json()

    seen = [item["order_id"] for item in first["items"] + rest["items"]]
    assert seen == [order["id"] for order in orders]
    assert rest["next_cursor"] is None


async def test_p9_approving_moves_the_order_to_pending_and_is_audited(
    client: httpx.AsyncClient, container: Container
) -> None:
    _, order = await held_order(client, container)
    (check,) = await checks_of_order(container, order["id"])
    decider = await analyst(client, container)

    response = await _decide(client, decider.headers, check.id, "approve")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["order_status"] == "pending"
    assert body["check"]["review_status"] == "approved"
    assert body["decided_checks"] == [str(check.id)]
    assert (await stored_order(container, order["id"])).status == "pending"
    (stored,) = await checks_of_order(container, order["id"])
    assert stored.review_status == "approved"
    assert str(stored.reviewed_by_id) == decider.account.user_id
    assert stored.reviewed_at is not None
    assert stored.review_note == "checked by phone"
    assert stored.label is None
    assert "review_approved" in await audit_actions(container, "fraud_check", check.id)
    assert "approved" in await audit_actions(container, "order", uuid.UUID(order["id"]))
    queue = await client.get(REVIEWS, headers=decider.headers)
    assert queue.json()["items"] == []


async def test_p9_approving_an_order_paid_meanwhile_activates_it(
    client: httpx.AsyncClient, container: Container
) -> None:
    _, order = await held_order(client, container)
    await pay(container, order["invoice_id"])
    assert (await stored_order(container, order["id"])).status == "fraud_review"
    (check,) = await checks_of_order(container, order["id"])
    decider = await analyst(client, container)

    response = await _decide(client, decider.headers, check.id, "approve")

    assert response.status_code == 200, response.text
    assert response.json()["order_status"] == "active"
    assert (await stored_order(container, order["id"])).status == "active"


async def test_p9_rejecting_marks_the_order_fraud_and_voids_its_unpaid_invoice(
    client: httpx.AsyncClient, container: Container
) -> None:
    _, order = await held_order(client, container)
    (check,) = await checks_of_order(container, order["id"])
    decider = await analyst(client, container)

    response = await _decide(client, decider.headers, check.id, "reject")

    assert response.status_code == 200, response.text
    assert response.json()["order_status"] == "fraud"
    assert (await stored_order(container, order["id"])).status == "fraud"
    invoice, _ = await stored_invoice(container, order["invoice_id"])
    assert invoice.status == "void"
    (stored,) = await checks_of_order(container, order["id"])
    assert stored.review_status == "rejected"
    # Rejecting is a decision, not an outcome: no label is set.
    assert stored.label is None
    assert "review_rejected" in await audit_actions(container, "fraud_check", check.id)
    assert "rejected" in await audit_actions(container, "order", uuid.UUID(order["id"]))


async def test_a_decided_review_is_409(client: httpx.AsyncClient, container: Container) -> None:
    _, order = await held_order(client, container)
    (check,) = await checks_of_order(container, order["id"])
    decider = await analyst(client, container)
    assert (await _decide(client, decider.headers, check.id, "approve")).status_code == 200

    for verb in ("approve", "reject"):
        response = await _decide(client, decider.headers, check.id, verb)
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "fraud_review_not_pending"
    assert (await stored_order(container, order["id"])).status == "pending"


async def test_an_accepted_check_is_not_in_the_queue_and_cannot_be_decided(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container, country="DE")
    product_id = await make_product(container)
    await only_rule(container, None)
    order = await order_from(client, customer, product_id, ip=IP_DE)
    assert order["status"] == "pending"
    (check,) = await checks_of_order(container, order["id"])
    decider = await analyst(client, container)

    assert (await client.get(REVIEWS, headers=decider.headers)).json()["items"] == []
    response = await _decide(client, decider.headers, check.id, "reject")
    assert response.status_code == 409
    assert response.json()["code"] == "fraud_review_not_pending"


async def test_a_decision_needs_a_note_of_1_to_2000_characters(
    client: httpx.AsyncClient, container: Container
) -> None:
    _, order = await held_order(client, container)
    (check,) = await checks_of_order(container, order["id"])
    decider = await analyst(client, container)

    for note in ("", "   ", "x" * 2001):
        response = await _decide(client, decider.headers, check.id, "approve", note=note)
        assert response.status_code == 422, response.text
        assert [error["field"] for error in response.json()["errors"]] == ["body.note"]
    missing = await client.post(f"{REVIEWS}/{check.id}/approve", json={}, headers=decider.headers)
    assert missing.status_code == 422
    assert (await stored_order(container, order["id"])).status == "fraud_review"


async def test_deciding_an_unknown_check_is_404(
    client: httpx.AsyncClient, container: Container
) -> None:
    decider = await analyst(client, container)
    response = await _decide(client, decider.headers, uuid.uuid4(), "approve")
    assert response.status_code == 404
    assert response.json()["code"] == "fraud_check_not_found"


async def test_customers_and_support_staff_cannot_use_the_review_queue(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer, order = await held_order(client, container)
    (check,) = await checks_of_order(container, order["id"])
    support = await staff(client, container, StaffRole.SUPPORT)

    for headers in (customer.headers, support.headers):
        listing = await client.get(REVIEWS, headers=headers)
        assert listing.status_code == 403, listing.text
        assert listing.json()["code"] == "insufficient_scope"
        decision = await _decide(client, headers, check.id, "approve")
        assert decision.status_code == 403
        assert (await client.get(CHECKS, headers=headers)).status_code == 403
    assert (await stored_order(container, order["id"])).status == "fraud_review"


async def test_admin_holds_the_fraud_scopes(
    client: httpx.AsyncClient, container: Container
) -> None:
    _, order = await held_order(client, container)
    (check,) = await checks_of_order(container, order["id"])
    admin = await staff(client, container, StaffRole.ADMIN)

    assert (await client.get(REVIEWS, headers=admin.headers)).status_code == 200
    assert (await _decide(client, admin.headers, check.id, "approve")).status_code == 200


async def test_p5_checks_are_listed_newest_first_with_filters(
    client: httpx.AsyncClient, container: Container
) -> None:
    product_id = await make_product(container)
    customer, held = await held_order(client, container, product_id=product_id)
    await only_rule(container, None)
    accepted = await order_from(client, customer, product_id, ip=IP_DE)
    reader = await analyst(client, container)

    everything = await client.get(
        CHECKS, params={"customer_id": str(customer.customer_id)}, headers=reader.headers
    )
    assert everything.status_code == 200, everything.text
    orders = [item["order_id"] for item in everything.json()["items"]]
    # Newest first; the registration check of the customer has no order.
    assert orders == [accepted["id"], held["id"], None]

    review = await client.get(
        CHECKS,
        params={"customer_id": str(customer.customer_id), "disposition": "review"},
        headers=reader.headers,
    )
    assert [item["order_id"] for item in review.json()["items"]] == [held["id"]]
    by_order = await client.get(CHECKS, params={"order_id": accepted["id"]}, headers=reader.headers)
    assert [item["disposition"] for item in by_order.json()["items"]] == ["accept"]
    bad = await client.get(CHECKS, params={"disposition": "maybe"}, headers=reader.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.disposition"


async def test_p5_reading_a_check_shows_its_inputs_and_logs_the_access(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer, order = await held_order(client, container)
    (check,) = await checks_of_order(container, order["id"])
    reader = await analyst(client, container)

    response = await client.get(f"{CHECKS}/{check.id}", headers=reader.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["inputs"]["ip"] == IP_DE
    assert body["inputs"]["billing_country"] == "DE"
    assert body["score"] == 60
    assert body["risk_level"] == "medium"
    assert body["ruleset_version"] == check.ruleset_version
    assert body["duration_us"] == check.duration_us
    assert body["review_status"] == "pending"
    assert body["label"] is None
    async with container.database.unit_of_work() as session:
        logged = (
            await session.scalars(
                select(DataAccess).where(DataAccess.customer_id == customer.customer_id)
            )
        ).all()
    assert [(row.purpose, str(row.actor_id)) for row in logged] == [
        ("fraud.check", reader.account.user_id)
    ]
    missing = await client.get(f"{CHECKS}/{uuid.uuid4()}", headers=reader.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "fraud_check_not_found"


async def test_p9_one_decision_settles_every_pending_check_of_the_order(
    client: httpx.AsyncClient, container: Container
) -> None:
    """An order held by two checks (here a second pending check stands in for a credit
    review) is decided once; both checks record the decision."""
    _, order = await held_order(client, container)
    (check,) = await checks_of_order(container, order["id"])
    async with container.database.unit_of_work() as session:
        twin = FraudCheck(
            kind="credit",
            subject="order",
            order_id=check.order_id,
            customer_id=check.customer_id,
            created_at=container.clock.now(),
            score=50,
            risk_level="medium",
            disposition="review",
            reasons=[],
            inputs="{}",
            ruleset_version="credit-test",
            duration_us=1,
            review_status="pending",
        )
        session.add(twin)
        await session.flush()
        twin_id = twin.id
    decider = await analyst(client, container)

    response = await _decide(client, decider.headers, twin_id, "reject")

    assert response.status_code == 200, response.text
    assert sorted(response.json()["decided_checks"]) == sorted([str(check.id), str(twin_id)])
    statuses = {c.id: c.review_status for c in await checks_of_order(container, order["id"])}
    assert statuses == {check.id: "rejected", twin_id: "rejected"}


async def test_p9_an_order_cancelled_while_held_leaves_the_queue(
    client: httpx.AsyncClient, container: Container
) -> None:
    _, order = await held_order(client, container)
    billing = await staff(client, container, StaffRole.BILLING)
    cancelled = await client.post(f"/api/v1/orders/{order['id']}/cancel", headers=billing.headers)
    assert cancelled.status_code == 200, cancelled.text
    reader = await analyst(client, container)

    assert (await client.get(REVIEWS, headers=reader.headers)).json()["items"] == []
