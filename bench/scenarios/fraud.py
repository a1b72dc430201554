"""The fraud check at scale: `FraudService.score` for one realistic order with 1,000,000 prior
orders, 1,000,000 security events and 1,000,000 earlier fraud checks, against 10,000 of each.

One server and one database. The scored order belongs to a customer registered through the API
(a real user, a real email blind index) with a fixed history seeded once: earlier orders from
its IP address and its account over the last month (some in the last hour and day), other
customers' orders from the same address, registrations from the address and failed sign-ins on
the account, and earlier checks sharing its IP, email and phone. Around it, "noise" grows from
10,000 to 1,000,000 rows per table: orders of 10,000 other customers from 250,000 public
addresses placed over the last 30 days (so about 1 in 30 falls in a 24-hour window), security
events of type registered / login_failed / login_succeeded from the same addresses, and one
fraud check per noise order, 1 in 100 labelled fraud, some orders refused as fraud.

The check runs in this process against the scenario's PostgreSQL database, every enabled rule
included, each run in its own unit of work as an order's check would be; p50 over RUNS runs
after WARM_UP runs, at 10,000 and again after growing to 1,000,000. Target: ratio <= 1.5 (the
velocity, history and link queries are indexed range scans on the checked order's own keys).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import text

from app.core.clock import SystemClock
from app.core.config import parse_data_keys
from app.core.container import Container
from app.core.crypto import CryptoKit, Keyring, install_field_keyring
from app.customers.service import customer_email_index
from app.fraud.rules.base import FraudInputs
from app.fraud.service import IP_CONTEXT, PHONE_CONTEXT, FraudService
from app.models.fraud import CheckSubject
from bench import api
from bench.context import BenchContext, Scenario
from bench.errors import BenchError, SetupError
from bench.report import ScenarioResult, Status, TargetCheck
from bench.scenarios import billing, customers

SMALL = 10_000
LARGE = 1_000_000
POOL_CUSTOMERS = 10_000
RUNS = 300
WARM_UP = 30
RATIO_TARGET = 1.5
SEED_CHUNK = 250_000
WINDOW_DAYS = 30
# The checked order's own address: public (so the IP rules run) and outside the noise's 23.0.0.0/8.
TARGET_IP = "81.2.69.160"
TARGET_PHONE = "+4930901820"
SERVER_ENV = customers.SERVER_ENV

TARGET = (
    f"fraud check (FraudService.score, one order, all rules): p50 with {LARGE:,} prior orders,"
    f" security events and checks <= {RATIO_TARGET}x p50 with {SMALL:,}"
)
TARGETS = [TARGET]


def run(ctx: BenchContext) -> ScenarioResult:
    result = ScenarioResult(name=SCENARIO.name, description=SCENARIO.description)
    try:
        subject = _seed_subject(ctx)
        _seed_noise(ctx, 1, SMALL)
        small = asyncio.run(time_checks(ctx.server.database_url, subject, progress=ctx.console))
        _seed_noise(ctx, SMALL + 1, LARGE)
        large = asyncio.run(time_checks(ctx.server.database_url, subject, progress=ctx.console))
    except BenchError as exc:
        result.fail_targets(TARGETS, str(exc))
        return result
    for label, timing in ((f"{SMALL:,}", small), (f"{LARGE:,}", large)):
        result.notes.append(f"fraud check @ {label}: {timing.describe()}")
    result.notes.append(
        f"in-process against the scenario's database; {RUNS} timed runs after {WARM_UP}"
        f" warm-up runs per phase; noise grown from {SMALL:,} to {LARGE:,} rows per table on the"
        " same database (VACUUM ANALYZE, CHECKPOINT after each seeding)"
    )
    result.targets.append(ratio_check(small, large))
    return result


# --- the checked order ----------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The customer whose order is scored, and what the check needs to know about them."""

    customer_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    created_at: datetime


SUBJECT_HISTORY = """
    WITH subject AS (
        SELECT %(customer_id)s::uuid AS customer_id, %(user_id)s::uuid AS user_id
    ), other AS (
        SELECT id FROM customers WHERE user_id IS NULL ORDER BY number LIMIT 1
    )
    INSERT INTO orders (
        id, number, customer_id, status, currency, total, client_ip, user_agent, placed_at,
        created_at, updated_at
    )
    SELECT gen_random_uuid(), 'S-' || lpad(g::text, 6, '0'),
        CASE WHEN g <= 5 THEN (SELECT customer_id FROM subject) ELSE (SELECT id FROM other) END,
        CASE WHEN g <= 3 THEN 'active' ELSE 'pending' END, 'EUR', 1999 + g * 100,
        %(ip)s, 'Mozilla/5.0 (bench)', at, at, at
    FROM (
        SELECT g, now() - (ARRAY[interval '20 days', interval '9 days', interval '3 days',
            interval '5 hours', interval '20 minutes', interval '7 hours',
            interval '2 hours'])[g] AS at
        FROM generate_series(1, 7) AS g
    ) AS s
"""

