"""Turning the second factor off and replacing recovery codes (P11 re-authentication)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.security import RecoveryCode
from app.models.session import UserSession
from tests.auth.conftest import Account, cookie_login
from tests.mfa.conftest import (
    API,
    assert_problem,
    bearer,
    code_at,
    complete_token,
    enrol,
    event_types,
    events_of,
    next_code,
    token_challenge,
)


async def _recovery_rows(container: Container, user_id: str) -> int:
    async with container.database.unit_of_work() as session:
        statement = select(func.count()).where(RecoveryCode.user_id == uuid.UUID(user_id))
        return int((await session.execute(statement)).scalar_one())


async def test_disable_requires_password_and_code_and_ends_other_sessions(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """P11: turning the factor off needs the password and a code; every other session of
    the user ends (`mfa_changed`), this one stays."""
    enrolled = await enrol(client, account, clock)
    challenge = await token_challenge(client, account)
    other = await complete_token(client, challenge, code=next_code(enrolled.secret, clock))
    assert other.status_code == 200, other.text
    disable = f"{API}/mfa/totp/disable"
    headers = enrolled.headers
    code = next_code(enrolled.secret, clock)

    wrong_password = await client.post(
        disable, json={"password": "not-my-password", "code": code}, headers=headers
    )
    assert_problem(wrong_password, 422, "validation_failed")
    wrong_code = await client.post(
        disable,
        json={"password": account.password, "code": code_at(enrolled.secret, clock, steps=4)},
        headers=headers,
    )
    assert_problem(wrong_code, 400, "mfa_code_invalid")
    missing = await client.post(disable, json={"password": account.password}, headers=headers)
    assert_problem(missing, 422, "validation_failed")
    assert (await client.get(f"{API}/mfa")).json()["enabled"] is True

    response = await client.post(
        disable, json={"password": account.password, "code": code}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"sessions_ended": 1}

    me = await client.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["user"]["mfa_enabled"] is False
    assert (await client.get(f"{API}/mfa")).json() == {
        "enabled": False,
        "enabled_at": None,
        "pending": False,
        "recovery_codes_remaining": 0,
    }
    # (Checked last: a 401 also tells the browser to drop its cookies.)
    assert_problem(
        await client.get(f"{API}/auth/me", headers=bearer(other.json())), 401, "session_revoked"
    )
    assert await _recovery_rows(container, account.user_id) == 0
    async with container.database.unit_of_work() as session:
        ended = (
            await session.scalars(
                select(UserSession).where(
                    UserSession.user_id == uuid.UUID(account.user_id),
                    UserSession.ended_at.is_not(None),
                )
            )
        ).all()
    assert [row.end_reason for row in ended] == ["mfa_changed"]
    types = await event_types(container, account.user_id)
    assert "mfa_disabled" in types
    assert "mfa_failed" in types
    # The password alone signs in again.
    client.cookies.clear()
    login = await cookie_login(client, account)
    assert login.json()["status"] == "authenticated"


async def test_disable_with_a_recovery_code_and_open_challenges_die(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    enrolled = await enrol(client, account, clock)
    pending_challenge = await token_challenge(client, account)
    response = await client.post(
        f"{API}/mfa/totp/disable",
        json={"password": account.password, "code": enrolled.recovery_codes[0]},
        headers=enrolled.headers,
    )
    assert response.status_code == 200, response.text
    disabled = [
        event
        for event in await events_of(container, account.user_id)
        if event.event_type == "mfa_disabled"
    ]
    assert disabled[0].details == {"verified_with": "recovery_code"}
    late = await complete_token(client, pending_challenge, code=next_code(enrolled.secret, clock))
    assert_problem(late, 401, "mfa_challenge_invalid")


async def test_disable_when_off(client: httpx.AsyncClient, account: Account) -> None:
    login = await cookie_login(client, account)
    response = await client.post(
        f"{API}/mfa/totp/disable",
        json={"password": account.password, "code": "123456"},
        headers={"X-CSRF-Token": login.json()["csrf_token"]},
    )
    assert_problem(response, 409, "mfa_not_enabled")


async def test_regenerate_recovery_codes(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """P11: a new set needs the password and a code; the old set stops working."""
    enrolled = await enrol(client, account, clock)
    regenerate = f"{API}/mfa/recovery-codes/regenerate"
    wrong = await client.post(
        regenerate,
        json={"password": account.password, "code": "zzzz-zzzz-zzzz"},
        headers=enrolled.headers,
    )
    assert_problem(wrong, 400, "mfa_code_invalid")
    response = await client.post(
        regenerate,
        json={"password": account.password, "code": next_code(enrolled.secret, clock)},
        headers=enrolled.headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    fresh = response.json()["recovery_codes"]
    assert len(fresh) == 10
    assert not set(fresh) & set(enrolled.recovery_codes)
    assert await _recovery_rows(container, account.user_id) == 10
    assert "recovery_codes_regenerated" in await event_types(container, account.user_id)

    challenge = await token_challenge(client, account)
    old = await complete_token(client, challenge, recovery_code=enrolled.recovery_codes[0])
    assert_problem(old, 400, "mfa_code_invalid")
    new = await complete_token(client, challenge, recovery_code=fresh[0])
    assert new.status_code == 200, new.text
