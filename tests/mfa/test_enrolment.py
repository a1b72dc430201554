"""Enrolling, confirming and inspecting TOTP (P11 re-authentication, P12 encryption at rest)."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import select, text

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.session import UserSession
from tests.auth.conftest import Account, token_login
from tests.mfa.conftest import (
    API,
    assert_problem,
    bearer,
    code_at,
    csrf_login,
    enrol,
    event_types,
    events_of,
)

RECOVERY_CODE = re.compile(
    r"^[23456789abcdefghjkmnpqrstuvwxyz]{4}(-[23456789abcdefghjkmnpqrstuvwxyz]{4}){2}$"
)


async def test_enrol_and_confirm(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """P11: enrolment needs the password again; confirming turns MFA on and shows ten
    single-use recovery codes once."""
    headers = await csrf_login(client, account)
    status = await client.get(f"{API}/mfa")
    assert status.json() == {
        "enabled": False,
        "enabled_at": None,
        "pending": False,
        "recovery_codes_remaining": 0,
    }

    enrolled = await client.post(
        f"{API}/mfa/totp/enroll", json={"password": account.password}, headers=headers
    )
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.headers["cache-control"] == "no-store"
    body = enrolled.json()
    secret = body["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert body["otpauth_uri"].startswith("otpauth://totp/Hostledger:")
    assert "issuer=Hostledger" in body["otpauth_uri"]
    assert f"secret={secret}" in body["otpauth_uri"]
    assert account.email.replace("@", "%40") in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg")
    assert body["qr_svg"].rstrip().endswith("</svg>")
    assert (await client.get(f"{API}/mfa")).json()["pending"] is True
    # Pending is not enabled: the password alone still signs in.
    me = (await client.get(f"{API}/auth/me")).json()
    assert me["user"]["mfa_enabled"] is False

    confirmed = await client.post(
        f"{API}/mfa/totp/confirm", json={"code": code_at(secret, clock)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.headers["cache-control"] == "no-store"
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(RECOVERY_CODE.match(code) for code in codes), codes

    status = (await client.get(f"{API}/mfa")).json()
    assert status["enabled"] is True
    assert status["pending"] is False
    assert status["recovery_codes_remaining"] == 10
    assert (await client.get(f"{API}/auth/me")).json()["user"]["mfa_enabled"] is True
    assert "mfa_enabled" in await event_types(container, account.user_id)


async def test_recovery_codes_are_stored_hashed(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """P12: recovery codes are kept only as keyed hashes."""
    enrolled = await enrol(client, account, clock)
    async with container.database.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT code_hash FROM recovery_codes"))).all()
    assert len(stored) == 10
    dump = " ".join(row[0] for row in stored)
    for code in enrolled.recovery_codes:
        assert code not in dump
        assert code.replace("-", "") not in dump


async def test_enrol_requires_the_password(client: httpx.AsyncClient, account: Account) -> None:
    """P11: re-authentication for a sensitive change."""
    headers = await csrf_login(client, account)
    wrong = await client.post(
        f"{API}/mfa/totp/enroll", json={"password": "not-my-password"}, headers=headers
    )
    body = assert_problem(wrong, 422, "validation_failed")
    assert body["errors"][0]["code"] == "password_incorrect"
    missing = await client.post(f"{API}/mfa/totp/enroll", json={}, headers=headers)
    assert_problem(missing, 422, "validation_failed")
    assert (await client.get(f"{API}/mfa")).json()["pending"] is False


async def test_enrolment_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    """P13: no second-factor route answers without a session."""
    assert_problem(await client.get(f"{API}/mfa"), 401, "not_authenticated")
    response = await client.post(f"{API}/mfa/totp/enroll", json={"password": "x"})
    assert_problem(response, 401, "not_authenticated")


async def test_cookie_writes_need_the_csrf_header(
    client: httpx.AsyncClient, account: Account
) -> None:
    await csrf_login(client, account)
    response = await client.post(f"{API}/mfa/totp/enroll", json={"password": account.password})
    assert_problem(response, 403, "csrf_failed")


async def test_confirm_with_a_wrong_code(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    headers = await csrf_login(client, account)
    enrolled = await client.post(
        f"{API}/mfa/totp/enroll", json={"password": account.password}, headers=headers
    )
    secret = enrolled.json()["secret"]
    wrong = code_at(secret, clock, steps=5)
    response = await client.post(f"{API}/mfa/totp/confirm", json={"code": wrong}, headers=headers)
    assert_problem(response, 400, "mfa_code_invalid")
    # Recorded although the request failed (its own transaction).
    events = await events_of(container, account.user_id)
    failed = [event for event in events if event.event_type == "mfa_failed"]
    assert len(failed) == 1
    assert failed[0].details == {"method": "totp", "purpose": "confirm"}
    assert (await client.get(f"{API}/mfa")).json()["enabled"] is False
    # The pending secret is still there: the right code confirms it.
    response = await client.post(
        f"{API}/mfa/totp/confirm", json={"code": code_at(secret, clock)}, headers=headers
    )
    assert response.status_code == 200, response.text


async def test_confirm_before_enrol_and_enrol_twice(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    headers = await csrf_login(client, account)
    response = await client.post(
        f"{API}/mfa/totp/confirm", json={"code": "123456"}, headers=headers
    )
    assert_problem(response, 409, "mfa_enrollment_not_started")
    enrolled = await enrol(client, account, clock)
    again = await client.post(
        f"{API}/mfa/totp/enroll", json={"password": account.password}, headers=enrolled.headers
    )
    assert_problem(again, 409, "mfa_already_enabled")
    confirm = await client.post(
        f"{API}/mfa/totp/confirm", json={"code": "123456"}, headers=enrolled.headers
    )
    assert_problem(confirm, 409, "mfa_already_enabled")


async def test_re_enrol_replaces_the_pending_secret(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    headers = await csrf_login(client, account)
    first = await client.post(
        f"{API}/mfa/totp/enroll", json={"password": account.password}, headers=headers
    )
    second = await client.post(
        f"{API}/mfa/totp/enroll", json={"password": account.password}, headers=headers
    )
    old, new = first.json()["secret"], second.json()["secret"]
    assert old != new
    response = await client.post(
        f"{API}/mfa/totp/confirm", json={"code": code_at(old, clock)}, headers=headers
    )
    assert_problem(response, 400, "mfa_code_invalid")
    response = await client.post(
        f"{API}/mfa/totp/confirm", json={"code": code_at(new, clock)}, headers=headers
    )
    assert response.status_code == 200, response.text


async def test_totp_secret_is_encrypted_at_rest(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """P12: the raw column holds AES-GCM ciphertext, never the base32 secret."""
    enrolled = await enrol(client, account, clock)
    async with container.database.engine.connect() as connection:
        raw = (
            await connection.execute(
                text("SELECT totp_secret FROM users WHERE totp_secret IS NOT NULL")
            )
        ).scalar_one()
    assert enrolled.secret not in raw
    assert enrolled.secret.lower() not in raw.lower()
    assert raw.startswith("v1.")


async def test_enabling_keeps_other_sessions_and_upgrades_none(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """Enabling MFA ends no session and raises no session to the `mfa` level: that level
    comes only from signing in with the second factor."""
    tokens = await token_login(client, account)
    await enrol(client, account, clock)
    me = await client.get(f"{API}/auth/me", headers=bearer(tokens))
    assert me.status_code == 200, me.text
    assert me.json()["session"]["auth_level"] == "password"
    cookie_me = await client.get(f"{API}/auth/me")
    assert cookie_me.json()["session"]["auth_level"] == "password"
    async with container.database.unit_of_work() as session:
        rows = (
            await session.scalars(
                select(UserSession).where(UserSession.user_id == uuid.UUID(account.user_id))
            )
        ).all()
    assert len(rows) == 2
    assert all(row.ended_at is None and row.auth_level == "password" for row in rows)
