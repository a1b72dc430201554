"""Helpers for second-factor tests: enrol through the real API, make codes from the clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
from sqlalchemy import select

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.security import SecurityEvent
from tests.auth.conftest import Account, cookie_login
from tests.auth.conftest import account as account  # the fixture, shared

API = "/api/v1"


def code_at(secret: str, clock: FrozenClock, *, steps: int = 0) -> str:
    """The code for the clock's current 30 s step, or `steps` steps away from it."""
    totp = pyotp.TOTP(secret)
    return str(totp.generate_otp(totp.timecode(clock.now()) + steps))


def next_code(secret: str, clock: FrozenClock) -> str:
    """Move to the next step (the previous code was used) and give its code."""
    clock.advance(seconds=30)
    return code_at(secret, clock)


@dataclass
class Enrolled:
    secret: str
    recovery_codes: list[str]
    headers: dict[str, str]  # X-CSRF-Token of the cookie session that enrolled


async def csrf_login(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """A password-level cookie session; returns the header that writes need."""
    response = await cookie_login(client, account)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "authenticated", response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


async def enrol(client: httpx.AsyncClient, account: Account, clock: FrozenClock) -> Enrolled:
    """Sign in with the password, enrol TOTP and confirm it with the current code."""
    headers = await csrf_login(client, account)
    enrolled = await client.post(
        f"{API}/mfa/totp/enroll", json={"password": account.password}, headers=headers
    )
    assert enrolled.status_code == 200, enrolled.text
    secret = enrolled.json()["secret"]
    confirmed = await client.post(
        f"{API}/mfa/totp/confirm", json={"code": code_at(secret, clock)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(
        secret=secret, recovery_codes=confirmed.json()["recovery_codes"], headers=headers
    )


async def cookie_challenge(client: httpx.AsyncClient, account: Account) -> str:
    client.cookies.clear()
    response = await cookie_login(client, account)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "mfa_required", body
    assert body["session"] is None
    challenge: str = body["mfa_challenge"]
    return challenge


async def token_challenge(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post(
        f"{API}/auth/token", data={"username": account.email, "password": account.password}
    )
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "mfa_required"
    challenge: str = response.json()["mfa_challenge"]
    return challenge


async def complete_cookie(
    client: httpx.AsyncClient, challenge: str, **factor: str
) -> httpx.Response:
    return await client.post(f"{API}/auth/login/mfa", json={"challenge": challenge, **factor})


async def complete_token(
    client: httpx.AsyncClient, challenge: str, **factor: str
) -> httpx.Response:
    return await client.post(f"{API}/auth/token/mfa", json={"challenge": challenge, **factor})


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def events_of(container: Container, user_id: str) -> list[SecurityEvent]:
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(
            select(SecurityEvent)
            .where(SecurityEvent.user_id == uuid.UUID(user_id))
            .order_by(SecurityEvent.id)
        )
        return list(rows.all())


async def event_types(container: Container, user_id: str) -> list[str]:
    return [event.event_type for event in await events_of(container, user_id)]


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body
