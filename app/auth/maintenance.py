"""Housekeeping for authentication state, run by `hostledger jobs prune-auth`.

Nothing here is evidence: the security event log and the sessions table are kept. What goes is
state that has stopped meaning anything: spent or expired single-use tokens, rate-limit windows
that have closed, and failed-login counters that are old and no longer lock anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, delete, or_

from app.core.clock import Clock
from app.core.db import Database
from app.core.ratelimit import RateLimiter, SQLStorage
from app.models.security import LoginThrottle, OneTimeToken

# Spent tokens stay a day, so "this link was already used" can still be answered.
SPENT_TOKEN_GRACE = timedelta(days=1)
# Failures older than this stop counting as "consecutive".
THROTTLE_MEMORY = timedelta(hours=1)


@dataclass(frozen=True)
class PruneReport:
    tokens: int
    throttles: int
    rate_limit_windows: int


async def prune_auth_state(
    *, database: Database, clock: Clock, rate_limiter: RateLimiter
) -> PruneReport:
    now = clock.now()
    async with database.unit_of_work() as session:
        tokens = await session.execute(
            delete(OneTimeToken).where(
                or_(
                    OneTimeToken.expires_at < now - SPENT_TOKEN_GRACE,
                    OneTimeToken.used_at < now - SPENT_TOKEN_GRACE,
                )
            )
        )
        throttles = await session.execute(
            delete(LoginThrottle).where(
                and_(
                    or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
                    LoginThrottle.updated_at < now - THROTTLE_MEMORY,
                )
            )
        )
    windows = 0
    if isinstance(rate_limiter.storage, SQLStorage):  # Redis expires its own keys
        windows = await rate_limiter.storage.prune_expired(now)
    return PruneReport(
        tokens=int(tokens.rowcount),  # type: ignore[attr-defined]
        throttles=int(throttles.rowcount),  # type: ignore[attr-defined]
        rate_limit_windows=windows,
    )
