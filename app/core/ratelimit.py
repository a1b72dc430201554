"""Throttles shared by every API process, built on the `limits` library.

Services hold a `RateLimiter` and call `await limiter.hit(rule, identifier...)`; over the limit
it raises `RateLimited` (429, `Retry-After`). Counters live where every process sees them:

- in the SQL database by default (`SQLStorage`: the `rate_limit_counters` table, one atomic
  upsert per hit, times from the injected clock so tests move a `FrozenClock`);
- in Redis when `HOSTLEDGER_REDIS_URL` is set (limits' own async `RedisStorage` through
  redis-py; Redis keeps real time, so Retry-After is computed against the wall clock there).

The strategy is limits' fixed window: a window opens at the first hit of a key and lasts the
rule's period; a rejected hit still counts but never extends the window.

Identifiers never reach the storage as given: they are joined and hashed with a key derived
from the application secret, so neither the counters table nor Redis holds IP addresses or
other personal data. Callers must still pass *blind indexes* for accounts, never raw emails.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import cast

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from sqlalchemy import Table, case, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from app.core.clock import Clock
from app.core.config import Settings
from app.core.db import Database
from app.core.errors import RateLimited
from app.models.security import RateLimitCounter

__all__ = [
    "RateLimiter",
    "RateRule",
    "SQLStorage",
    "build_rate_limiter",
    "parse_limit",
]

_ZERO_WINDOW = re.compile(r"(?:/|per)\s*0+\s*[a-z]", re.IGNORECASE)
_RULE_NAME = re.compile(r"^[a-z0-9_.:-]{1,64}$")
_KEY_NAMESPACE = "hl"
_REDIS_KEY_PREFIX = "hostledger:rl"
_KEY_DERIVATION_LABEL = b"hostledger/ratelimit/v1"


@lru_cache(maxsize=256)
def parse_limit(limit: str) -> RateLimitItem:
    """Parse exactly one limit in `limits` notation ("30/minute", "10/5minutes").

    Stricter than `limits.parse`, which silently keeps the first of "1/second; 5/minute",
    accepts "0/minute" and reads "10/0minutes" as one minute.
    """
    items = parse_many(limit)
    if len(items) != 1:
        raise ValueError(f"expected exactly one rate limit, got {limit!r}")
    item = items[0]
    if item.amount < 1 or _ZERO_WINDOW.search(limit):
        raise ValueError(f"a rate limit needs a count and a window of at least 1: {limit!r}")
    item.namespace = _KEY_NAMESPACE
    return item


@dataclass(frozen=True)
class RateRule:
    """A named limit: `RateRule("login:ip", settings.rate_limit.login_per_ip)`.

    The name keeps counters of different rules apart even when their limits are equal.
    The limit string is checked when the rule is made, so a bad one fails at startup.
    """

    name: str
    limit: str

    def __post_init__(self) -> None:
        if not _RULE_NAME.match(self.name):
            raise ValueError(f"rule names are 1-64 of [a-z0-9_.:-], got {self.name!r}")
        parse_limit(self.limit)

    @property
    def item(self) -> RateLimitItem:
        return parse_limit(self.limit)


class SQLStorage(Storage):
    """A `limits` async storage on our SQL database (fixed window only).

    Every call runs on its own short connection, never in the request's session: a hit counts
    even when the request later rolls back, and the counter row is locked only for the one
    upsert statement.
    """

    STORAGE_SCHEME = None  # built directly with the app's Database and Clock, not from a URI

    def __init__(self, database: Database, clock: Clock, *, wrap_exceptions: bool = False) -> None:
        super().__init__(wrap_exceptions=wrap_exceptions)
        self.database = database
        self.clock = clock
        self._table = cast(Table, RateLimitCounter.__table__)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        dialect = self.database.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(self._table)
        if dialect == "sqlite":
            return sqlite.insert(self._table)
        raise NotImplementedError(f"SQLStorage does not support the {dialect!r} dialect")

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's counter in one atomic upsert; start a new window of
        `expiry` seconds when there is no row or its window has passed."""
        now = self.clock.now()
        table = self._table
        insert = self._insert().values(
            key=key, count=amount, expires_at=now + timedelta(seconds=expiry)
        )
        proposed = insert.excluded  # the values the INSERT would have written
        window_passed = table.c["expires_at"] <= now
        statement = insert.on_conflict_do_update(
            index_elements=[table.c["key"]],
            set_={
                "count": case(
                    (window_passed, proposed["count"]), else_=table.c["count"] + proposed["count"]
                ),
                "expires_at": case(
                    (window_passed, proposed["expires_at"]), else_=table.c["expires_at"]
                ),
            },
        ).returning(table.c["count"])
        async with self.database.engine.begin() as connection:
            count = (await connection.execute(statement)).scalar_one()
        return int(count)

    async def get(self, key: str) -> int:
        table = self._table
        statement = select(table.c["count"]).where(
            table.c["key"] == key, table.c["expires_at"] > self.clock.now()
        )
        async with self.database.engine.connect() as connection:
            count = (await connection.execute(statement)).scalar_one_or_none()
        return int(count or 0)

    async def get_expiry(self, key: str) -> float:
        """The end of the key's current window as a POSIX timestamp (now when it has none)."""
        now = self.clock.now()
        table = self._table
        statement = select(table.c["expires_at"]).where(
            table.c["key"] == key, table.c["expires_at"] > now
        )
        async with self.database.engine.connect() as connection:
            expires_at: datetime | None = (await connection.execute(statement)).scalar_one_or_none()
        return (expires_at or now).timestamp()

    async def check(self) -> bool:
        try:
            async with self.database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    async def reset(self) -> int | None:
        """Drop every counter (all rules, all keys)."""
        async with self.database.engine.begin() as connection:
            result = await connection.execute(delete(self._table))
        return int(result.rowcount)

    async def clear(self, key: str) -> None:
        async with self.database.engine.begin() as connection:
            await connection.execute(delete(self._table).where(self._table.c["key"] == key))

    async def prune_expired(self, now: datetime | None = None) -> int:
        """Delete the rows whose window has passed (by `now`, default the clock); a scheduled
        job calls this so the table holds only live windows. Returns the rows deleted."""
        moment = now or self.clock.now()
        statement = delete(self._table).where(self._table.c["expires_at"] <= moment)
        async with self.database.engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)


