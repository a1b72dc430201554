"""Security timeout processing, enforced on the server (P23), with an injected clock."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.security import SecurityEvent
from app.models.session import UserSession
from tests.auth.conftest import Account, cookie_login, token_login

ME = "/api/v1/auth/me"


async def test_idle_session_expires_with_session_expired(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    await cookie_login(client, account)
    clock.advance(seconds=container.settings.session.idle_timeout + 1)
    response = await client.get(ME)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "session_expired"
    assert "15 minutes of inactivity" in body["detail"]
    assert "invalid_token" in response.headers["www-authenticate"]
    cleared = " ".join(response.headers.get_list("set-cookie")).lower()
    assert "__host-hl_session=" in cleared
    assert "max-age=0" in cleared


async def test_activity_keeps_the_session_alive(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    await cookie_login(client, account)
    for _ in range(5):
        clock.advance(seconds=container.settings.session.idle_timeout - 60)
        assert (await client.get(ME)).status_code == 200


async def test_absolute_timeout_ends_even_an_active_session(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    await cookie_login(client, account)
    step = container.settings.session.idle_timeout - 60
    elapsed = 0
    while elapsed + step < container.settings.session.absolute_timeout:
        clock.advance(seconds=step)
        elapsed += step
        assert (await client.get(ME)).status_code == 200
    clock.advance(seconds=container.settings.session.absolute_timeout - elapsed)
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "session_ended"


async def test_expired_session_stays_expired_and_is_recorded(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    await cookie_login(client, account)
    cookie = client.cookies["__Host-hl_session"]
    clock.advance(seconds=container.settings.session.idle_timeout + 1)
    assert (await client.get(ME)).json()["code"] == "session_expired"
    client.cookies.set("__Host-hl_session", cookie)
    clock.set(clock.now().replace(year=clock.now().year))  # same moment: no magic revival
    assert (await client.get(ME)).json()["code"] == "session_expired"
    async with container.database.sessionmaker() as session:
        ended = (await session.scalars(select(UserSession))).one()
        events = (await session.scalars(select(SecurityEvent.event_type))).all()
    assert ended.end_reason == "idle_timeout"
    assert "session_expired" in events


async def test_bearer_token_dies_with_its_idle_session(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    """The JWT alone is not enough: its session's idle timeout stops it at once."""
    tokens = await token_login(client, account)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert tokens["expires_in"] <= container.settings.session.idle_timeout
    clock.advance(seconds=tokens["expires_in"] - 1)
    assert (await client.get(ME, headers=headers)).status_code == 200
    clock.advance(seconds=2)
    response = await client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_last_seen_is_written_at_most_once_per_touch_interval(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    await cookie_login(client, account)
    login_time = clock.now()

    async def last_seen() -> object:
        async with container.database.sessionmaker() as session:
            return (await session.scalars(select(UserSession.last_seen_at))).one()

    clock.advance(seconds=container.settings.session.touch_interval - 1)
    await client.get(ME)
    assert await last_seen() == login_time
    clock.advance(seconds=2)
    await client.get(ME)
    assert await last_seen() == clock.now()
