"""Preparing data through the public API (users, logins), shared by the scenarios."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import httpx

from bench.errors import EndpointMissing, SetupError

API = "/api/v1"
REGISTER = f"{API}/auth/register"
LOGIN = f"{API}/auth/login"
TOKEN = f"{API}/auth/token"
ME = f"{API}/auth/me"
SESSION_COOKIE = "__Host-hl_session"


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str

    def login_body(self) -> str:
        return json.dumps({"email": self.email, "password": self.password, "remember": False})


def new_credentials(label: str) -> Credentials:
    return Credentials(
        email=f"bench-{label}-{secrets.token_hex(4)}@example.com",
        password=f"Bench-{secrets.token_urlsafe(18)}",
    )


def expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    """Fail with a message that says what to do: 404 means the endpoint is not built yet."""
    if response.status_code == 404:
        raise EndpointMissing(
            f"{what} answered 404: that endpoint is not in this build yet (the authentication"
            " endpoints are still being written); the authenticated measurements need it"
        )
    if response.status_code != status:
        raise SetupError(
            f"{what} answered {response.status_code}, expected {status}: {response.text[:300]}"
        )
    return response


def register(client: httpx.Client, credentials: Credentials) -> None:
    body = {
        "email": credentials.email,
        "password": credentials.password,
        "first_name": "Bench",
        "last_name": "Mark",
        "country": "DE",
    }
    expect(client.post(REGISTER, json=body), 201, f"POST {REGISTER}")


def cookie_from(response: httpx.Response, name: str) -> str | None:
    """Read a cookie straight from Set-Cookie: `__Host-` cookies are Secure, and we talk plain
    http to 127.0.0.1, so a cookie jar would rightly refuse to send them back."""
    for header in response.headers.get_list("set-cookie"):
        key, _, value = header.split(";", 1)[0].strip().partition("=")
        if key == name:
            return value
    return None


def login_session(client: httpx.Client, credentials: Credentials) -> str:
    """Log in with the JSON login; returns the session cookie's value."""
    response = expect(
        client.post(LOGIN, content=credentials.login_body(), headers=_json_headers()),
        200,
        f"POST {LOGIN}",
    )
    value = cookie_from(response, SESSION_COOKIE)
    if not value:
        raise SetupError(f"POST {LOGIN} set no {SESSION_COOKIE} cookie")
    return value


def login_token(client: httpx.Client, credentials: Credentials) -> str:
    """The OAuth2 password grant; returns the access token."""
    form = {"username": credentials.email, "password": credentials.password}
    response = expect(client.post(TOKEN, data=form), 200, f"POST {TOKEN}")
    token = response.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise SetupError(f"POST {TOKEN} returned no access_token")
    return token


def cookie_header(value: str) -> str:
    return f"Cookie: {SESSION_COOKIE}={value}"


def bearer_header(token: str) -> str:
    return f"Authorization: Bearer {token}"


def header_pair(header: str) -> tuple[str, str]:
    name, _, value = header.partition(":")
    return name.strip(), value.strip()


def get_ok(client: httpx.Client, path: str, *headers: str, times: int = 1) -> None:
    """GET `path` with wrk-style headers, expecting 200 (also serves as a warm-up)."""
    for _ in range(times):
        response = client.get(path, headers=dict(header_pair(h) for h in headers))
        expect(response, 200, f"GET {path}")


def _json_headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "Accept": "application/json"}
