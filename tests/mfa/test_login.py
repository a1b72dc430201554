"""Signing in with the second factor (P13: "2FA where enabled"), replay protection, drift,
recovery codes, challenge expiry and mode, throttling."""

from __future__ import annotations

import httpx

from app.core.clock import FrozenClock
from app.core.container import Container
from tests.auth.conftest import Account
from tests.mfa.conftest import (
    API,
    assert_problem,
    bearer,
    code_at,
    complete_cookie,
    complete_token,
    cookie_challenge,
    enrol,
    events_of,
    next_code,
    token_challenge,
)


async def test_cookie_login_requires_the_second_factor(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """P13: with MFA on, the password alone opens no session; the code completes it and the
    session is at the `mfa` level."""
    enrolled = await enrol(client, account, clock)
    challenge = await cookie_challenge(client, account)
    assert "__Host-hl_session" not in client.cookies
    assert_problem(await client.get(f"{API}/auth/me"), 401, "not_authenticated")

    response = await complete_cookie(client, challenge, code=next_code(enrolled.secret, clock))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "authenticated"
    assert body["session"]["auth_level"] == "mfa"
    assert body["session"]["mode"] == "cookie"
    assert body["csrf_token"]
    assert "__Host-hl_session" in client.cookies
    me = await client.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["session"]["auth_level"] == "mfa"
    # The session works for writes too (CSRF token bound to it).
    logout = await client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert logout.status_code == 204, logout.text
    events = await events_of(container, account.user_id)
    logins = [event for event in events if event.event_type == "login_succeeded"]
    assert logins[-1].details == {"mode": "cookie", "auth_level": "mfa"}


async def test_remember_me_survives_the_challenge(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)
    client.cookies.clear()
    login = await client.post(
        f"{API}/auth/login",
        json={"email": account.email, "password": account.password, "remember": True},
    )
    challenge = login.json()["mfa_challenge"]
    response = await complete_cookie(client, challenge, code=next_code(enrolled.secret, clock))
    assert response.status_code == 200, response.text
    cookie = next(
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith("__Host-hl_session=")
    )
    assert "max-age" in cookie.lower()


async def test_token_login_requires_the_second_factor(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    """P13, token mode: /auth/token answers 401 `mfa_required` with a challenge."""
    enrolled = await enrol(client, account, clock)
    client.cookies.clear()
    challenge = await token_challenge(client, account)
    response = await complete_token(client, challenge, code=next_code(enrolled.secret, clock))
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["refresh_token"]
    me = await client.get(f"{API}/auth/me", headers=bearer(tokens))
    assert me.status_code == 200, me.text
    assert me.json()["method"] == "bearer"
    assert me.json()["session"]["auth_level"] == "mfa"
    # A refreshed token stays on the same MFA-level session.
    refreshed = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    me = await client.get(f"{API}/auth/me", headers=bearer(refreshed.json()))
    assert me.json()["session"]["auth_level"] == "mfa"


async def test_wrong_code_is_rejected_and_recorded(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    enrolled = await enrol(client, account, clock)
    challenge = await cookie_challenge(client, account)
    clock.advance(seconds=30)
    wrong = code_at(enrolled.secret, clock, steps=3)
    response = await complete_cookie(client, challenge, code=wrong)
    assert_problem(response, 400, "mfa_code_invalid")
    assert "__Host-hl_session" not in client.cookies
    failed = [
        event
        for event in await events_of(container, account.user_id)
        if event.event_type == "mfa_failed"
    ]
    assert len(failed) == 1
    assert failed[0].details == {"method": "totp", "purpose": "login"}
    # A typo does not burn the challenge: the right code still completes it.
    response = await complete_cookie(client, challenge, code=code_at(enrolled.secret, clock))
    assert response.status_code == 200, response.text


async def test_replayed_code_is_rejected_and_recorded(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """P13: a code is good once, even inside its validity window."""
    enrolled = await enrol(client, account, clock)
    # The code that confirmed enrolment cannot also sign in.
    challenge = await token_challenge(client, account)
    response = await complete_token(client, challenge, code=code_at(enrolled.secret, clock))
    assert_problem(response, 400, "mfa_code_replayed")

    code = next_code(enrolled.secret, clock)
    assert (await complete_token(client, challenge, code=code)).status_code == 200
    second = await token_challenge(client, account)
    clock.advance(seconds=10)  # still the same step
    response = await complete_token(client, second, code=code)
    assert_problem(response, 400, "mfa_code_replayed")
    # ... and an older code of the drift window is a replay too, not a new login.
    clock.advance(seconds=25)  # next step: `code` is now the previous step's, within drift
    response = await complete_token(client, second, code=code)
    assert_problem(response, 400, "mfa_code_replayed")

    replays = [
        event
        for event in await events_of(container, account.user_id)
        if event.event_type == "mfa_replay_rejected"
    ]
    assert len(replays) == 3  # kept although every one of those requests failed
    assert all(event.details == {"method": "totp", "purpose": "login"} for event in replays)
    # The next code is accepted.
    response = await complete_token(client, second, code=code_at(enrolled.secret, clock))
    assert response.status_code == 200, response.text


async def test_drift_of_one_step_is_accepted_two_is_not(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)
    clock.advance(seconds=150)  # five steps on from the confirming code
    challenge = await token_challenge(client, account)
    for steps in (-2, 2):
        response = await complete_token(
            client, challenge, code=code_at(enrolled.secret, clock, steps=steps)
        )
        assert_problem(response, 400, "mfa_code_invalid")
    # A phone one step behind, then (next sign-in) one step ahead.
    response = await complete_token(
        client, challenge, code=code_at(enrolled.secret, clock, steps=-1)
    )
    assert response.status_code == 200, response.text
    challenge = await token_challenge(client, account)
    response = await complete_token(
        client, challenge, code=code_at(enrolled.secret, clock, steps=1)
    )
    assert response.status_code == 200, response.text
    # Accepting the step ahead used up the current step as well.
    challenge = await token_challenge(client, account)
    response = await complete_token(client, challenge, code=code_at(enrolled.secret, clock))
    assert_problem(response, 400, "mfa_code_replayed")


async def test_recovery_code_works_once(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    enrolled = await enrol(client, account, clock)
    recovery = enrolled.recovery_codes[3]
    challenge = await cookie_challenge(client, account)
    response = await complete_cookie(client, challenge, recovery_code=recovery.upper())
    assert response.status_code == 200, response.text
    assert response.json()["session"]["auth_level"] == "mfa"
    assert (await client.get(f"{API}/mfa")).json()["recovery_codes_remaining"] == 9
    used = [
        event
        for event in await events_of(container, account.user_id)
        if event.event_type == "recovery_code_used"
    ]
    assert used[0].details == {"purpose": "login", "remaining": 9}

    challenge = await cookie_challenge(client, account)
    response = await complete_cookie(client, challenge, recovery_code=recovery)
    assert_problem(response, 400, "mfa_code_replayed")
    response = await complete_cookie(client, challenge, recovery_code="aaaa-bbbb-cccc")
    assert_problem(response, 400, "mfa_code_invalid")
    types = [event.event_type for event in await events_of(container, account.user_id)]
    assert "mfa_replay_rejected" in types
    assert "mfa_failed" in types
    # Another unused code still works, typed without dashes.
    other = enrolled.recovery_codes[4].replace("-", "")
    response = await complete_cookie(client, challenge, recovery_code=other)
    assert response.status_code == 200, response.text


async def test_code_and_recovery_code_are_exclusive(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)
    challenge = await cookie_challenge(client, account)
    both = await complete_cookie(
        client, challenge, code="123456", recovery_code=enrolled.recovery_codes[0]
    )
    assert_problem(both, 422, "validation_failed")
    assert_problem(await complete_cookie(client, challenge), 422, "validation_failed")


async def test_challenge_expires_after_five_minutes(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)
    challenge = await cookie_challenge(client, account)
    clock.advance(seconds=301)
    response = await complete_cookie(client, challenge, code=code_at(enrolled.secret, clock))
    assert_problem(response, 401, "mfa_challenge_invalid")
    assert "__Host-hl_session" not in client.cookies


async def test_challenge_is_single_use(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)
    challenge = await token_challenge(client, account)
    first = await complete_token(client, challenge, code=next_code(enrolled.secret, clock))
    assert first.status_code == 200, first.text
    again = await complete_token(client, challenge, code=next_code(enrolled.secret, clock))
    assert_problem(again, 401, "mfa_challenge_invalid")
    unknown = await complete_token(client, "no-such-challenge", code="123456")
    assert_problem(unknown, 401, "mfa_challenge_invalid")


async def test_challenge_must_match_the_endpoint_mode(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)
    cookie = await cookie_challenge(client, account)
    token = await token_challenge(client, account)
    code = next_code(enrolled.secret, clock)
    assert_problem(
        await complete_token(client, cookie, code=code), 400, "mfa_challenge_mode_mismatch"
    )
    assert_problem(
        await complete_cookie(client, token, code=code), 400, "mfa_challenge_mode_mismatch"
    )
    # A mismatch neither burns the challenge nor the code.
    response = await complete_cookie(client, cookie, code=code)
    assert response.status_code == 200, response.text
    assert response.json()["session"]["mode"] == "cookie"


async def test_second_factor_attempts_are_throttled_per_account(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    """mfa_per_account (10 per 5 minutes): the 11th attempt is 429 with Retry-After."""
    enrolled = await enrol(client, account, clock)
    clock.advance(seconds=301)  # a fresh window, without enrolment's attempts
    challenge = await token_challenge(client, account)
    wrong = code_at(enrolled.secret, clock, steps=4)
    for _ in range(10):
        assert_problem(await complete_token(client, challenge, code=wrong), 400, "mfa_code_invalid")
    right = code_at(enrolled.secret, clock)
    limited = await complete_token(client, challenge, code=right)
    assert_problem(limited, 429, "rate_limited")
    retry_after = limited.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 300
    # The limit is per account, shared by every route that checks a second factor.
    client.cookies.clear()
    clock.advance(seconds=int(retry_after))
    challenge = await token_challenge(client, account)
    response = await complete_token(client, challenge, code=code_at(enrolled.secret, clock))
    assert response.status_code == 200, response.text


async def test_password_change_voids_open_challenges(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)  # keeps its password-level cookie session
    challenge = await token_challenge(client, account)
    clock.advance(seconds=1)
    changed = await client.post(
        f"{API}/auth/password",
        json={
            "current_password": account.password,
            "new_password": "violet-canyon-drifts-93-lantern",
        },
        headers=enrolled.headers,
    )
    assert changed.status_code == 200, changed.text
    response = await complete_token(client, challenge, code=next_code(enrolled.secret, clock))
    assert_problem(response, 401, "mfa_challenge_invalid")
