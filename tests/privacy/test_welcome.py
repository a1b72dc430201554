"""The optional persistent welcome cookie (P16, P17, P18, P21)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.core.container import Container
from app.core.cookies import WELCOME_COOKIE
from app.models.customer import Customer
from app.models.privacy import WelcomeToken
from tests.privacy.helpers import API, member


def _clears(response: httpx.Response) -> bool:
    return any(
        header.startswith(f"{WELCOME_COOKIE.name}=") and "max-age=0" in header.lower()
        for header in response.headers.get_list("set-cookie")
    )


async def test_opt_in_greeting_and_opt_out(client: httpx.AsyncClient, container: Container) -> None:
    """P18: opting in sets a sealed random id; the greeting's name comes from the record."""
    ada = await member(client, container)
    response = await client.post(f"{API}/me/welcome", headers=ada.headers)
    assert response.status_code == 200
    assert response.json()["enabled"] is True
    header = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(WELCOME_COOKIE.name)
    )
    assert "max-age=7776000" in header.lower()  # 90 days: persistent on purpose
    raw = response.cookies[WELCOME_COOKIE.name]
    secret = container.crypto.cookies.open(raw, aad=WELCOME_COOKIE.name.encode()).decode()
    async with container.database.unit_of_work() as fresh:
        token = (await fresh.scalars(select(WelcomeToken))).one()
        assert token.token_hash != secret
        assert secret not in token.token_hash
        customer = await fresh.get(Customer, ada.customer_id)
        assert customer is not None
        customer.first_name = "Augusta"  # the greeting follows the record, not the cookie

    response = await client.get(f"{API}/welcome")
    assert response.json() == {"greeting": "Welcome back, Augusta!"}
    assert (await client.get(f"{API}/me/welcome", headers=ada.headers)).json()["enabled"]

    response = await client.delete(f"{API}/me/welcome", headers=ada.headers)
    assert response.status_code == 204
    assert _clears(response)
    client.cookies.clear()
    cookie = {"Cookie": f"{WELCOME_COOKIE.name}={raw}"}  # a copy kept elsewhere
    response = await client.get(f"{API}/welcome", headers=cookie)
    assert response.json() == {"greeting": "Welcome!"}
    assert _clears(response)  # a revoked cookie is cleared
    assert not (await client.get(f"{API}/me/welcome", headers=ada.headers)).json()["enabled"]


async def test_welcome_without_or_with_a_bad_cookie_is_generic(client: httpx.AsyncClient) -> None:
    """P21: no cookie, no error; a forged one is cleared."""
    response = await client.get(f"{API}/welcome")
    assert response.status_code == 200
    assert response.json() == {"greeting": "Welcome!"}
    assert "set-cookie" not in response.headers
    forged = {"Cookie": f"{WELCOME_COOKIE.name}=v1.c1.Zm9yZ2Vk"}
    response = await client.get(f"{API}/welcome", headers=forged)
    assert response.json() == {"greeting": "Welcome!"}
    assert _clears(response)


async def test_expired_welcome_cookie_is_generic(
    client: httpx.AsyncClient, container: Container, clock: object
) -> None:
    ada = await member(client, container)
    await client.post(f"{API}/me/welcome", headers=ada.headers)
    clock.advance(seconds=91 * 24 * 3600)  # type: ignore[attr-defined]
    response = await client.get(f"{API}/welcome")
    assert response.json() == {"greeting": "Welcome!"}


async def test_opting_in_needs_sign_in(client: httpx.AsyncClient) -> None:
    """P13."""
    assert (await client.post(f"{API}/me/welcome")).status_code == 401
    assert (await client.delete(f"{API}/me/welcome")).status_code == 401
