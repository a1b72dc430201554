"""CSRF protection on every state-changing cookie request (P24)."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.conftest import Account, cookie_login, token_login

LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


async def _signed_in(client: httpx.AsyncClient, account: Account) -> str:
    response = await cookie_login(client, account)
    token: str = response.json()["csrf_token"]
    assert client.cookies["__Host-hl_csrf"] == token
    return token


async def test_write_without_csrf_header_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    await _signed_in(client, account)
    response = await client.post(LOGOUT)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert (await client.get(ME)).status_code == 200, "the session must still be alive"


async def test_write_with_wrong_csrf_token_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    token = await _signed_in(client, account)
    wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
    response = await client.post(LOGOUT, headers={"X-CSRF-Token": wrong})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


async def test_csrf_token_of_another_session_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    other = await _signed_in(client, account)
    client.cookies.clear()
    await _signed_in(client, account)
    response = await client.post(LOGOUT, headers={"X-CSRF-Token": other})
    assert response.status_code == 403


async def test_write_with_matching_token_succeeds(
    client: httpx.AsyncClient, account: Account
) -> None:
    token = await _signed_in(client, account)
    response = await client.post(LOGOUT, headers={"X-CSRF-Token": token})
    assert response.status_code == 204


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_cross_site_write_is_refused_even_with_token(
    client: httpx.AsyncClient, account: Account, headers: dict[str, str]
) -> None:
    token = await _signed_in(client, account)
    response = await client.post(LOGOUT, headers={"X-CSRF-Token": token, **headers})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


async def test_configured_spa_origin_is_allowed(
    client: httpx.AsyncClient, account: Account, settings: object
) -> None:
    token = await _signed_in(client, account)
    settings.cors_origins.append("https://app.example")  # type: ignore[attr-defined]
    try:
        response = await client.post(
            LOGOUT,
            headers={
                "X-CSRF-Token": token,
                "Origin": "https://app.example",
                "Sec-Fetch-Site": "cross-site",
            },
        )
    finally:
        settings.cors_origins.remove("https://app.example")  # type: ignore[attr-defined]
    assert response.status_code == 204


async def test_login_from_a_foreign_origin_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": account.email, "password": account.password},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


async def test_bearer_writes_need_no_csrf_and_ignore_cookies(
    client: httpx.AsyncClient, account: Account
) -> None:
    tokens = await token_login(client, account)
    response = await client.post(
        LOGOUT, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 204
