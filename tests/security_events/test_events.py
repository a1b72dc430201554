"""GET /auth/events: access control as a query filter (P11, P13).

Customers read their own events only; `users:read` (staff, or a key granted it) reads
everyone's, with filters, and that reading is itself logged.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.user import StaffRole
from app.security_events import service as events
from app.security_events.service import EventType
from tests.auth.conftest import register
from tests.users.helpers import (
    API,
    bearer,
    count_statements,
    create_key,
    events_of,
    problem_code,
    signed_in_customer,
    signed_in_staff,
)

EVENTS = f"{API}/auth/events"


async def _items(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(EVENTS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_customer_sees_only_their_own_events(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    alice = await signed_in_customer(client, await register(client))
    bob = await signed_in_customer(client, await register(client))

    own = await _items(client, alice.headers)
    assert own, "registration and sign-in are recorded"
    assert {item["user_id"] for item in own} == {alice.user_id}
    assert [item["event_type"] for item in own] == ["login_succeeded", "registered"]
    login = own[0]
    assert set(login) >= {"event_type", "created_at", "ip", "user_agent", "session_id", "details"}
    assert login["session_id"] is not None
    assert login["details"] == {"mode": "token", "auth_level": "password"}

    # Asking for someone else's events gives an empty page, never theirs (nor a silent swap).
    assert await _items(client, alice.headers, user_id=bob.user_id) == []
    assert await _items(client, alice.headers, user_id=alice.user_id) == own
    # Customers reading their own log is not "staff access".
    assert await events_of(container, "staff_viewed_user") == []
    assert await events_of(container, "staff_listed_users") == []


async def test_staff_see_everyone_and_filter(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, clock: FrozenClock
) -> None:
    alice = await register(client)
    clock.advance(minutes=1)
    bob = await register(client)
    clock.advance(minutes=1)
    admin = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)

    everyone = await _items(client, admin.headers)
    users = {item["user_id"] for item in everyone}
    assert {alice.user_id, bob.user_id, admin.user_id} <= users
    # Newest first.
    assert [item["created_at"] for item in everyone] == sorted(
        (item["created_at"] for item in everyone), reverse=True
    )

    bobs = await _items(client, admin.headers, user_id=bob.user_id)
    assert [(item["user_id"], item["event_type"]) for item in bobs] == [(bob.user_id, "registered")]
    registered = await _items(client, admin.headers, event_type="registered")
    assert [item["user_id"] for item in registered] == [bob.user_id, alice.user_id]

    start = clock.now() - timedelta(minutes=2)
    window = await _items(
        client,
        admin.headers,
        since=start.isoformat(),
        until=(start + timedelta(minutes=1)).isoformat(),
    )
    assert [item["user_id"] for item in window] == [alice.user_id]

    # Logged (P13): one user's events read → on that user's trail; a wide read → a summary.
    (viewed,) = await events_of(container, "staff_viewed_user", user_id=bob.user_id)
    assert str(viewed.actor_id) == admin.user_id
    assert viewed.details == {
        "resource": "security_events",
        "filters": {"user_id": bob.user_id},
        "count": 1,
    }
    listings = await events_of(container, "staff_listed_users", actor_id=admin.user_id)
    assert len(listings) == 3
    assert all(item.details["resource"] == "security_events" for item in listings)


async def test_filters_are_validated(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, clock: FrozenClock
) -> None:
    admin = await signed_in_staff(client, container, session)
    cases = [
        ({"event_type": "nonsense"}, "query.event_type"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),  # naive: which zone?
        ({"user_id": "not-a-uuid"}, "query.user_id"),
        (
            {"since": clock.now().isoformat(), "until": clock.now().isoformat()},
            "query.until",
        ),
        ({"cursor": "garbage"}, None),
    ]
    for params, field in cases:
        response = await client.get(EVENTS, params=params, headers=admin.headers)
        if field is None:
            assert response.status_code == 400
            assert problem_code(response) == "invalid_cursor"
            continue
        assert response.status_code == 422, (params, response.text)
        assert [error["field"] for error in response.json()["errors"]] == [field]
    anonymous = await client.get(EVENTS)
    assert anonymous.status_code == 401


async def test_an_api_key_with_users_read_reads_all_events(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    customer = await register(client)
    admin = await signed_in_staff(client, container, session)
    created = await create_key(client, admin)
    items = await _items(client, bearer(created["key"]), user_id=customer.user_id)
    assert [item["event_type"] for item in items] == ["registered"]
    (viewed,) = await events_of(container, "staff_viewed_user", user_id=customer.user_id)
    assert viewed.actor_id is None
    assert str(viewed.api_key_id) == created["id"]
    # Staff see who acted; the key's own creation is in the log too.
    created_events = await _items(client, admin.headers, event_type="api_key_created")
    assert created_events[0]["api_key_id"] == created["id"]
    assert created_events[0]["actor_id"] == admin.user_id


async def test_events_are_paged_by_cursor(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    customer = await signed_in_customer(client, await register(client))
    for _ in range(3):
        await client.get(f"{API}/auth/sessions", headers=customer.headers)
        await client.post(
            f"{API}/auth/login", json={"email": customer.account.email, "password": "wrong!"}
        )
    everything = await _items(client, customer.headers)
    first = (await client.get(EVENTS, params={"limit": 2}, headers=customer.headers)).json()
    rest = await _items(client, customer.headers, cursor=first["next_cursor"], limit=200)
    assert [item["id"] for item in first["items"] + rest] == [item["id"] for item in everything]


async def test_listing_events_costs_the_same_statements_at_any_page_size(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, clock: FrozenClock
) -> None:
    admin = await signed_in_staff(client, container, session)
    customer = await signed_in_customer(client, await register(client))
    for number in range(60):
        await events.record(
            session,
            event_type=EventType.LOGIN_FAILED,
            at=clock.now(),
            user_id=uuid.UUID(customer.user_id),
            details={"consecutive_failures": number},
        )
    await session.commit()

    for headers in (admin.headers, customer.headers):
        counts = {}
        for limit in (5, 50):
            with count_statements(container) as statements:
                response = await client.get(EVENTS, params={"limit": limit}, headers=headers)
            assert response.status_code == 200
            assert len(response.json()["items"]) == limit
            counts[limit] = len(statements)
        assert counts[5] == counts[50], counts
        assert counts[5] <= 3, counts  # the session, the page (+ the access record for staff)


async def test_staff_filtering_by_an_unknown_user_is_logged_without_failing(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """Found by the contract fuzzer: the access record must not point at a missing user."""
    staff = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    response = await client.get(
        EVENTS, params={"user_id": str(uuid.uuid4())}, headers=staff.headers
    )
    assert response.status_code == 200
    assert response.json()["items"] == []