SUBJECT_EVENTS = """
    INSERT INTO security_events (id, user_id, event_type, created_at, ip, user_agent, details)
    SELECT gen_random_uuid(),
        CASE WHEN g <= 3 THEN %(user_id)s::uuid END,
        CASE WHEN g <= 3 THEN 'login_failed' ELSE 'registered' END,
        now() - g * interval '1 hour', %(ip)s, 'Mozilla/5.0 (bench)', '{}'
    FROM generate_series(1, 5) AS g
"""

SUBJECT_CHECKS = """
    INSERT INTO fraud_checks (
        id, kind, subject, customer_id, created_at, score, risk_level, disposition, reasons,
        inputs, ip_country, billing_country, email_domain, amount, currency, ip_index,
        email_index, phone_index, ruleset_version, duration_us
    )
    SELECT gen_random_uuid(), 'fraud', 'order',
        CASE WHEN g <= 5 THEN %(customer_id)s::uuid
            ELSE (SELECT id FROM customers WHERE user_id IS NULL ORDER BY number LIMIT 1) END,
        now() - g * interval '1 day', 10, 'low', 'accept', '[]', %(inputs)s, 'GB', 'DE',
        'example.com', 1999, 'EUR', %(ip_index)s,
        CASE WHEN g <= 5 THEN %(email_index)s END, %(phone_index)s, 'bench', 900
    FROM generate_series(1, 7) AS g
"""


def _seed_subject(ctx: BenchContext) -> Subject:
    """The pool of other customers, then the subject (registered through the API) and its
    fixed history: identical in both phases, so only the table sizes change."""
    began = time.monotonic()
    params: dict[str, Any] = {
        "base_ms": int(time.time() * 1000) - (POOL_CUSTOMERS + 1) * 1000,
        "start": 1,
        "stop": POOL_CUSTOMERS,
        **customers.sealed_values(SERVER_ENV["HOSTLEDGER_DATA_KEYS"]),
    }
    billing._execute(ctx, (customers.seed_statement(), params))
    credentials = api.new_credentials("fraud")
    with httpx.Client(base_url=ctx.server.base_url, timeout=60.0) as client:
        api.register(client, credentials)
    row = _one(
        ctx,
        "SELECT id, user_id, created_at FROM customers WHERE user_id IS NOT NULL",
    )
    subject = Subject(
        customer_id=row[0], user_id=row[1], email=credentials.email, created_at=row[2]
    )
    keys = subject_indexes(
        CryptoKit(billing._bench_settings(ctx.server.database_url).secrets), subject.email
    )
    values = {
        "customer_id": subject.customer_id,
        "user_id": subject.user_id,
        "ip": TARGET_IP,
        "inputs": sealed_inputs(SERVER_ENV["HOSTLEDGER_DATA_KEYS"]),
        **keys,
    }
    billing._execute(
        ctx,
        (SUBJECT_HISTORY, values),
        (SUBJECT_EVENTS, values),
        (SUBJECT_CHECKS, values),
    )
    ctx.console.print(
        f"{POOL_CUSTOMERS:,} customers and the checked customer's history"
        f" in {time.monotonic() - began:.1f}s"
    )
    return subject


def _one(ctx: BenchContext, statement: str) -> tuple[Any, ...]:
    try:
        with customers._connect(ctx.server.database_url) as connection:
            row = connection.execute(statement).fetchone()
    except Exception as exc:  # psycopg errors: report, do not crash the run
        raise SetupError(f"query failed: {exc}") from exc
    if row is None:
        raise SetupError("the registered customer was not found")
    return tuple(row)


def _container(database_url: str) -> Container:
    container = Container.from_settings(billing._bench_settings(database_url), clock=SystemClock())
    install_field_keyring(container.crypto.fields)
    return container


def subject_indexes(crypto: CryptoKit, email: str) -> dict[str, str]:
    """The blind indexes the check computes for the subject, under the server's key."""
    return {
        "ip_index": crypto.blind_index.digest(TARGET_IP, context=IP_CONTEXT),
        "email_index": customer_email_index(crypto, email),
        "phone_index": crypto.blind_index.digest(TARGET_PHONE, context=PHONE_CONTEXT),
    }


