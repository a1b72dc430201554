"""Hosting services: a customer reads their own (another's is 404), staff read everyone's,
and staff with `billing:write` move them through suspend / unsuspend / terminate / cancel,
each audited; a wrong state is 409 naming the current status."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.core.container import Container
from app.models.audit import AuditEntry
from app.models.customer import CustomerNote
from app.models.user import StaffRole
from tests.billing.helpers import BillingCustomer, billing_customer, make_product, staff
from tests.orders.helpers import SERVICES, pay, place_order
from tests.users.helpers import SignedIn, count_statements, problem_code


async def _active_service(
    client: httpx.AsyncClient, container: Container, customer: BillingCustomer
) -> str:
    product = await make_product(container)
    order = await place_order(client, customer, product, description="shop.example")
    await pay(container, order["invoice_id"])
    service_id: str = order["items"][0]["service_id"]
    return service_id


async def _act(
    client: httpx.AsyncClient, who: SignedIn, service_id: str, action: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{SERVICES}/{service_id}/{action}", json=body or None, headers=who.headers
    )


async def test_customers_read_only_their_own_services(
    client: httpx.AsyncClient, container: Container
) -> None:
    alice = await billing_customer(client, container)
    bob = await billing_customer(client, container)
    mine = await _active_service(client, container, alice)
    theirs = await _active_service(client, container, bob)

    own = await client.get(f"{SERVICES}/{mine}", headers=alice.headers)
    assert own.status_code == 200
    body = own.json()
    assert body["status"] == "active"
    assert body["description"] == "shop.example"
    assert body["recurring_amount"] == 999
    assert body["next_due_date"] == "2026-02-15"
    other = await client.get(f"{SERVICES}/{theirs}", headers=alice.headers)
    assert other.status_code == 404
    assert problem_code(other) == "service_not_found"
    listed = await client.get(SERVICES, headers=alice.headers)
    assert [row["id"] for row in listed.json()["items"]] == [mine]

    support = await staff(client, container, role=StaffRole.SUPPORT)
    everyone = await client.get(SERVICES, headers=support.headers)
    assert {row["id"] for row in everyone.json()["items"]} == {mine, theirs}
    by_customer = await client.get(
        SERVICES, params={"customer_id": str(bob.customer_id)}, headers=support.headers
    )
    assert [row["id"] for row in by_customer.json()["items"]] == [theirs]
    by_status = await client.get(SERVICES, params={"status": "pending"}, headers=support.headers)
    assert by_status.json()["items"] == []


async def test_staff_move_a_service_through_its_states(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    service_id = await _active_service(client, container, customer)
    billing = await staff(client, container)

    suspended = await _act(client, billing, service_id, "suspend", reason="Abuse report #12")
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["suspended_at"] is not None

    twice = await _act(client, billing, service_id, "suspend")
    assert twice.status_code == 409
    assert problem_code(twice) == "service_state_conflict"
    assert twice.json()["current_status"] == "suspended"

    back = await _act(client, billing, service_id, "unsuspend")
    assert back.status_code == 200
    assert back.json()["status"] == "active"
    assert back.json()["suspended_at"] is None

    ended = await _act(client, billing, service_id, "terminate")
    assert ended.status_code == 200
    assert ended.json()["status"] == "terminated"
    assert ended.json()["ended_at"] is not None

    for action in ("suspend", "unsuspend", "terminate", "cancel"):
        response = await _act(client, billing, service_id, action)
        assert response.status_code == 409, action
        assert response.json()["current_status"] == "terminated"

    async with container.database.unit_of_work() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(
                    AuditEntry.entity_type == "service",
                    AuditEntry.entity_id == uuid.UUID(service_id),
                )
                .order_by(AuditEntry.id)
            )
        ).all()
        assert list(actions) == ["activated", "suspended", "unsuspended", "terminated"]
        [note] = (
            await session.scalars(
                select(CustomerNote).where(CustomerNote.customer_id == customer.customer_id)
            )
        ).all()
        assert note.body.endswith("Abuse report #12")


async def test_pending_services_can_be_cancelled_but_not_suspended(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    product = await make_product(container)
    order = await place_order(client, customer, product)
    service_id = order["items"][0]["service_id"]
    billing = await staff(client, container)

    suspend = await _act(client, billing, service_id, "suspend")
    assert suspend.status_code == 409
    assert suspend.json()["current_status"] == "pending"
    terminate = await _act(client, billing, service_id, "terminate")
    assert terminate.status_code == 409
    cancelled = await _act(client, billing, service_id, "cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["ended_at"] is not None


async def test_only_billing_writers_change_services(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    service_id = await _active_service(client, container, customer)
    support = await staff(client, container, role=StaffRole.SUPPORT)
    for who in (customer.signed_in, support):
        response = await _act(client, who, service_id, "suspend")
        assert response.status_code == 403
    billing = await staff(client, container)
    missing = await _act(client, billing, str(uuid.uuid4()), "suspend")
    assert missing.status_code == 404
    bad_reason = await _act(client, billing, service_id, "suspend", reason="x\x00")
    assert bad_reason.status_code == 422


async def test_service_listing_is_one_page_query_at_any_size(
    client: httpx.AsyncClient, container: Container
) -> None:
    customer = await billing_customer(client, container)
    product = await make_product(container)
    for _ in range(3):
        await place_order(client, customer, product)
    with count_statements(container) as one:
        small = await client.get(SERVICES, params={"limit": 1}, headers=customer.headers)
    with count_statements(container) as many:
        large = await client.get(SERVICES, params={"limit": 3}, headers=customer.headers)
    assert len(small.json()["items"]) == 1
    assert len(large.json()["items"]) == 3
    assert len(one) == len(many)
