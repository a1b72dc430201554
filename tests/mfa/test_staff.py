"""Forced second factor for staff (`force_staff_mfa`; P13: staff access to personal data)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.container import Container
from app.models.user import StaffRole
from tests.auth.conftest import PASSWORD, Account, token_login
from tests.factories import make_staff
from tests.mfa.conftest import (
    API,
    assert_problem,
    bearer,
    code_at,
    complete_token,
    csrf_login,
    enrol,
    next_code,
    token_challenge,
)

# The routes a staff member without an MFA-level session may still call.
ALLOWED_BEFORE_MFA = {
    "auth-me",
    "auth-logout",
    "mfa-get-status",
    "mfa-enroll-totp",
    "mfa-confirm-totp",
}


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    auth = base_settings.auth.model_copy(update={"force_staff_mfa": True})
    return base_settings.model_copy(update={"auth": auth})


async def _staff(container: Container, role: StaffRole = StaffRole.ADMIN) -> Account:
    password_hash = await container.hasher.hash(PASSWORD)
    async with container.database.unit_of_work() as session:
        user = await make_staff(session, container, role=role, password_hash=password_hash)
    return Account(email=user.email, password=PASSWORD, user_id=str(user.id))


async def test_staff_without_mfa_may_only_enrol(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    """P13: with force_staff_mfa, a staff session without a second factor reaches only
    /auth/me, /auth/logout and the enrolment routes; after enrolling, a new sign-in with
    the code gives full access."""
    staff = await _staff(container)
    headers = await csrf_login(client, staff)
    me = await client.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["session"]["auth_level"] == "password"
    assert (await client.get(f"{API}/mfa")).status_code == 200
    blocked = await client.get(f"{API}/auth/sessions")
    body = assert_problem(blocked, 403, "mfa_enrollment_required")
    assert "enroll" in body["detail"]
    assert_problem(
        await client.post(f"{API}/auth/logout-all", headers=headers),
        403,
        "mfa_enrollment_required",
    )

    enrolled = await enrol(client, staff, clock)  # enrol() signs in again with the password
    # Confirming upgrades no session: this one is still at the password level.
    still = await client.get(f"{API}/auth/sessions")
    body = assert_problem(still, 403, "mfa_enrollment_required")
    assert "sign in again" in body["detail"]
    # Nor can a password-level session turn the factor off again.
    disable = await client.post(
        f"{API}/mfa/totp/disable",
        json={"password": staff.password, "code": next_code(enrolled.secret, clock)},
        headers=enrolled.headers,
    )
    assert_problem(disable, 403, "mfa_enrollment_required")

    challenge = await token_challenge(client, staff)
    tokens = await complete_token(client, challenge, code=next_code(enrolled.secret, clock))
    assert tokens.status_code == 200, tokens.text
    sessions = await client.get(f"{API}/auth/sessions", headers=bearer(tokens.json()))
    assert sessions.status_code == 200, sessions.text
    logout = await client.post(f"{API}/auth/logout", headers=enrolled.headers)
    assert logout.status_code == 204, logout.text


async def test_every_other_authenticated_route_is_blocked(
    client: httpx.AsyncClient, container: Container, app: Any
) -> None:
    """Deny by default: walk the whole contract with a password-level staff token. Only the
    allowed operations answer anything but 403 `mfa_enrollment_required`."""
    staff = await _staff(container)
    auth = bearer(await token_login(client, staff))
    seen: set[str] = set()
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if not operation.get("security"):
                continue  # public: declares no credential
            operation_id = operation["operationId"]
            if operation_id == "auth-logout":
                continue  # would end the session the walk uses (allowed: see the test above)
            url = path
            for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
                url = url.replace(f"{{{name}}}", "01890a5d-ac96-774b-bcce-b302099a8057")
            extra: dict[str, Any] = {} if method in ("get", "delete") else {"json": {}}
            response = await client.request(method.upper(), url, headers=auth, **extra)
            blocked = (
                response.status_code == 403
                and response.json().get("code") == "mfa_enrollment_required"
            )
            assert blocked is (operation_id not in ALLOWED_BEFORE_MFA), (
                f"{method.upper()} {path} ({operation_id}): {response.status_code} "
                f"{response.text[:200]}"
            )
            seen.add(operation_id)
    assert ALLOWED_BEFORE_MFA - {"auth-logout"} <= seen
    assert len(seen - ALLOWED_BEFORE_MFA) >= 5  # the walk did reach the rest of the API


async def test_customers_are_not_forced(client: httpx.AsyncClient, account: Account) -> None:
    await csrf_login(client, account)
    response = await client.get(f"{API}/auth/sessions")
    assert response.status_code == 200, response.text


async def test_staff_with_an_mfa_session_from_the_start(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    staff = await _staff(container, role=StaffRole.SUPPORT)
    enrolled = await enrol(client, staff, clock)
    challenge = await token_challenge(client, staff)
    tokens = await complete_token(client, challenge, code=code_at(enrolled.secret, clock, steps=1))
    assert tokens.status_code == 200, tokens.text
    me = await client.get(f"{API}/auth/me", headers=bearer(tokens.json()))
    assert me.json()["session"]["auth_level"] == "mfa"
    assert (
        await client.get(f"{API}/auth/sessions", headers=bearer(tokens.json()))
    ).status_code == 200