def sealed_inputs(data_keys: str) -> str:
    plaintext = '{"subject": "order", "ip": "23.0.0.1", "amount": 1999, "currency": "EUR"}'
    return Keyring(parse_data_keys(data_keys)).seal(plaintext.encode(), aad=b"fraud_checks.inputs")


# --- the noise ------------------------------------------------------------------------------

# Row i: customer pool[i % N], address 23.x.y.z shared by four consecutive rows (250,000
# addresses per 1,000,000 rows), a time within the last WINDOW_DAYS days.
NOISE_ORDERS = """
    INSERT INTO orders (
        id, number, customer_id, status, currency, total, client_ip, user_agent, placed_at,
        created_at, updated_at
    )
    SELECT
        (lpad(to_hex(%(base_ms)s + i), 12, '0') || '7' || substr(h, 1, 3) || '8'
            || substr(h, 4, 15))::uuid,
        'N-' || lpad(i::text, 9, '0'),
        (%(customer_ids)s::uuid[])[1 + i %% %(customer_count)s],
        (ARRAY['active', 'active', 'active', 'pending', 'cancelled', 'active', 'pending',
            'active', 'active', 'fraud_review'])[1 + i %% 10],
        'EUR', 999 + i %% 5000,
        '23.' || (j / 65536 %% 256) || '.' || (j / 256 %% 256) || '.' || (j %% 256),
        'Mozilla/5.0 (bench)', at, at, at
    FROM (
        SELECT i, i / 4 AS j, md5('ord' || i::text) AS h,
            now() - ((i * 7919) %% (%(window_s)s)) * interval '1 second' AS at
        FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i
    ) AS s
"""

NOISE_EVENTS = """
    INSERT INTO security_events (id, event_type, created_at, ip, user_agent, details)
    SELECT gen_random_uuid(),
        (ARRAY['registered', 'login_failed', 'login_succeeded', 'login_succeeded'])[1 + i %% 4],
        now() - ((i * 7919) %% (%(window_s)s)) * interval '1 second',
        '23.' || (j / 65536 %% 256) || '.' || (j / 256 %% 256) || '.' || (j %% 256),
        'Mozilla/5.0 (bench)', '{}'
    FROM (
        SELECT i, (i * 31) %% 250000 AS j FROM generate_series(%(start)s::bigint, %(stop)s::bigint)
            AS i
    ) AS s
"""

NOISE_CHECKS = """
    INSERT INTO fraud_checks (
        id, kind, subject, customer_id, created_at, score, risk_level, disposition, reasons,
        inputs, ip_country, billing_country, email_domain, amount, currency, ip_index,
        email_index, phone_index, ruleset_version, duration_us, label
    )
    SELECT gen_random_uuid(), 'fraud', 'order', c, at, 10, 'low', 'accept', '[]', %(inputs)s,
        'DE', 'DE', 'example.com', 999 + i %% 5000, 'EUR',
        md5('ip' || (i / 4)::text) || md5('ip2' || (i / 4)::text),
        md5('em' || c::text) || md5('em2' || c::text),
        md5('ph' || c::text) || md5('ph2' || c::text),
        'bench', 900,
        CASE WHEN i %% 100 = 0 THEN 'fraud_confirmed' END
    FROM (
        SELECT i, (%(customer_ids)s::uuid[])[1 + i %% %(customer_count)s] AS c,
            now() - ((i * 7919) %% (%(window_s)s)) * interval '1 second' AS at
        FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i
    ) AS s
"""

# Some noise customers had an order refused as fraud (what the link rule looks for).
NOISE_FRAUD = (
    "UPDATE orders SET status = 'fraud' WHERE number LIKE %(prefix)s AND total %% 97 = 0"
    " AND status <> 'fraud'"
)


def noise_params(customer_ids: list[uuid.UUID], data_keys: str) -> dict[str, Any]:
    return {
        "base_ms": int(time.time() * 1000) - (LARGE + 1) * 10,
        "customer_ids": customer_ids,
        "customer_count": len(customer_ids),
        "window_s": WINDOW_DAYS * 24 * 3600,
        "inputs": sealed_inputs(data_keys),
    }


