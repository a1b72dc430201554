"""Credit worthiness (P3): orders on account terms, and large first orders, get a credit check
stored beside the fraud check; its outcome joins the fraud outcome (strictest wins). Staff set
credit limits and read the credit position."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
from sqlalchemy import select

from app.core.container import Container
from app.fraud.credit import assess_credit
from app.models.customer import Customer
from app.models.fraud import FraudCheck
from app.models.invoice import InvoiceStatus
from app.models.user import StaffRole
from tests.billing.helpers import BillingCustomer, billing_customer, make_product, staff
from tests.fraud.helpers import IP_DE, order_from
from tests.fraud.staff_helpers import REVIEWS, add_invoice, analyst, audit_actions, only_rule
from tests.orders.helpers import stored_invoice, stored_order

LARGE = 150_000  # above the default credit_check_amount of 100 000
API = "/api/v1"


def _limit_url(customer_id: uuid.UUID) -> str:
    return f"{API}/customers/{customer_id}/credit-limit"


async def _credit_checks(container: Container, order_id: str) -> list[FraudCheck]:
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(
            select(FraudCheck).where(
                FraudCheck.order_id == uuid.UUID(order_id), FraudCheck.kind == "credit"
            )
        )
        return list(rows.all())


async def _customer(
    client: httpx.AsyncClient, container: Container, **fields: object
) -> BillingCustomer:
    """A customer whose account is 90 days old (the new-account rule stays out of the way)."""
    customer = await billing_customer(client, container, country="DE", **fields)
    async with container.database.unit_of_work() as session:
        record = await session.get(Customer, customer.customer_id)
        assert record is not None
        record.created_at = container.clock.now() - timedelta(days=90)
    # Only the credit check decides in these tests.
    await only_rule(container, None)
    return customer


def _today(container: Container) -> date:
    return container.clock.now().date()


async def test_p3_credit_check_approves_a_customer_within_their_limit(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await _customer(client, container, credit_limit=10_000)
    await add_invoice(
        container,
        customer.customer_id,
        status=InvoiceStatus.OPEN,
        total=3_000,
        due_date=_today(container) + timedelta(days=10),
    )
    order = await order_from(client, customer, await make_product(container), ip=IP_DE)

    assert order["status"] == "pending"
    (check,) = await _credit_checks(container, order["id"])
    assert check.disposition == "approve"
    assert check.score == 0
    assert check.risk_level == "low"
    assert check.reasons == []
    assert check.review_status is None
    assert check.ruleset_version.startswith("credit-")
    assert check.amount == 999


async def test_p3_no_credit_check_for_a_small_prepaid_order(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await _customer(client, container)
    order = await order_from(client, customer, await make_product(container), ip=IP_DE)
    assert order["status"] == "pending"
    assert await _credit_checks(container, order["id"]) == []


async def test_p3_credit_limit_exceeded_declines_and_rejects_an_order_on_account(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await _customer(client, container, credit_limit=5_000)
    await add_invoice(
        container,
        customer.customer_id,
        status=InvoiceStatus.OPEN,
        total=4_500,
        due_date=_today(container) + timedelta(days=10),
    )
    order = await order_from(client, customer, await make_product(container), ip=IP_DE)

    assert order["status"] == "fraud"
    invoice, _ = await stored_invoice(container, order["invoice_id"])
    assert invoice.status == "void"
    (check,) = await _credit_checks(container, order["id"])
    assert check.disposition == "decline"
    assert check.risk_level == "high"
    assert check.review_status is None
    (reason,) = check.reasons
    assert reason["code"] == "credit_limit_exceeded"
    assert reason["contribution"] == check.score > 0
    assert reason["evidence"] == {
        "credit_limit": 5_000,
        "outstanding": 4_500,
        "amount": 999,
        "currency": "EUR",
    }


async def test_p3_a_write_off_declines_a_large_prepaid_order_into_review(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await _customer(client, container)
    await add_invoice(
        container,
        customer.customer_id,
        status=InvoiceStatus.UNCOLLECTIBLE,
        total=2_000,
        due_date=_today(container) - timedelta(days=100),
    )
    product_id = await make_product(container, prices={("monthly", "EUR"): (LARGE, 0)})
    order = await order_from(client, customer, product_id, ip=IP_DE)

    # Prepaid: they pay before anything starts, so a decline holds the order for an analyst.
    assert order["status"] == "fraud_review"
    (check,) = await _credit_checks(container, order["id"])
    assert check.disposition == "decline"
    assert [reason["code"] for reason in check.reasons] == ["credit_write_offs"]
    assert check.reasons[0]["evidence"] == {"written_off_invoices": 1}
    assert check.review_status == "pending"

    # The credit review waits in the queue like a fraud review and is decided there.
    decider = await analyst(client, container)
    queue = (await client.get(REVIEWS, headers=decider.headers)).json()["items"]
    assert [(item["id"], item["kind"]) for item in queue] == [(str(check.id), "credit")]
    response = await client.post(
        f"{REVIEWS}/{check.id}/approve", json={"note": "paid upfront"}, headers=decider.headers
    )
    assert response.status_code == 200, response.text
    assert (await stored_order(container, order["id"])).status == "pending"


async def test_p3_an_overdue_balance_sends_the_order_to_review(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await _customer(client, container, credit_limit=100_000)
    await add_invoice(
        container,
        customer.customer_id,
        status=InvoiceStatus.OPEN,
        total=2_500,
        due_date=_today(container) - timedelta(days=3),
    )
    order = await order_from(client, customer, await make_product(container), ip=IP_DE)

    assert order["status"] == "fraud_review"
    (check,) = await _credit_checks(container, order["id"])
    assert check.disposition == "review"
    assert [reason["code"] for reason in check.reasons] == ["credit_overdue_balance"]
    assert check.reasons[0]["evidence"] == {"overdue": 2_500, "currency": "EUR"}
    assert check.review_status == "pending"


async def test_p3_two_late_payments_in_a_year_send_the_order_to_review(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await _customer(client, container, credit_limit=100_000)
    now = container.clock.now()
    for days_ago in (40, 200):
        await add_invoice(
            container,
            customer.customer_id,
            status=InvoiceStatus.PAID,
            total=1_000,
            amount_paid=1_000,
            due_date=(now - timedelta(days=days_ago + 5)).date(),
            paid_at=now - timedelta(days=days_ago),
        )
    order = await order_from(client, customer, await make_product(container), ip=IP_DE)

    assert order["status"] == "fraud_review"
    (check,) = await _credit_checks(container, order["id"])
    assert check.disposition == "review"
    assert [reason["code"] for reason in check.reasons] == ["credit_late_payments"]
    assert check.reasons[0]["evidence"] == {"late_payments": 2, "months": 12}


async def test_p3_one_late_payment_or_an_old_one_stays_quiet(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await _customer(client, container, credit_limit=100_000)
    now = container.clock.now()
    # One late payment this year, one more than a year ago, one paid on time.
    for paid_days_ago, days_late in ((40, 5), (400, 5), (20, -2)):
        await add_invoice(
            container,
            customer.customer_id,
            status=InvoiceStatus.PAID,
            total=1_000,
            amount_paid=1_000,
            due_date=(now - timedelta(days=paid_days_ago + days_late)).date(),
            paid_at=now - timedelta(days=paid_days_ago),
        )
    order = await order_from(client, customer, await make_product(container), ip=IP_DE)

    assert order["status"] == "pending"
    (check,) = await _credit_checks(container, order["id"])
    assert check.disposition == "approve"


async def test_p3_a_large_order_from_a_new_account_goes_to_review(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container, country="DE")
    await only_rule(container, None)
    product_id = await make_product(container, prices={("monthly", "EUR"): (LARGE, 0)})
    order = await order_from(client, customer, product_id, ip=IP_DE)

    assert order["status"] == "fraud_review"
    (check,) = await _credit_checks(container, order["id"])
    assert check.disposition == "review"
    assert [reason["code"] for reason in check.reasons] == ["credit_new_account"]
    evidence = check.reasons[0]["evidence"]
    assert evidence["amount"] == LARGE
    assert evidence["threshold"] == 100_000
    assert evidence["account_age_days"] < 30


async def test_p3_fraud_reject_wins_over_a_credit_review(
    client: httpx.AsyncClient, container: Container
) -> None:
    """Strictest wins; a check that did not hold the order does not wait in the queue."""
    customer = await _customer(client, container, credit_limit=100_000)
    await add_invoice(
        container,
        customer.customer_id,
        status=InvoiceStatus.OPEN,
        total=2_500,
        due_date=_today(container) - timedelta(days=3),
    )
    await only_rule(container, "free_email", weight=90, params={"domains": ["example.com"]})
    order = await order_from(client, customer, await make_product(container), ip=IP_DE)

    assert order["status"] == "fraud"
    (credit,) = await _credit_checks(container, order["id"])
    assert credit.disposition == "review"
    assert credit.review_status is None


async def test_p3_assessment_outside_an_order(
    container: Container, client: httpx.AsyncClient
) -> None:
    """The assessment on its own: limit in another currency is a review, not a comparison."""
    customer = await _customer(client, container, credit_limit=1_000)
    async with container.database.unit_of_work() as session:
        record = await session.get(Customer, customer.customer_id)
        assert record is not None
        assessment = await assess_credit(
            session,
            customer=record,
            amount=50_000,
            currency="USD",
            at=container.clock.now(),
            settings=container.settings.fraud,
        )
    assert assessment.disposition.value == "review"
    assert [reason.code for reason in assessment.reasons] == ["credit_limit_currency"]


# --- credit limit endpoints ---------------------------------------------------------------------


async def test_p3_staff_set_a_credit_limit_and_read_the_credit_position(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await _customer(client, container)
    today = _today(container)
    await add_invoice(
        container,
        customer.customer_id,
        status=InvoiceStatus.OPEN,
        total=3_000,
        due_date=today + timedelta(days=5),
    )
    await add_invoice(
        container,
        customer.customer_id,
        status=InvoiceStatus.OPEN,
        total=2_000,
        amount_paid=500,
        due_date=today - timedelta(days=5),
    )
    await add_invoice(
        container,
        customer.customer_id,
        status=InvoiceStatus.OPEN,
        total=9_000,
        currency="USD",
        due_date=today - timedelta(days=5),
    )
    setter = await analyst(client, container)

    response = await client.put(
        _limit_url(customer.customer_id), json={"credit_limit": 20_000}, headers=setter.headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "customer_id": str(customer.customer_id),
        "currency": "EUR",
        "credit_limit": 20_000,
        "outstanding": 4_500,
        "overdue": 1_500,
        "available": 15_500,
        "late_payments_12_months": 0,
        "written_off_invoices": 0,
    }
    read = await client.get(_limit_url(customer.customer_id), headers=setter.headers)
    assert read.json() == response.json()
    actions = await audit_actions(container, "customer", customer.customer_id)
    assert actions[-1] == "credit_limit_set"

    removed = await client.put(
        _limit_url(customer.customer_id), json={"credit_limit": None}, headers=setter.headers
    )
    assert removed.json()["credit_limit"] is None
    assert removed.json()["available"] is None


async def test_credit_limit_errors(client: httpx.AsyncClient, container: Container) -> None:
    customer = await _customer(client, container)
    setter = await analyst(client, container)
    for body in ({"credit_limit": -1}, {"credit_limit": "lots"}, {}):
        response = await client.put(
            _limit_url(customer.customer_id), json=body, headers=setter.headers
        )
        assert response.status_code == 422, (body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["body.credit_limit"]
    missing = await client.put(
        _limit_url(uuid.uuid4()), json={"credit_limit": 1}, headers=setter.headers
    )
    assert missing.status_code == 404
    assert (await client.get(_limit_url(uuid.uuid4()), headers=setter.headers)).status_code == 404

    support = await staff(client, container, StaffRole.SUPPORT)
    for headers in (customer.headers, support.headers):
        denied = await client.put(
            _limit_url(customer.customer_id), json={"credit_limit": 1}, headers=headers
        )
        assert denied.status_code == 403
        assert denied.json()["code"] == "insufficient_scope"
        assert (
            await client.get(_limit_url(customer.customer_id), headers=headers)
        ).status_code == 403
    async with container.database.unit_of_work() as session:
        record = await session.get(Customer, customer.customer_id)
        assert record is not None
        assert record.credit_limit is None
