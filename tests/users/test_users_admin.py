"""Staff administration of users: the role matrix, disabling (sessions end at once for every
credential), ending sessions, logged staff access (P13), filters and statement counts."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import ROLE_SCOPES
from app.auth.service import create_user
from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.user import StaffRole, UserKind
from tests.auth.conftest import Account, cookie_login, register, token_login
from tests.factories import PLACEHOLDER_HASH, unique_email
from tests.users.helpers import (
    API,
    STAFF_PASSWORD,
    bearer,
    count_statements,
    events_of,
    problem_code,
    signed_in_customer,
    signed_in_staff,
)

USERS = f"{API}/users"
READ_ONLY_ROLES = [StaffRole.SUPPORT, StaffRole.BILLING, StaffRole.FRAUD_ANALYST]
NOBODY = str(uuid.UUID(int=0))


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
async def test_non_admin_staff_read_but_cannot_change_users(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, role: StaffRole
) -> None:
    customer = await register(client)
    staff = await signed_in_staff(client, container, session, role=role)

    listed = await client.get(USERS, headers=staff.headers)
    assert listed.status_code == 200, listed.text
    assert customer.user_id in {item["id"] for item in listed.json()["items"]}
    one = await client.get(f"{USERS}/{customer.user_id}", headers=staff.headers)
    assert one.status_code == 200, one.text
    assert one.json()["email"] == customer.email
    assert one.json()["is_active"] is True

    for method, path, body in [
        ("POST", f"{USERS}/{customer.user_id}/disable", None),
        ("POST", f"{USERS}/{customer.user_id}/enable", None),
        ("DELETE", f"{USERS}/{customer.user_id}/sessions", None),
        ("POST", f"{USERS}/staff", {"email": "x@example.com", "password": "p", "role": "admin"}),
    ]:
        response = await client.request(method, path, json=body, headers=staff.headers)
        assert response.status_code == 403, (method, path, response.text)
        assert problem_code(response) == "insufficient_scope"
    assert await events_of(container, "user_disabled") == []


async def test_customers_cannot_use_staff_endpoints(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    customer = await signed_in_customer(client, await register(client))
    for method, path in [
        ("GET", USERS),
        ("GET", f"{USERS}/{customer.user_id}"),  # not even their own record, here
        ("POST", f"{USERS}/{customer.user_id}/disable"),
        ("DELETE", f"{USERS}/{customer.user_id}/sessions"),
    ]:
        response = await client.request(method, path, headers=customer.headers)
        assert response.status_code == 403, (method, path)
        assert problem_code(response) == "insufficient_scope"
    anonymous = await client.get(USERS)
    assert anonymous.status_code == 401
    assert problem_code(anonymous) == "not_authenticated"


async def test_disabling_ends_cookie_and_bearer_sessions_at_once(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, clock: FrozenClock
) -> None:
    customer = await register(client)
    login = await cookie_login(client, customer)  # the cookie stays in the client's jar
    assert login.status_code == 200
    tokens = await token_login(client, customer)
    assert (await client.get(f"{API}/auth/me")).status_code == 200
    assert (
        await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))
    ).status_code == 200
    admin = await signed_in_staff(client, container, session)  # the header wins over the cookie

    disabled = await client.post(f"{USERS}/{customer.user_id}/disable", headers=admin.headers)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["is_active"] is False
    assert disabled.json()["disabled_at"] is not None

    # The very next request with each credential is refused: the sessions ended.
    cookie_request = await client.get(f"{API}/auth/me")
    assert cookie_request.status_code == 401
    assert problem_code(cookie_request) == "session_revoked"
    bearer_request = await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))
    assert bearer_request.status_code == 401
    assert problem_code(bearer_request) == "session_revoked"
    refreshed = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert problem_code(refreshed) == "session_revoked"
    # And signing in again is refused with a clear answer.
    client.cookies.clear()
    again = await cookie_login(client, customer)
    assert again.status_code == 403
    assert problem_code(again) == "account_disabled"

    (event,) = await events_of(container, "user_disabled", user_id=customer.user_id)
    assert str(event.actor_id) == admin.user_id
    assert event.details == {"sessions_ended": 2}
    (revoked,) = await events_of(container, "session_revoked", user_id=customer.user_id)
    assert revoked.details["reason"] == "user_disabled"
    assert str(revoked.actor_id) == admin.user_id

    # Idempotent: disabling again changes nothing and records nothing.
    assert (
        await client.post(f"{USERS}/{customer.user_id}/disable", headers=admin.headers)
    ).status_code == 200
    assert len(await events_of(container, "user_disabled")) == 1

    enabled = await client.post(f"{USERS}/{customer.user_id}/enable", headers=admin.headers)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["is_active"] is True
    assert enabled.json()["disabled_at"] is None
    (event,) = await events_of(container, "user_enabled", user_id=customer.user_id)
    assert str(event.actor_id) == admin.user_id
    # Old sessions stay ended; a new sign-in works.
    still_dead = await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))
    assert still_dead.status_code == 401
    assert (await cookie_login(client, customer)).status_code == 200


async def test_an_admin_cannot_disable_themselves(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    response = await client.post(f"{USERS}/{admin.user_id}/disable", headers=admin.headers)
    assert response.status_code == 409
    assert problem_code(response) == "cannot_disable_self"
    assert (await client.get(f"{API}/auth/me", headers=admin.headers)).status_code == 200
    # Another admin may.
    other = await signed_in_staff(client, container, session)
    response = await client.post(f"{USERS}/{admin.user_id}/disable", headers=other.headers)
    assert response.status_code == 200
    assert (await client.get(f"{API}/auth/me", headers=admin.headers)).status_code == 401


async def test_staff_end_all_sessions_of_a_user(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    customer = await register(client)
    first = await token_login(client, customer)
    second = await token_login(client, customer)
    admin = await signed_in_staff(client, container, session)

    response = await client.delete(f"{USERS}/{customer.user_id}/sessions", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"sessions_ended": 2}
    for tokens in (first, second):
        me = await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 401
        assert problem_code(me) == "session_revoked"
    (event,) = await events_of(container, "session_revoked", user_id=customer.user_id)
    assert event.details == {"reason": "revoked_by_staff", "sessions_ended": 2}
    assert str(event.actor_id) == admin.user_id
    # The account itself stays active.
    assert (await token_login(client, customer))["access_token"]

    missing = await client.delete(f"{USERS}/{NOBODY}/sessions", headers=admin.headers)
    assert missing.status_code == 404
    assert problem_code(missing) == "user_not_found"


async def test_p13_staff_access_to_a_user_is_logged(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """P13: staff access is logged, and the customer sees that it happened (not from where)."""
    customer = await signed_in_customer(client, await register(client))
    support = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)

    response = await client.get(
        f"{USERS}/{customer.user_id}",
        headers={**support.headers, "User-Agent": "support-console"},
    )
    assert response.status_code == 200
    (viewed,) = await events_of(container, "staff_viewed_user", user_id=customer.user_id)
    assert str(viewed.actor_id) == support.user_id
    assert viewed.details == {"resource": "user"}
    assert viewed.user_agent == "support-console"

    listed = await client.get(USERS, params={"kind": "customer"}, headers=support.headers)
    assert listed.status_code == 200
    (listing,) = await events_of(container, "staff_listed_users", actor_id=support.user_id)
    assert listing.user_id is None
    assert listing.details == {
        "resource": "users",
        "filters": {"kind": "customer"},
        "count": 1,
        "user_ids": [customer.user_id],
    }

    # In the customer's own log: the staff access is there, the staff member's origin is not.
    own = await client.get(
        f"{API}/auth/events",
        params={"event_type": "staff_viewed_user"},
        headers=customer.headers,
    )
    (item,) = own.json()["items"]
    assert item["user_id"] == customer.user_id
    assert item["actor_id"] is None
    assert item["ip"] is None
    assert item["user_agent"] is None

    # Unknown users are a 404, not an empty record; reading one's own record is not logged.
    missing = await client.get(f"{USERS}/{NOBODY}", headers=support.headers)
    assert missing.status_code == 404
    assert problem_code(missing) == "user_not_found"
    assert (await client.get(f"{USERS}/{support.user_id}", headers=support.headers)).is_success
    assert len(await events_of(container, "staff_viewed_user")) == 1


async def test_filters_and_cursor_pagination(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    support = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    customers = [await register(client) for _ in range(3)]
    await client.post(f"{USERS}/{customers[0].user_id}/disable", headers=admin.headers)

    async def ids(**params: str | int) -> list[str]:
        response = await client.get(USERS, params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(kind="customer") == [c.user_id for c in reversed(customers)]
    assert await ids(kind="staff") == [support.user_id, admin.user_id]
    assert await ids(role="support") == [support.user_id]
    assert await ids(is_active="false") == [customers[0].user_id]
    assert await ids(kind="customer", is_active="true") == [
        customers[2].user_id,
        customers[1].user_id,
    ]

    first = (await client.get(USERS, params={"limit": 2}, headers=admin.headers)).json()
    second = (
        await client.get(
            USERS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers
        )
    ).json()
    seen = [item["id"] for item in first["items"] + second["items"]]
    assert seen == await ids(limit=4)
    bad = await client.get(USERS, params={"cursor": "nonsense"}, headers=admin.headers)
    assert bad.status_code == 400
    assert problem_code(bad) == "invalid_cursor"
    wrong_kind = await client.get(USERS, params={"kind": "robot"}, headers=admin.headers)
    assert wrong_kind.status_code == 422


async def test_admin_creates_staff_with_a_role(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    email = unique_email("newstaff")
    body = {"email": email, "password": STAFF_PASSWORD, "role": "support", "display_name": "Sam"}

    weak = await client.post(
        f"{USERS}/staff", json={**body, "password": "password1234"}, headers=admin.headers
    )
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "body.password"

    created = await client.post(f"{USERS}/staff", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "staff"
    assert created.json()["role"] == "support"
    assert not {"password", "password_hash", "totp_secret"} & set(created.json())
    (event,) = await events_of(container, "registered", user_id=created.json()["id"])
    assert str(event.actor_id) == admin.user_id
    assert event.details == {"kind": "staff", "role": "support"}

    duplicate = await client.post(f"{USERS}/staff", json=body, headers=admin.headers)
    assert duplicate.status_code == 409
    assert problem_code(duplicate) == "email_taken"

    tokens = await token_login(
        client, Account(email=email, password=STAFF_PASSWORD, user_id=created.json()["id"])
    )
    me = await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["scopes"] == sorted(ROLE_SCOPES[StaffRole.SUPPORT])


async def test_listing_users_costs_the_same_statements_at_any_page_size(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    for _ in range(60):
        await create_user(
            session=session,
            crypto=container.crypto,
            clock=container.clock,
            email=unique_email("bulk"),
            password_hash=PLACEHOLDER_HASH,
            kind=UserKind.CUSTOMER,
            display_name="Bulk Customer",
        )
    await session.commit()

    counts = {}
    for limit in (5, 50):
        with count_statements(container) as statements:
            response = await client.get(USERS, params={"limit": limit}, headers=admin.headers)
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        counts[limit] = len(statements)
    assert counts[5] == counts[50], counts
    assert counts[5] <= 3, counts  # the session, the page, the access record
