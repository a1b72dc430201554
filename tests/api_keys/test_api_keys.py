"""API keys for integrations: created by admins, shown once, scoped, revocable, expiring."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.user import StaffRole
from tests.auth.conftest import register
from tests.users.helpers import (
    API,
    bearer,
    create_key,
    events_of,
    problem_code,
    signed_in_customer,
    signed_in_staff,
    stored_key,
)

KEYS = f"{API}/api-keys"


async def test_the_full_key_is_shown_once_and_never_listed(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    created = await create_key(client, admin, scopes=["users:read", "users:read"])
    full_key = created["key"]
    prefix, secret = full_key.removeprefix("hlk_").split("_", 1)
    assert full_key.startswith("hlk_")
    assert prefix == created["prefix"]
    assert created["scopes"] == ["users:read"]  # de-duplicated
    assert created["created_by_id"] == admin.user_id
    assert created["revoked_at"] is None
    assert created["last_used_at"] is None

    listed = await client.get(KEYS, headers=admin.headers)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["id"] == created["id"]
    assert item["prefix"] == prefix
    assert "key" not in item
    assert secret not in listed.text
    assert "secret_hash" not in listed.text

    stored = await stored_key(container, created["id"])
    assert secret not in stored.secret_hash  # stored as a digest only
    (event,) = await events_of(container, "api_key_created")
    assert str(event.actor_id) == admin.user_id
    assert str(event.api_key_id) == created["id"]
    assert secret not in str(event.details)


async def test_a_key_acts_with_exactly_its_scopes(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    key = bearer((await create_key(client, admin))["key"])

    me = await client.get(f"{API}/auth/me", headers=key)
    assert me.status_code == 200, me.text
    assert me.json()["method"] == "api_key"
    assert me.json()["scopes"] == ["users:read"]
    assert me.json()["user"] is None

    assert (await client.get(f"{API}/users", headers=key)).status_code == 200
    assert (await client.get(f"{API}/users/{admin.user_id}", headers=key)).status_code == 200

    for method, path in [
        ("POST", f"{API}/users/{admin.user_id}/disable"),
        ("DELETE", f"{API}/users/{admin.user_id}/sessions"),
        ("GET", KEYS),
        ("POST", KEYS),
    ]:
        response = await client.request(method, path, headers=key, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert problem_code(response) == "insufficient_scope"


async def test_my_account_endpoints_refuse_api_keys(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """Keys act for no person: 'my sessions' and 'my password' have no meaning for them."""
    admin = await signed_in_staff(client, container, session)
    key = bearer((await create_key(client, admin))["key"])
    for method, path, body in [
        ("GET", f"{API}/auth/sessions", None),
        ("POST", f"{API}/auth/password", {"current_password": "x", "new_password": "y"}),
        ("POST", f"{API}/auth/logout-all", None),
    ]:
        response = await client.request(method, path, headers=key, json=body)
        assert response.status_code == 403, (path, response.text)
        assert problem_code(response) == "insufficient_scope"
        assert "API key" in response.json()["detail"]


async def test_use_is_recorded_at_most_once_per_touch_interval(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, clock: FrozenClock
) -> None:
    admin = await signed_in_staff(client, container, session)
    created = await create_key(client, admin)
    key = bearer(created["key"])
    for _ in range(3):
        assert (await client.get(f"{API}/users", headers=key)).status_code == 200
    stored = await stored_key(container, created["id"])
    assert stored.last_used_at == clock.now()
    assert len(await events_of(container, "api_key_used", api_key_id=created["id"])) == 1

    clock.advance(seconds=container.settings.session.touch_interval)
    assert (await client.get(f"{API}/users", headers=key)).status_code == 200
    stored = await stored_key(container, created["id"])
    assert stored.last_used_at == clock.now()
    assert len(await events_of(container, "api_key_used", api_key_id=created["id"])) == 2


async def test_a_revoked_key_stops_working_at_once(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    created = await create_key(client, admin)
    key = bearer(created["key"])
    assert (await client.get(f"{API}/users", headers=key)).status_code == 200

    revoked = await client.delete(f"{KEYS}/{created['id']}", headers=admin.headers)
    assert revoked.status_code == 204, revoked.text
    response = await client.get(f"{API}/users", headers=key)
    assert response.status_code == 401
    assert problem_code(response) == "invalid_token"
    assert "invalid_token" in response.headers["www-authenticate"]

    # Idempotent: a second revocation changes nothing and records nothing.
    assert (
        await client.delete(f"{KEYS}/{created['id']}", headers=admin.headers)
    ).status_code == 204
    (event,) = await events_of(container, "api_key_revoked")
    assert str(event.actor_id) == admin.user_id
    assert str(event.api_key_id) == created["id"]
    listed = (await client.get(KEYS, headers=admin.headers)).json()["items"]
    assert listed[0]["revoked_at"] is not None

    missing = await client.delete(
        f"{KEYS}/{'0' * 8}-0000-7000-8000-{'0' * 12}", headers=admin.headers
    )
    assert missing.status_code == 404
    assert problem_code(missing) == "api_key_not_found"


async def test_an_expired_key_is_refused(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, clock: FrozenClock
) -> None:
    admin = await signed_in_staff(client, container, session)
    expires = clock.now() + timedelta(hours=1)
    created = await create_key(client, admin, expires_at=expires.isoformat())
    key = bearer(created["key"])
    assert (await client.get(f"{API}/users", headers=key)).status_code == 200
    clock.advance(hours=1)
    response = await client.get(f"{API}/users", headers=key)
    assert response.status_code == 401
    assert problem_code(response) == "invalid_token"


async def test_a_wrong_secret_or_unknown_prefix_is_refused(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    full_key = (await create_key(client, admin))["key"]
    prefix = full_key.removeprefix("hlk_").split("_", 1)[0]
    for presented in (
        f"hlk_{prefix}_not-the-secret",
        "hlk_ffffffffffff_" + full_key.rsplit("_", 1)[1],
        "hlk_broken",
        f"hlk_{prefix}_",
    ):
        response = await client.get(f"{API}/users", headers=bearer(presented))
        assert response.status_code == 401, presented
        assert problem_code(response) == "invalid_token"


@pytest.mark.parametrize(
    ("scopes", "code"),
    [
        (["root"], "scope_unknown"),
        (["api_keys:manage"], "scope_not_allowed"),
        (["users:write"], "scope_not_allowed"),
        (["users:read", "me"], "scope_not_allowed"),
    ],
)
async def test_scopes_must_be_allowed_for_keys(
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    scopes: list[str],
    code: str,
) -> None:
    admin = await signed_in_staff(client, container, session)
    response = await client.post(
        KEYS, json={"name": "too much", "scopes": scopes}, headers=admin.headers
    )
    assert response.status_code == 422, response.text
    assert problem_code(response) == "validation_failed"
    (error,) = response.json()["errors"]
    assert error["field"] == f"body.scopes.{len(scopes) - 1}"
    assert error["code"] == code
    assert await events_of(container, "api_key_created") == []


async def test_expiry_must_be_in_the_future_and_scopes_non_empty(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, clock: FrozenClock
) -> None:
    admin = await signed_in_staff(client, container, session)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"expires_at": clock.now().isoformat()}, "body.expires_at", "expires_at_in_past"),
        ({"expires_at": "2030-01-01T00:00:00"}, "body.expires_at", "timezone_aware"),
        ({"scopes": []}, "body.scopes", "too_short"),
    ]
    for extra, field, code in cases:
        body = {"name": "k", "scopes": ["users:read"], **extra}
        response = await client.post(KEYS, json=body, headers=admin.headers)
        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [(field, code)], errors


@pytest.mark.parametrize("role", [StaffRole.SUPPORT, StaffRole.BILLING, StaffRole.FRAUD_ANALYST])
async def test_only_admins_manage_keys(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, role: StaffRole
) -> None:
    admin = await signed_in_staff(client, container, session)
    created = await create_key(client, admin)
    staff = await signed_in_staff(client, container, session, role=role)
    customer = await signed_in_customer(client, await register(client))
    for caller in (staff, customer):
        for method, path, body in [
            ("GET", KEYS, None),
            ("POST", KEYS, {"name": "mine", "scopes": ["users:read"]}),
            ("DELETE", f"{KEYS}/{created['id']}", None),
        ]:
            response = await client.request(method, path, json=body, headers=caller.headers)
            assert response.status_code == 403, (role, method, response.text)
            assert problem_code(response) == "insufficient_scope"
    assert (await stored_key(container, created["id"])).revoked_at is None


async def test_keys_are_listed_newest_first_by_cursor(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    ids = [(await create_key(client, admin))["id"] for _ in range(3)]
    first = (await client.get(KEYS, params={"limit": 2}, headers=admin.headers)).json()
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    assert first["next_cursor"]
    second = await client.get(
        KEYS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers
    )
    assert [item["id"] for item in second.json()["items"]] == ids[:1]
    assert second.json()["next_cursor"] is None
