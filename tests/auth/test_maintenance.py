"""`hostledger jobs prune-auth`: stale sign-in state goes, evidence stays."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from app.auth.maintenance import prune_auth_state
from app.core.clock import FrozenClock
from app.core.container import Container
from app.core.ratelimit import RateRule
from app.models.security import LoginThrottle, OneTimeToken, RateLimitCounter, SecurityEvent
from tests.auth.conftest import Account


async def _count(container: Container, model: type) -> int:
    async with container.database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_prune_keeps_live_state_and_removes_stale_state(
    client: httpx.AsyncClient, account: Account, container: Container, clock: FrozenClock
) -> None:
    # Registration left a live verification token; a failed login left a counter and events.
    await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "not-the-password-1"}
    )
    await container.rate_limiter.hit(RateRule("probe:x", "5/minute"), "client")
    events_before = await _count(container, SecurityEvent)

    report = await prune_auth_state(
        database=container.database, clock=clock, rate_limiter=container.rate_limiter
    )
    assert report.tokens == report.throttles == report.rate_limit_windows == 0
    assert await _count(container, OneTimeToken) == 1
    assert await _count(container, LoginThrottle) == 1

    clock.advance(timedelta(days=4))
    report = await prune_auth_state(
        database=container.database, clock=clock, rate_limiter=container.rate_limiter
    )
    assert report.tokens == 1  # the 48 h verification link expired more than a day ago
    assert report.throttles == 1
    assert report.rate_limit_windows >= 1
    assert await _count(container, OneTimeToken) == 0
    assert await _count(container, LoginThrottle) == 0
    assert await _count(container, RateLimitCounter) == 0
    assert await _count(container, SecurityEvent) == events_before  # evidence is kept


async def test_a_current_lock_survives_pruning(container: Container, clock: FrozenClock) -> None:
    now = clock.now()
    async with container.database.unit_of_work() as session:
        session.add_all(
            [
                LoginThrottle(
                    email_index="locked",
                    consecutive_failures=9,
                    locked_until=now + timedelta(minutes=30),
                    updated_at=now - timedelta(hours=2),
                ),
                LoginThrottle(
                    email_index="stale",
                    consecutive_failures=2,
                    locked_until=None,
                    updated_at=now - timedelta(hours=2),
                ),
                LoginThrottle(
                    email_index="recent",
                    consecutive_failures=2,
                    locked_until=None,
                    updated_at=now - timedelta(minutes=5),
                ),
            ]
        )
    report = await prune_auth_state(
        database=container.database, clock=clock, rate_limiter=container.rate_limiter
    )
    assert report.throttles == 1
    async with container.database.sessionmaker() as session:
        left = set((await session.scalars(select(LoginThrottle.email_index))).all())
    assert left == {"locked", "recent"}
