"""Token mode: JWT access tokens bound to sessions, refresh rotation with reuse detection."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from jose import jwt

from app.core.clock import FrozenClock
from app.core.container import Container
from tests.auth.conftest import Account, token_login

ME = "/api/v1/auth/me"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_token_grant_returns_jwt_with_required_claims(
    client: httpx.AsyncClient, account: Account, container: Container
) -> None:
    tokens = await token_login(client, account)
    assert tokens["token_type"] == "bearer"
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "HS256"
    assert header["kid"]
    claims = jwt.get_unverified_claims(tokens["access_token"])
    assert {"iss", "aud", "sub", "sid", "iat", "exp", "jti"} <= claims.keys()
    assert claims["sub"] == account.user_id
    assert claims["exp"] - claims["iat"] <= container.settings.session.idle_timeout
    assert account.email not in json.dumps(claims)


async def test_wrong_password_token_grant_is_401(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": account.email, "password": "wrong-password-1"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


async def test_alg_none_is_refused(client: httpx.AsyncClient, account: Account) -> None:
    tokens = await token_login(client, account)
    claims = jwt.get_unverified_claims(tokens["access_token"])
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    response = await client.get(ME, headers=_bearer(forged))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_token_signed_with_another_key_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    tokens = await token_login(client, account)
    claims = jwt.get_unverified_claims(tokens["access_token"])
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": kid})
    response = await client.get(ME, headers=_bearer(forged))
    assert response.status_code == 401


@pytest.mark.parametrize("claim", ["exp", "iat", "aud", "iss", "sub", "sid"])
async def test_token_missing_a_required_claim_is_refused(
    client: httpx.AsyncClient, account: Account, container: Container, claim: str
) -> None:
    tokens = await token_login(client, account)
    claims = jwt.get_unverified_claims(tokens["access_token"])
    del claims[claim]
    codec = container.tokens
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    forged = jwt.encode(claims, codec._keys[kid], algorithm="HS256", headers={"kid": kid})
    response = await client.get(ME, headers=_bearer(forged))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    tokens = await token_login(client, account)
    clock.advance(seconds=tokens["expires_in"] + 1)
    response = await client.get(ME, headers=_bearer(tokens["access_token"]))
    assert response.status_code == 401


async def test_logout_stops_the_access_token_at_once(
    client: httpx.AsyncClient, account: Account
) -> None:
    tokens = await token_login(client, account)
    headers = _bearer(tokens["access_token"])
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    response = await client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "session_revoked"


async def test_refresh_rotates_and_reuse_revokes_the_session(
    client: httpx.AsyncClient, account: Account
) -> None:
    first = await token_login(client, account)
    rotated = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get(ME, headers=_bearer(second["access_token"]))).status_code == 200

    # The first refresh token comes back: somebody kept a copy.
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "session_revoked"
    # The whole session is gone: the newest access and refresh tokens die with it.
    assert (await client.get(ME, headers=_bearer(second["access_token"]))).status_code == 401
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert again.status_code == 401


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_refresh_keeps_an_active_session_alive(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    tokens = await token_login(client, account)
    for _ in range(3):
        clock.advance(seconds=tokens["expires_in"] + 1)
        response = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert response.status_code == 200, response.text
        tokens = response.json()
    assert (await client.get(ME, headers=_bearer(tokens["access_token"]))).status_code == 200


async def test_refresh_after_idle_timeout_is_session_expired(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    tokens = await token_login(client, account)
    clock.advance(seconds=container.settings.session.idle_timeout + 1)
    response = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "session_expired"


async def test_token_grant_accepts_what_swagger_ui_sends(
    client: httpx.AsyncClient, account: Account
) -> None:
    """Swagger UI's Authorize button posts the full OAuth2 password-grant form."""
    response = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": account.email,
            "password": account.password,
            "scope": "",
            "client_id": "",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"


async def test_openapi_declares_the_password_flow_for_swagger(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    flow = spec["components"]["securitySchemes"]["OAuth2"]["flows"]["password"]
    assert flow["tokenUrl"] == "/api/v1/auth/token"
    assert "users:read" in flow["scopes"]
    keys = spec["paths"]["/api/v1/api-keys"]["post"]["security"]
    assert {"OAuth2": ["api_keys:manage"]} in keys