class RateLimiter:
    """The throttle services use. Build it with `build_rate_limiter`; inject it.

    Identifiers (an IP address, an account's email *blind index*, a user id) name whose
    counter a hit goes to. Never pass a raw email or other personal data in clear: callers
    pass blind indexes, and identifiers are hashed again (HMAC) before they reach storage.
    """

    def __init__(
        self, storage: Storage, *, key_secret: bytes, now: Callable[[], float] = time.time
    ) -> None:
        """`now` gives POSIX seconds in the storage's own time: the injected clock for the SQL
        storage, the wall clock for Redis (which expires keys in real time)."""
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)
        self._key_secret = key_secret
        self._now = now

    def _identity(self, rule: RateRule, identifiers: tuple[str, ...]) -> tuple[str, str]:
        message = "\x1f".join((rule.name, *identifiers)).encode()
        digest = hmac.new(self._key_secret, message, hashlib.sha256).hexdigest()[:32]
        return rule.name, digest

    async def hit(self, rule: RateRule, *identifiers: str) -> None:
        """Consume one unit of `rule` for `identifiers`; raise `RateLimited` when over."""
        item = rule.item
        identity = self._identity(rule, identifiers)
        if await self.strategy.hit(item, *identity):
            return
        reset_at = await self.storage.get_expiry(item.key_for(*identity))
        raise RateLimited(retry_after=max(1, math.ceil(reset_at - self._now())))

    async def test(self, rule: RateRule, *identifiers: str) -> bool:
        """Would a hit pass now? Consumes nothing."""
        return await self.strategy.test(rule.item, *self._identity(rule, identifiers))

    async def clear(self, rule: RateRule, *identifiers: str) -> None:
        """Forget the counter (e.g. after a successful login)."""
        await self.strategy.clear(rule.item, *self._identity(rule, identifiers))

    async def retry_after(self, rule: RateRule, *identifiers: str) -> int:
        """Seconds until the current window of this counter ends (at least 1)."""
        item = rule.item
        reset_at = await self.storage.get_expiry(item.key_for(*self._identity(rule, identifiers)))
        return max(1, math.ceil(reset_at - self._now()))

    async def aclose(self) -> None:
        """Close the Redis connection pool, if any (the SQL engine belongs to the app)."""
        if isinstance(self.storage, RedisStorage):
            client = getattr(self.storage.bridge, "storage", None)
            if client is not None:
                await client.aclose()


def _limits_redis_uri(url: str) -> str:
    """Turn `redis://host[:port]/db` into the URI limits' async storage wants: the `async+`
    scheme, and an explicit port (limits refuses a location without one)."""
    url = url.removeprefix("async+")
    if url.startswith("unix://"):
        url = "redis+unix://" + url.removeprefix("unix://")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("HOSTLEDGER_REDIS_URL must look like redis://host:6379/0")
    if scheme in ("redis", "rediss"):
        authority, slash, path = rest.partition("/")
        credentials, at, hostport = authority.rpartition("@")
        if hostport and not re.search(r":\d+$", hostport):
            hostport += ":6379"
        rest = f"{credentials}{at}{hostport}{slash}{path}"
    return f"async+{scheme}://{rest}"


def _derive_key_secret(settings: Settings) -> bytes:
    return hmac.new(settings.secrets.secret_key, _KEY_DERIVATION_LABEL, hashlib.sha256).digest()


def build_rate_limiter(*, settings: Settings, database: Database, clock: Clock) -> RateLimiter:
    """Redis when `settings.redis_url` is set, else the SQL database; both shared by every
    API process. Connections are opened lazily, on the first hit."""
    key_secret = _derive_key_secret(settings)
    if settings.redis_url:
        storage = RedisStorage(
            _limits_redis_uri(settings.redis_url),
            implementation="redispy",
            key_prefix=_REDIS_KEY_PREFIX,
        )
        return RateLimiter(storage=storage, key_secret=key_secret, now=time.time)
    return RateLimiter(
        storage=SQLStorage(database, clock),
        key_secret=key_secret,
        now=lambda: clock.now().timestamp(),
    )
