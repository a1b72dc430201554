"""Helpers for authentication tests: register and sign in through the real API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

PASSWORD = "orbit-lantern-quietly-57-harbour"
_counter = itertools.count(1)


@dataclass
class Account:
    email: str
    password: str
    user_id: str


async def register(
    client: httpx.AsyncClient, *, email: str | None = None, password: str = PASSWORD
) -> Account:
    email = email or f"customer{next(_counter)}@example.com"
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": password,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "country": "DE",
        },
    )
    assert response.status_code == 201, response.text
    return Account(email=email, password=password, user_id=response.json()["id"])


async def cookie_login(client: httpx.AsyncClient, account: Account, **extra: Any) -> httpx.Response:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": account.email, "password": account.password, **extra},
    )
    return response


async def token_login(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": account.email, "password": account.password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await register(client)
