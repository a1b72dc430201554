"""Throttles on the `limits` library: SQL storage by default, Redis when configured."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from app.core.clock import FrozenClock
from app.core.config import RateLimitSettings, Settings, load_settings, setting_env_names
from app.core.container import Container
from app.core.db import Database
from app.core.errors import RateLimited
from app.core.ratelimit import (
    RateLimiter,
    RateRule,
    SQLStorage,
    _limits_redis_uri,
    build_rate_limiter,
    parse_limit,
)
from app.models.security import RateLimitCounter

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"

LOGIN_IP = RateRule("test.login:ip", "3/minute")


@pytest.fixture
def limiter(container: Container) -> RateLimiter:
    return build_rate_limiter(
        settings=container.settings, database=container.database, clock=container.clock
    )


def _sql_storage(limiter: RateLimiter) -> SQLStorage:
    assert isinstance(limiter.storage, SQLStorage)
    return limiter.storage


async def _rows(database: Database) -> list[RateLimitCounter]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(RateLimitCounter))).all())


async def _admitted(limiter: RateLimiter, rule: RateRule, *identifiers: str) -> bool:
    try:
        await limiter.hit(rule, *identifiers)
    except RateLimited:
        return False
    return True


async def test_default_storage_is_the_database(limiter: RateLimiter) -> None:
    assert isinstance(limiter.storage, SQLStorage)
    assert await limiter.storage.check()


async def test_over_the_limit_raises_429_with_retry_after_from_the_clock(
    limiter: RateLimiter, clock: FrozenClock
) -> None:
    await limiter.hit(LOGIN_IP, "203.0.113.7")  # the window opens here and lasts 60 s
    clock.advance(seconds=10)
    await limiter.hit(LOGIN_IP, "203.0.113.7")
    await limiter.hit(LOGIN_IP, "203.0.113.7")

    with pytest.raises(RateLimited) as caught:
        await limiter.hit(LOGIN_IP, "203.0.113.7")
    assert caught.value.status == 429
    assert caught.value.code == "rate_limited"
    assert caught.value.headers["Retry-After"] == "50"

    clock.advance(seconds=35.5)
    with pytest.raises(RateLimited) as caught:
        await limiter.hit(LOGIN_IP, "203.0.113.7")
    assert caught.value.headers["Retry-After"] == "15"  # 14.5 s left, rounded up
    assert await limiter.retry_after(LOGIN_IP, "203.0.113.7") == 15


async def test_retry_after_is_at_least_one_second(limiter: RateLimiter, clock: FrozenClock) -> None:
    for _ in range(3):
        await limiter.hit(LOGIN_IP, "a")
    clock.advance(seconds=59.9)
    with pytest.raises(RateLimited) as caught:
        await limiter.hit(LOGIN_IP, "a")
    assert caught.value.headers["Retry-After"] == "1"


async def test_the_window_ends_and_requests_pass_again(
    limiter: RateLimiter, clock: FrozenClock
) -> None:
    for _ in range(3):
        await limiter.hit(LOGIN_IP, "a")
    for _ in range(5):  # rejected hits count, but never extend the window
        clock.advance(seconds=5)
        assert not await _admitted(limiter, LOGIN_IP, "a")
    assert not await limiter.test(LOGIN_IP, "a")

    clock.advance(seconds=35)  # exactly 60 s after the first hit
    assert await limiter.test(LOGIN_IP, "a")
    assert [await _admitted(limiter, LOGIN_IP, "a") for _ in range(4)] == [True, True, True, False]


async def test_test_does_not_consume(limiter: RateLimiter) -> None:
    for _ in range(10):
        assert await limiter.test(LOGIN_IP, "a")
    for _ in range(3):
        await limiter.hit(LOGIN_IP, "a")
    assert not await limiter.test(LOGIN_IP, "a")


async def test_identifiers_and_rules_are_independent(limiter: RateLimiter) -> None:
    other_rule = RateRule("test.register:ip", "3/minute")  # same limit, different rule
    for _ in range(3):
        await limiter.hit(LOGIN_IP, "198.51.100.1")
    assert not await _admitted(limiter, LOGIN_IP, "198.51.100.1")

    assert await _admitted(limiter, LOGIN_IP, "198.51.100.2")
    assert await _admitted(limiter, other_rule, "198.51.100.1")
    # Identifiers are joined without ambiguity: ("a", "b") is not ("a/b",) nor ("ab",).
    for _ in range(3):
        await limiter.hit(LOGIN_IP, "a", "b")
    assert await _admitted(limiter, LOGIN_IP, "a/b")
    assert await _admitted(limiter, LOGIN_IP, "ab")


async def test_identifiers_are_not_stored_in_clear(
    limiter: RateLimiter, container: Container
) -> None:
    await limiter.hit(LOGIN_IP, "203.0.113.99")
    [row] = await _rows(container.database)
    assert "203.0.113.99" not in row.key
    assert row.key.startswith("hl/test.login:ip/")
    assert row.count == 1
    assert row.expires_at == container.clock.now() + timedelta(minutes=1)


async def test_two_limiters_on_one_database_share_counts(
    container: Container, limiter: RateLimiter
) -> None:
    """Another API process: its own engine and pool on the same database."""
    other_database = Database.from_settings(container.settings.database)
    try:
        other = build_rate_limiter(
            settings=container.settings, database=other_database, clock=container.clock
        )
        await limiter.hit(LOGIN_IP, "a")
        await other.hit(LOGIN_IP, "a")
        await limiter.hit(LOGIN_IP, "a")
        assert not await other.test(LOGIN_IP, "a")
        with pytest.raises(RateLimited):
            await other.hit(LOGIN_IP, "a")
        await other.clear(LOGIN_IP, "a")
        assert await limiter.test(LOGIN_IP, "a")
    finally:
        await other_database.dispose()


async def test_concurrent_hits_admit_exactly_the_limit(
    container: Container, limiter: RateLimiter
) -> None:
    """30 simultaneous hits from two 'processes' on a limit of 10: exactly 10 pass.
    Runs on both databases; on PostgreSQL the upserts really race on the row."""
    rule = RateRule("test.burst", "10/minute")
    other_database = Database.from_settings(container.settings.database)
    try:
        other = build_rate_limiter(
            settings=container.settings, database=other_database, clock=container.clock
        )
        results = await asyncio.gather(
            *(_admitted(limiter if i % 2 else other, rule, "shared") for i in range(30))
        )
    finally:
        await other_database.dispose()
    assert results.count(True) == 10
    [row] = await _rows(container.database)
    assert row.count == 30


async def test_clear_resets_the_counter(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(LOGIN_IP, "a")
        await limiter.hit(LOGIN_IP, "b")
    await limiter.clear(LOGIN_IP, "a")
    assert await limiter.test(LOGIN_IP, "a")
    assert not await limiter.test(LOGIN_IP, "b")
    assert [await _admitted(limiter, LOGIN_IP, "a") for _ in range(4)] == [True, True, True, False]


async def test_prune_expired_deletes_only_expired_rows(
    limiter: RateLimiter, clock: FrozenClock, container: Container
) -> None:
    storage = _sql_storage(limiter)
    await limiter.hit(LOGIN_IP, "old")  # expires at t+60
    clock.advance(seconds=30)
    await limiter.hit(LOGIN_IP, "young")  # expires at t+90
    assert await storage.prune_expired(clock.now()) == 0

    clock.advance(seconds=30)  # t+60: "old" expires exactly now
    assert await storage.prune_expired(clock.now()) == 1
    [row] = await _rows(container.database)
    assert row.expires_at == clock.now() + timedelta(seconds=30)

    assert await storage.prune_expired(clock.now() + timedelta(hours=1)) == 1
    assert await _rows(container.database) == []


async def test_an_expired_row_restarts_its_window_on_the_next_hit(
    limiter: RateLimiter, clock: FrozenClock, container: Container
) -> None:
    for _ in range(3):
        await limiter.hit(LOGIN_IP, "a")
    clock.advance(hours=2)  # the row is still there (not pruned) but its window has passed
    assert await limiter.retry_after(LOGIN_IP, "a") == 1
    await limiter.hit(LOGIN_IP, "a")
    [row] = await _rows(container.database)
    assert row.count == 1
    assert row.expires_at == clock.now() + timedelta(minutes=1)


async def test_storage_reset_drops_every_counter(
    limiter: RateLimiter, container: Container
) -> None:
    await limiter.hit(LOGIN_IP, "a")
    await limiter.hit(LOGIN_IP, "b")
    assert await limiter.storage.reset() == 2
    assert await _rows(container.database) == []


# ---- settings and rules ---------------------------------------------------------------------


def test_rate_limit_settings_defaults_parse() -> None:
    group = RateLimitSettings()
    assert parse_limit(group.login_per_ip).get_expiry() == 60
    assert parse_limit(group.mfa_per_account).amount == 10
    assert parse_limit(group.mfa_per_account).get_expiry() == 300
    for value in group.model_dump().values():
        RateRule("probe", value)


@pytest.mark.parametrize(
    "value", ["lots", "30/fortnight", "0/minute", "10/0minutes", "1/second; 5/minute", ""]
)
def test_a_bad_limit_fails_settings_validation(value: str) -> None:
    with pytest.raises(ValidationError):
        RateLimitSettings(login_per_ip=value)


def test_a_bad_limit_in_the_environment_fails_at_startup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in setting_env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOSTLEDGER_RATE_LIMIT_MFA_PER_ACCOUNT", "ten a minute")
    with pytest.raises(ValidationError):
        load_settings(env="test")
    monkeypatch.setenv("HOSTLEDGER_RATE_LIMIT_MFA_PER_ACCOUNT", "10 per 5 minutes")
    assert load_settings(env="test").rate_limit.mfa_per_account == "10 per 5 minutes"


def test_rules_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="parse"):
        RateRule("login:ip", "often")
    with pytest.raises(ValueError, match="rule names"):
        RateRule("Login by IP", "5/minute")


def test_redis_urls_get_the_async_scheme_and_a_port() -> None:
    assert _limits_redis_uri("redis://127.0.0.1:6379/15") == "async+redis://127.0.0.1:6379/15"
    assert _limits_redis_uri("redis://cache/0") == "async+redis://cache:6379/0"
    assert _limits_redis_uri("rediss://:pw@cache") == "async+rediss://:pw@cache:6379"
    assert (
        _limits_redis_uri("unix:///run/redis.sock?db=1")
        == "async+redis+unix:///run/redis.sock?db=1"
    )


# ---- Redis ----------------------------------------------------------------------------------


@pytest.fixture
async def redis_limiter(container: Container) -> AsyncIterator[RateLimiter]:
    """Needs the local Redis (running here and in CI); database 15 is the tests' own."""
    settings: Settings = container.settings.model_copy(update={"redis_url": REDIS_TEST_URL})
    limiter = build_rate_limiter(
        settings=settings, database=container.database, clock=container.clock
    )
    yield limiter
    await limiter.aclose()


async def test_redis_limiter(redis_limiter: RateLimiter, container: Container) -> None:
    assert not isinstance(redis_limiter.storage, SQLStorage)
    assert await redis_limiter.storage.check()
    rule = RateRule("test.redis", "3/minute")
    who = uuid.uuid4().hex  # a fresh counter per run; Redis outlives the test
    try:
        assert [await _admitted(redis_limiter, rule, who) for _ in range(3)] == [True] * 3
        assert not await redis_limiter.test(rule, who)
        with pytest.raises(RateLimited) as caught:
            await redis_limiter.hit(rule, who)
        assert 1 <= int(caught.value.headers["Retry-After"]) <= 60
        assert await redis_limiter.test(rule, f"{who}-other")

        await redis_limiter.clear(rule, who)
        assert await redis_limiter.test(rule, who)

        burst = RateRule("test.redis.burst", "10/minute")
        results = await asyncio.gather(*(_admitted(redis_limiter, burst, who) for _ in range(30)))
        assert results.count(True) == 10
    finally:
        await redis_limiter.clear(rule, who)
        await redis_limiter.clear(RateRule("test.redis.burst", "10/minute"), who)
    assert await _rows(container.database) == []  # nothing went to the SQL table
