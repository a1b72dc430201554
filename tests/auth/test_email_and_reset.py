"""Email verification and password reset (P11, P2): proving control of the address on file.

The link's token is only ever read where its recipient would read it: from the outbox, through
the mailer. Nothing in an API response carries it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.auth.emails import PASSWORD_RESET_LIFETIME, VERIFY_EMAIL_LIFETIME
from app.core.clock import FrozenClock
from app.core.container import Container
from app.core.cookies import SESSION_COOKIE
from app.models.security import SecurityEvent
from app.notifications.mailer import MemoryMailer
from tests.auth.conftest import Account, cookie_login, register, token_login
from tests.notifications.helpers import (
    mailed_token,
    outbox,
    payload_of,
    run_outbox,
    token_in,
    use_memory_mailer,
)

AUTH = "/api/v1/auth"
ME = f"{AUTH}/me"
VERIFY = f"{AUTH}/verify-email"
RESEND = f"{AUTH}/verify-email/resend"
RESET = f"{AUTH}/password-reset"
CONFIRM = f"{AUTH}/password-reset/confirm"
NEW_PASSWORD = "violet-anchor-drifting-93-meadow"


@pytest.fixture
def mailer(container: Container) -> MemoryMailer:
    return use_memory_mailer(container)


async def _events(container: Container, event_type: str) -> list[SecurityEvent]:
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(
            select(SecurityEvent).where(SecurityEvent.event_type == event_type)
        )
        return list(rows.all())


async def _verification_token(container: Container, mailer: MemoryMailer, email: str) -> str:
    return await mailed_token(container, mailer, to=email, template="verify_email")


async def _reset_token(container: Container, mailer: MemoryMailer, email: str) -> str:
    return await mailed_token(container, mailer, to=email, template="password_reset")


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


# --------------------------------------------------------------------------- verification


async def test_registration_mails_a_verification_link_into_the_spa(
    client: httpx.AsyncClient, container: Container, mailer: MemoryMailer
) -> None:
    """P11, P2: registering queues a verify_email message; the token is only in the mail,
    in the fragment of a link to the SPA (never a query string)."""
    response = await client.post(
        f"{AUTH}/register",
        json={
            "email": "mary@example.com",
            "password": NEW_PASSWORD,
            "first_name": "Mary",
            "last_name": "Jackson",
            "country": "DE",
        },
    )
    assert response.status_code == 201
    [queued] = await outbox(container)
    assert (queued.template, queued.recipient) == ("verify_email", "mary@example.com")
    token = await _verification_token(container, mailer, "mary@example.com")
    assert token not in response.text
    [mail] = mailer.sent
    link = f"{container.settings.public_app_url}/verify-email#token={token}"
    assert link in mail.body
    assert "?" not in mail.body.split("http", 1)[1].split()[0]
    assert "Hello Mary Jackson" in mail.body
    assert "48 hours" in mail.body


async def test_verification_link_verifies_once(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """P11: the link marks the address verified, is recorded, and works only once."""
    token = await _verification_token(container, mailer, account.email)
    response = await client.post(VERIFY, json={"token": token})
    assert response.status_code == 204, response.text
    tokens = await token_login(client, account)
    me = await client.get(ME, headers=_bearer(tokens))
    assert me.json()["user"]["email_verified"] is True
    [event] = await _events(container, "email_verified")
    assert str(event.user_id) == account.user_id

    again = await client.post(VERIFY, json={"token": token})
    assert again.status_code == 400
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "invalid_token"


async def test_verification_link_expires_after_48_hours(
    client: httpx.AsyncClient,
    account: Account,
    container: Container,
    mailer: MemoryMailer,
    clock: FrozenClock,
) -> None:
    """P11: a verification link is valid for 48 hours, not a second longer."""
    token = await _verification_token(container, mailer, account.email)
    clock.advance(VERIFY_EMAIL_LIFETIME + timedelta(seconds=1))
    response = await client.post(VERIFY, json={"token": token})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


async def test_verification_link_works_until_just_before_expiry(
    client: httpx.AsyncClient,
    account: Account,
    container: Container,
    mailer: MemoryMailer,
    clock: FrozenClock,
) -> None:
    token = await _verification_token(container, mailer, account.email)
    clock.advance(VERIFY_EMAIL_LIFETIME - timedelta(seconds=1))
    assert (await client.post(VERIFY, json={"token": token})).status_code == 204


@pytest.mark.parametrize("token", ["nonsense", "x" * 43, "a" * 200])
async def test_unknown_verification_token_is_invalid(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post(VERIFY, json={"token": token})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


async def test_a_reset_token_does_not_verify_an_email(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """P11: tokens are bound to their purpose."""
    await client.post(RESET, json={"email": account.email})
    token = await _reset_token(container, mailer, account.email)
    assert (await client.post(VERIFY, json={"token": token})).status_code == 400


async def test_resend_replaces_the_link_and_stops_once_verified(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """P11: a signed-in user gets a new link; the older one stops working; a verified
    address answers 409 email_already_verified."""
    first = await _verification_token(container, mailer, account.email)
    login = await cookie_login(client, account)
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    response = await client.post(RESEND, headers=csrf)
    assert response.status_code == 202, response.text
    second = await _verification_token(container, mailer, account.email)
    assert second != first
    assert (await client.post(VERIFY, json={"token": first})).status_code == 400
    assert (await client.post(VERIFY, json={"token": second})).status_code == 204

    verified = await client.post(RESEND, headers=csrf)
    assert verified.status_code == 409
    assert verified.json()["code"] == "email_already_verified"


async def test_resend_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.post(RESEND)
    assert response.status_code == 401


# --------------------------------------------------------------------------- password reset


async def test_reset_request_answers_alike_for_unknown_addresses(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """P11, P12: the same 202 and body whether or not the account exists; only a real
    account is mailed."""
    known = await client.post(RESET, json={"email": account.email})
    unknown = await client.post(RESET, json={"email": "nobody-here@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert known.headers.get("content-type") == unknown.headers.get("content-type")
    await run_outbox(container)
    assert [m.template for m in mailer.to(account.email)] == ["verify_email", "password_reset"]
    assert mailer.to("nobody-here@example.com") == []
    events = await _events(container, "password_reset_requested")
    assert [str(e.user_id) if e.user_id else None for e in events] == [account.user_id, None]


async def test_reset_ends_every_session_and_sets_the_password(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """P11, P23: a completed reset ends cookie and bearer sessions alike (next request 401),
    records the event and mails a password_changed notice."""
    login = await cookie_login(client, account)
    assert login.status_code == 200
    cookie = client.cookies[SESSION_COOKIE.name]
    client.cookies.clear()
    tokens = await token_login(client, account)
    assert (await client.get(ME, headers=_bearer(tokens))).status_code == 200
    assert (await client.get(ME, headers={"Cookie": f"{SESSION_COOKIE.name}={cookie}"})).is_success

    assert (await client.post(RESET, json={"email": account.email})).status_code == 202
    token = await _reset_token(container, mailer, account.email)
    response = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert response.status_code == 204, response.text

    by_cookie = await client.get(ME, headers={"Cookie": f"{SESSION_COOKIE.name}={cookie}"})
    assert by_cookie.status_code == 401
    assert by_cookie.json()["code"] == "session_revoked"
    by_bearer = await client.get(ME, headers=_bearer(tokens))
    assert by_bearer.status_code == 401
    refreshed = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401

    old = await client.post(
        f"{AUTH}/token", data={"username": account.email, "password": account.password}
    )
    assert old.status_code == 401
    account.password = NEW_PASSWORD
    await token_login(client, account)

    [completed] = await _events(container, "password_reset_completed")
    assert str(completed.user_id) == account.user_id
    await run_outbox(container)
    notice = [m for m in mailer.to(account.email) if m.template == "password_changed"]
    assert len(notice) == 1
    assert "reset" in notice[0].body
    assert "#token=" not in notice[0].body


async def test_reset_token_is_single_use_and_ends_the_other_links(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """P11: a reset link works once, and using one voids every other open reset link."""
    await client.post(RESET, json={"email": account.email})
    first = await _reset_token(container, mailer, account.email)
    await client.post(RESET, json={"email": account.email})
    second = await _reset_token(container, mailer, account.email)
    assert first != second
    body = {"token": second, "new_password": NEW_PASSWORD}
    assert (await client.post(CONFIRM, json=body)).status_code == 204
    reused = await client.post(CONFIRM, json=body)
    assert reused.status_code == 400
    assert reused.json()["code"] == "invalid_token"
    other = await client.post(CONFIRM, json={"token": first, "new_password": NEW_PASSWORD})
    assert other.status_code == 400


async def test_reset_token_expires_after_30_minutes(
    client: httpx.AsyncClient,
    account: Account,
    container: Container,
    mailer: MemoryMailer,
    clock: FrozenClock,
) -> None:
    """P11: a reset link is valid for 30 minutes."""
    await client.post(RESET, json={"email": account.email})
    token = await _reset_token(container, mailer, account.email)
    clock.advance(PASSWORD_RESET_LIFETIME + timedelta(seconds=1))
    response = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert await _events(container, "password_reset_completed") == []


async def test_weak_new_password_keeps_the_link_usable(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """The new password is judged like any other (length, guessability in context of the
    user's own name and address); a refusal does not use up the link."""
    await client.post(RESET, json={"email": account.email})
    token = await _reset_token(container, mailer, account.email)
    for weak, code in (("short", "password_length"), ("Ada Lovelace 2026", "password_too_weak")):
        response = await client.post(CONFIRM, json={"token": token, "new_password": weak})
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert (error["field"], error["code"]) == ("body.new_password", code)
    ok = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert ok.status_code == 204


async def test_reset_lifts_the_login_lockout(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """The owner who proves the mailbox is not kept waiting by someone else's guesses."""
    for _ in range(5):
        await client.post(f"{AUTH}/login", json={"email": account.email, "password": "wrong-1"})
    assert (await cookie_login(client, account)).status_code == 429
    await client.post(RESET, json={"email": account.email})
    token = await _reset_token(container, mailer, account.email)
    await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    account.password = NEW_PASSWORD
    assert (await cookie_login(client, account)).status_code == 200


async def test_reset_also_proves_the_address(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """P11: a reset link opened from the mailbox verifies an unverified address."""
    await client.post(RESET, json={"email": account.email})
    token = await _reset_token(container, mailer, account.email)
    await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    account.password = NEW_PASSWORD
    tokens = await token_login(client, account)
    assert (await client.get(ME, headers=_bearer(tokens))).json()["user"]["email_verified"]


async def test_reset_request_is_throttled_per_account(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    """P11: per-account throttle (429 + numeric Retry-After), the same for an unknown
    address, so the throttle does not reveal which addresses have accounts."""
    limit = int(container.settings.rate_limit.password_reset_per_account.split("/")[0])
    for email in (account.email, "nobody-here@example.com"):
        for _ in range(limit):
            assert (await client.post(RESET, json={"email": email})).status_code == 202
        response = await client.post(RESET, json={"email": email.upper()})
        assert response.status_code == 429
        assert response.json()["code"] == "rate_limited"
        assert int(response.headers["retry-after"]) >= 1


async def test_reset_request_is_throttled_per_ip(
    client: httpx.AsyncClient, container: Container
) -> None:
    limit = int(container.settings.rate_limit.password_reset_per_ip.split("/")[0])
    for number in range(limit):
        response = await client.post(RESET, json={"email": f"someone{number}@example.com"})
        assert response.status_code == 202
    response = await client.post(RESET, json={"email": "one-more@example.com"})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1


async def test_changing_the_password_mails_a_notice(
    client: httpx.AsyncClient, account: Account, container: Container, mailer: MemoryMailer
) -> None:
    """P2: the owner hears about a password change made in a signed-in session."""
    tokens = await token_login(client, account)
    response = await client.post(
        f"{AUTH}/password",
        json={"current_password": account.password, "new_password": NEW_PASSWORD},
        headers=_bearer(tokens),
    )
    assert response.status_code == 200, response.text
    await run_outbox(container)
    [notice] = [m for m in mailer.to(account.email) if m.template == "password_changed"]
    assert "changed" in notice.body


async def test_a_failed_change_sends_no_notice(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    """P2: mail goes out only for changes that commit."""
    tokens = await token_login(client, account)
    response = await client.post(
        f"{AUTH}/password",
        json={"current_password": "not-the-password", "new_password": NEW_PASSWORD},
        headers=_bearer(tokens),
    )
    assert response.status_code == 422
    assert [m.template for m in await outbox(container)] == ["verify_email"]


async def test_development_mailer_log_shows_neither_address_nor_token(
    client: httpx.AsyncClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    """P12: with the default development mailer, a reset mail leaves one redacted log line."""
    account = await register(client, email="secret.person@example.com")
    caplog.set_level(logging.INFO, logger="hostledger.mail")
    await client.post(RESET, json={"email": account.email})
    messages = await outbox(container)
    await run_outbox(container)
    lines = [r for r in caplog.records if r.name == "hostledger.mail"]
    assert len(lines) == len(messages) == 2
    for message in messages:
        token = token_in(payload_of(message)["link"])
        assert token not in caplog.text
    assert account.email not in caplog.text
    assert "secret.person" not in caplog.text
    assert "s***@e***.com" in caplog.text
