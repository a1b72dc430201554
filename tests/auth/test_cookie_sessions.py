"""Cookie sessions for the browser SPA (P16, P17, P18, P22, P24)."""

from __future__ import annotations

import base64
import re
from http.cookies import SimpleCookie

import httpx
import pytest
from starlette.requests import Request

from app.core.container import Container
from app.core.cookies import SESSION_COOKIE
from tests.auth.conftest import Account, cookie_login, register

ME = "/api/v1/auth/me"


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    """Raw Set-Cookie headers by cookie name."""
    result = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        result[name] = header
    return result


async def test_login_sets_host_prefixed_secure_cookies(
    client: httpx.AsyncClient, account: Account
) -> None:
    """P22: the session cookie is HttpOnly, Secure, SameSite=Lax, Path=/, no Domain."""
    response = await cookie_login(client, account)
    assert response.status_code == 200
    cookies = _set_cookies(response)
    session = cookies["__Host-hl_session"].lower()
    assert "httponly" in session
    assert "secure" in session
    assert "samesite=lax" in session
    assert "path=/" in session
    assert "domain=" not in session
    # P18: a browser-session cookie by default (no Max-Age / Expires).
    assert "max-age" not in session
    assert "expires" not in session
    csrf = cookies["__Host-hl_csrf"].lower()
    assert "secure" in csrf
    assert "httponly" not in csrf  # the SPA must read it
    assert response.json()["csrf_token"]


async def test_remember_me_makes_the_cookie_persistent_up_to_absolute_timeout(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    """P18: the optional persistent cookie lasts at most the absolute timeout."""
    response = await cookie_login(client, account, remember=True)
    session = _set_cookies(response)["__Host-hl_session"].lower()
    max_age = int(re.search(r"max-age=(\d+)", session).group(1))  # type: ignore[union-attr]
    assert max_age == container.settings.session.absolute_timeout


async def test_session_token_has_at_least_128_bits_and_is_encrypted(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    """P17: the cookie value is sealed with AES-GCM, not merely signed."""
    await cookie_login(client, account)
    raw = client.cookies["__Host-hl_session"]
    assert raw.startswith("v1.")
    token = container.cookies.read(
        Request({"type": "http", "headers": [(b"cookie", f"__Host-hl_session={raw}".encode())]}),
        SESSION_COOKIE,
    )
    assert token is not None
    assert token not in raw
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    sealed = raw.split(".", 2)[2]
    assert len(base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))) >= 12 + 16 + 16


@pytest.mark.parametrize("encoding", ["plain", "base64", "hex", "urlencoded"])
async def test_no_cookie_value_contains_personal_data_in_any_encoding(
    client: httpx.AsyncClient, encoding: str
) -> None:
    """P16: no personal or traceable customer information in cookies."""
    account = await register(client, email=f"privacy-{encoding}@example.com")
    response = await cookie_login(client, account, remember=True)
    me = (await client.get(ME)).json()
    personal = [account.email, me["user"]["display_name"], account.user_id, "Ada", "Lovelace"]

    def encodings(value: str) -> list[str]:
        data = value.encode()
        return {
            "plain": [value, value.lower()],
            "base64": [
                base64.b64encode(data).decode().rstrip("="),
                base64.urlsafe_b64encode(data).decode().rstrip("="),
            ],
            "hex": [data.hex()],
            "urlencoded": [httpx.QueryParams({"v": value}).get("v") or value],
        }[encoding]

    values = []
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        values.extend(morsel.value for morsel in jar.values())
    assert len(values) == 2
    for value in values:
        for item in personal:
            for form in encodings(item):
                assert form not in value, f"{encoding} form of personal data in a cookie"
        assert account.user_id.replace("-", "") not in value


async def test_tampered_cookie_is_refused_and_cleared(
    client: httpx.AsyncClient, account: Account
) -> None:
    await cookie_login(client, account)
    raw = client.cookies["__Host-hl_session"]
    client.cookies.set("__Host-hl_session", raw[:-4] + "AAAA")
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    cleared = _set_cookies(response)
    assert "max-age=0" in cleared["__Host-hl_session"].lower()


async def test_no_credentials_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_authorization_header_wins_over_cookie(
    client: httpx.AsyncClient, account: Account
) -> None:
    await cookie_login(client, account)
    response = await client.get(ME, headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