def _seed_noise(ctx: BenchContext, start: int, stop: int) -> None:
    began = time.monotonic()
    params = noise_params(
        billing._customer_ids(ctx, "user_id IS NULL"), SERVER_ENV["HOSTLEDGER_DATA_KEYS"]
    )
    for chunk_start in range(start, stop + 1, SEED_CHUNK):
        chunk_stop = min(chunk_start + SEED_CHUNK - 1, stop)
        chunk = {**params, "start": chunk_start, "stop": chunk_stop}
        billing._execute(ctx, (NOISE_ORDERS, chunk), (NOISE_EVENTS, chunk), (NOISE_CHECKS, chunk))
        ctx.console.print(f"seeded orders, security events and checks up to {chunk_stop:,}")
    billing._execute(ctx, (NOISE_FRAUD, {"prefix": "N-%"}))
    billing._maintain(ctx, "orders", "security_events", "fraud_checks", "customers")
    counts = _one(
        ctx,
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM security_events),"
        " (SELECT count(*) FROM fraud_checks)",
    )
    if min(int(c) for c in counts) < stop:
        raise SetupError(f"expected at least {stop:,} rows per table, found {counts}")
    ctx.console.print(
        f"noise {start:,}-{stop:,} in {time.monotonic() - began:.1f}s"
        f" (orders, events, checks: {', '.join(f'{int(c):,}' for c in counts)})"
    )


# --- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckTimes:
    """Seconds per `score` call, and the reasons the last one gave (to show it did the work).
    `round_trips` times a bare `SELECT 1` in the same units of work: how loaded the machine and
    the database were, so a slower phase can be told apart from a query that grew."""

    seconds: list[float]
    reason_codes: tuple[str, ...]
    round_trips: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    def quantile_ms(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def describe(self) -> str:
        return (
            f"p50 {self.p50_ms:.2f} ms, p90 {self.quantile_ms(0.9):.2f} ms,"
            f" p99 {self.quantile_ms(0.99):.2f} ms over {len(self.seconds)} runs;"
            f" reasons {', '.join(self.reason_codes) or 'none'};"
            f" a bare SELECT 1 round trip meanwhile: p50 {self.round_trip_ms:.2f} ms"
        )

    @property
    def round_trip_ms(self) -> float:
        return statistics.median(self.round_trips) * 1000 if self.round_trips else 0.0


def subject_inputs(service: FraudService, subject: Subject) -> FraudInputs:
    return service.inputs(
        subject=CheckSubject.ORDER,
        ip=TARGET_IP,
        user_agent="Mozilla/5.0 (bench)",
        email=subject.email,
        phone=TARGET_PHONE,
        billing_country="DE",
        amount=2999,
        currency="EUR",
        customer_id=subject.customer_id,
        user_id=subject.user_id,
        account_created_at=subject.created_at,
    )


async def time_checks(
    database_url: str,
    subject: Subject,
    *,
    progress: Console | None = None,
    runs: int = RUNS,
    warm_up: int = WARM_UP,
) -> CheckTimes:
    container = _container(database_url)
    seconds: list[float] = []
    round_trips: list[float] = []
    codes: tuple[str, ...] = ()
    try:
        for index in range(warm_up + runs):
            async with container.database.unit_of_work() as session:
                service = FraudService(session=session, container=container)
                inputs = subject_inputs(service, subject)
                began = time.perf_counter()
                assessment = await service.score(inputs)
                elapsed = time.perf_counter() - began
                began = time.perf_counter()
                await session.execute(text("SELECT 1"))
                round_trip = time.perf_counter() - began
            if index >= warm_up:
                seconds.append(elapsed)
                round_trips.append(round_trip)
            codes = assessment.reason_codes
    finally:
        await container.aclose()
        await container.database.dispose()
    if progress is not None:
        progress.print(
            f"fraud check p50 {statistics.median(seconds) * 1000:.2f} ms over {runs} runs"
        )
    return CheckTimes(seconds=seconds, reason_codes=codes, round_trips=round_trips)


def ratio_check(small: CheckTimes, large: CheckTimes) -> TargetCheck:
    if not small.seconds or not large.seconds or small.p50_ms <= 0:
        return TargetCheck(TARGET, Status.ERROR, "no timings")
    ratio = large.p50_ms / small.p50_ms
    detail = (
        f"{ratio:.2f}x (p50 {large.p50_ms:.2f} ms vs {small.p50_ms:.2f} ms,"
        f" p99 {large.quantile_ms(0.99):.2f} ms vs {small.quantile_ms(0.99):.2f} ms;"
        f" SELECT 1 p50 {large.round_trip_ms:.2f} ms vs {small.round_trip_ms:.2f} ms)"
    )
    return TargetCheck(TARGET, Status.PASS if ratio <= RATIO_TARGET else Status.FAIL, detail)


SCENARIO = Scenario(
    name="fraud",
    description=(
        f"fraud-check time with {LARGE:,} prior orders, security events and checks"
        f" against {SMALL:,}"
    ),
    run=run,
    server_env=SERVER_ENV,
)
