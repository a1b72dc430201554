"""The cookie registry (P16, P17, P18, P21): declared, published, and the only cookies set."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Response

from app.core.container import Container
from app.core.cookies import (
    CONSENT_COOKIE,
    REGISTERED_NAMES,
    REGISTRY,
    SESSION_COOKIE,
    WELCOME_COOKIE,
    CookieCategory,
)
from app.core.crypto import DecryptionError, Keyring
from tests.auth.conftest import cookie_login, register
from tests.cookie_guard import CookieGuard, cookie_names
from tests.privacy.helpers import API, member


async def test_registry_is_published_without_signing_in(client: httpx.AsyncClient) -> None:
    """P16/P18: GET /privacy/cookies lists every registered cookie, publicly."""
    response = await client.get(f"{API}/privacy/cookies")
    assert response.status_code == 200
    published = {item["name"]: item for item in response.json()}
    assert set(published) == REGISTERED_NAMES
    consent = published[CONSENT_COOKIE.name]
    assert consent["category"] == CookieCategory.NECESSARY.value
    assert consent["encrypted"] is True
    assert consent["http_only"] is True
    welcome = published[WELCOME_COOKIE.name]
    assert welcome["category"] == CookieCategory.FUNCTIONAL.value
    assert welcome["encrypted"] is True
    assert "90 days" in welcome["lifetime"]
    assert all(item["purpose"] and item["lifetime"] for item in published.values())


def test_every_cookie_that_carries_data_is_encrypted() -> None:
    """P17: only the CSRF token (a random MAC, no data) is stored unsealed."""
    unsealed = {spec.name for spec in REGISTRY if not spec.encrypted}
    assert unsealed == {"__Host-hl_csrf"}
    assert all(spec.name.startswith("__Host-") for spec in REGISTRY)


async def test_the_guard_catches_an_undeclared_cookie() -> None:
    """P16: the wrapper every test client uses fails on a cookie the registry lacks."""
    rogue = FastAPI()

    @rogue.get("/")
    async def index(response: Response) -> dict[str, str]:
        response.set_cookie("tracker", "x")
        response.set_cookie(SESSION_COOKIE.name, "y")
        return {}

    guard = CookieGuard(rogue)
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
        await http.get("/")
    assert guard.violations == ["GET /: tracker"]
    assert cookie_names('a="b c"; Path=/; Secure') == ["a"]


async def test_representative_responses_set_only_registered_cookies(
    client: httpx.AsyncClient, container: Container
) -> None:
    """P16: login, logout, consent, welcome and errors set only declared cookies."""
    seen: list[str] = []

    def collect(response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            seen.extend(cookie_names(header))
        return response

    account = await register(client)
    collect(await cookie_login(client, account))
    csrf = client.cookies.get("__Host-hl_csrf")
    collect(await client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf or ""}))
    collect(
        await client.put(
            f"{API}/privacy/consent", json={"tracking_cookies": True, "marketing_email": False}
        )
    )
    ada = await member(client, container)
    collect(await client.post(f"{API}/me/welcome", headers=ada.headers))
    collect(await client.get(f"{API}/welcome"))
    collect(await client.delete(f"{API}/me/welcome", headers=ada.headers))
    client.cookies.clear()
    forged = {"Cookie": f"{SESSION_COOKIE.name}=forged"}
    collect(await client.get(f"{API}/auth/me", headers=forged))
    collect(await client.get(f"{API}/no-such-route"))
    assert seen, "the requests above set cookies"
    assert set(seen) <= REGISTERED_NAMES
    assert {SESSION_COOKIE.name, CONSENT_COOKIE.name, WELCOME_COOKIE.name} <= set(seen)


@pytest.mark.parametrize("spec", [SESSION_COOKIE, CONSENT_COOKIE, WELCOME_COOKIE])
async def test_cookie_values_are_sealed_not_plaintext(
    client: httpx.AsyncClient, container: Container, spec: object
) -> None:
    """P16/P17: values start with `v1.`, open only with the key, and show no data."""
    ada = await member(client, container)
    if spec is SESSION_COOKIE:
        response = await cookie_login(client, ada.account)
    elif spec is CONSENT_COOKIE:
        response = await client.put(
            f"{API}/privacy/consent", json={"tracking_cookies": True, "marketing_email": True}
        )
    else:
        response = await client.post(f"{API}/me/welcome", headers=ada.headers)
    name = spec.name  # type: ignore[attr-defined]
    raw = response.cookies.get(name)
    assert raw is not None
    assert raw.startswith("v1.")
    for readable in ("Ada", ada.email, "tracking", "true", "marketing"):
        assert readable not in raw
    opened = container.crypto.cookies.open(raw, aad=name.encode()).decode()
    assert opened
    assert "Ada" not in opened
    assert ada.email not in opened
    stranger = Keyring([("c1", b"\x01" * 32)])
    with pytest.raises(DecryptionError):
        stranger.open(raw, aad=name.encode())
