"""Registration validates every field and explains each error (P1)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from app.core.container import Container
from tests.auth.conftest import PASSWORD, register

URL = "/api/v1/auth/register"


def _body(**overrides: str) -> dict[str, str]:
    return {
        "email": "grace@example.com",
        "password": PASSWORD,
        "first_name": "Grace",
        "last_name": "Hopper",
        "country": "DE",
        **overrides,
    }


async def test_register_creates_a_customer(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json=_body())
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "customer"
    assert body["role"] is None
    assert body["email_verified"] is False
    assert "password" not in response.text


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"email": "not-an-email"}, "email", "email_invalid"),
        ({"password": "short"}, "password", "password_length"),
        ({"password": "x" * 129}, "password", "password_length"),
        ({"password": "password1234"}, "password", "password_too_weak"),
        ({"password": "grace.hopper.example"}, "password", "password_too_weak"),
        ({"first_name": ""}, "body.first_name", "string_too_short"),
        ({"last_name": "bad\x07name"}, "body.last_name", "string_pattern_mismatch"),
    ],
)
async def test_each_invalid_field_is_named(
    client: httpx.AsyncClient, overrides: dict[str, str], field: str, code: str
) -> None:
    """P1: every contact field is validated and each error is explained."""
    response = await client.post(URL, json=_body(**overrides))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in errors
    ]


async def test_password_using_own_email_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        URL, json=_body(email="zanzibar.quokka@example.com", password="zanzibarquokka")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "password_too_weak"


async def test_duplicate_email_is_409_without_detail(client: httpx.AsyncClient) -> None:
    await register(client, email="twice@example.com")
    response = await client.post(URL, json=_body(email="TWICE@example.com"))
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert "twice@example.com" not in response.text.lower()


async def test_password_is_stored_as_argon2id(
    client: httpx.AsyncClient, container: Container
) -> None:
    await register(client, email="hash@example.com")
    async with container.database.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT password_hash FROM users"))).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_registration_is_throttled_per_ip(client: httpx.AsyncClient) -> None:
    for index in range(10):
        await register(client, email=f"burst{index}@example.com")
    response = await client.post(URL, json=_body(email="one-too-many@example.com"))
    assert response.status_code == 429
    assert response.headers["retry-after"].isdigit()
