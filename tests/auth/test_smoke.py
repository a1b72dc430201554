from __future__ import annotations

import httpx

from tests.auth.conftest import Account, cookie_login, token_login


async def test_cookie_and_token_me(client: httpx.AsyncClient, account: Account) -> None:
    response = await cookie_login(client, account)
    assert response.status_code == 200, response.text
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["method"] == "cookie"
    client.cookies.clear()
    tokens = await token_login(client, account)
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200, me.text
    assert me.json()["method"] == "bearer"
