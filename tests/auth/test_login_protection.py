"""Passwords, lockout and throttles: brute force gets nowhere, unknown emails look known."""

from __future__ import annotations

from typing import Any

import httpx
from passlib.context import CryptContext
from sqlalchemy import select, text

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.security import SecurityEvent
from tests.auth.conftest import Account, cookie_login

LOGIN = "/api/v1/auth/login"


async def _fail(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": "wrong-password-xyz"})


async def test_unknown_email_and_wrong_password_answer_alike(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    calls: list[str | None] = []
    original = container.hasher.verify_and_update

    async def counting(password: str, stored: str | None) -> Any:
        calls.append(stored)
        return await original(password, stored)

    container.hasher.verify_and_update = counting  # type: ignore[method-assign]
    wrong = await _fail(client, account.email)
    unknown = await _fail(client, "nobody-here@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    # The unknown email still costs one (dummy) hash verification.
    assert len(calls) == 2
    assert calls[1] is None


async def test_five_failures_lock_with_exponential_backoff(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    for _ in range(4):
        assert (await _fail(client, account.email)).status_code == 401
    assert (await _fail(client, account.email)).status_code == 401  # 5th: lock starts
    locked = await cookie_login(client, account)  # even the right password waits
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    first_wait = int(locked.headers["retry-after"])
    assert 1 <= first_wait <= 31

    clock.advance(seconds=first_wait)
    assert (await _fail(client, account.email)).status_code == 401  # 6th: longer lock
    second_wait = int((await cookie_login(client, account)).headers["retry-after"])
    assert second_wait > first_wait

    clock.advance(seconds=second_wait)
    assert (await cookie_login(client, account)).status_code == 200


async def test_success_resets_the_failure_count(
    client: httpx.AsyncClient, account: Account
) -> None:
    for _ in range(4):
        await _fail(client, account.email)
    assert (await cookie_login(client, account)).status_code == 200
    for _ in range(4):
        assert (await _fail(client, account.email)).status_code == 401
    assert (await cookie_login(client, account)).status_code == 200


async def test_unknown_emails_lock_the_same_way(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        await _fail(client, "ghost@example.com")
    response = await _fail(client, "ghost@example.com")
    assert response.status_code == 429
    assert response.json()["code"] == "account_locked"


async def test_failures_and_lockout_are_recorded(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    for _ in range(5):
        await _fail(client, account.email)
    async with container.database.sessionmaker() as session:
        types = (await session.scalars(select(SecurityEvent.event_type))).all()
    assert types.count("login_failed") == 5
    assert "account_locked" in types


async def test_per_ip_throttle_answers_429_with_retry_after(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    limit = int(container.settings.rate_limit.login_per_ip.split("/")[0])
    for index in range(limit):
        await _fail(client, f"spray{index}@example.com")
    response = await _fail(client, "spray-last@example.com")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    clock.advance(seconds=retry_after)
    assert (await _fail(client, "after-wait@example.com")).status_code == 401


async def test_login_rehashes_when_parameters_rise(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    weaker = CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=32,
        argon2__time_cost=1,
        argon2__parallelism=1,
    )
    old_hash = weaker.hash(account.password)
    async with container.database.engine.begin() as connection:
        await connection.execute(text("UPDATE users SET password_hash = :h"), {"h": old_hash})
    assert (await cookie_login(client, account)).status_code == 200
    async with container.database.engine.connect() as connection:
        new_hash = (await connection.execute(text("SELECT password_hash FROM users"))).scalar()
    assert new_hash != old_hash
    assert "m=64" in new_hash


async def test_disabled_account_cannot_sign_in(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    async with container.database.engine.begin() as connection:
        await connection.execute(text("UPDATE users SET is_active = false"))
    response = await cookie_login(client, account)
    assert response.status_code == 403
    assert response.json()["code"] == "account_disabled"
