"""The staff customer list at scale: `GET /api/v1/customers` with 1,000,000 customers against
10,000 (issue 4).

One server and one database: seed 10,000 customers, measure four list queries, grow the table
to 1,000,000 and measure the same queries again. Rows are seeded inside PostgreSQL
(`INSERT … SELECT … FROM generate_series`), with encrypted columns holding real ciphertexts
sealed once under the server's own data key, so the API decrypts them as it would any row.

Targets: for every query, p50 latency at 1,000,000 customers at most 1.5x the p50 at 10,000.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
from sqlalchemy.engine import make_url

from app.core.config import generate_secrets, parse_data_keys
from app.core.crypto import Keyring
from bench import api
from bench.context import BenchContext, Scenario
from bench.errors import BenchError, EndpointMissing, SetupError
from bench.report import Measurement, ScenarioResult, Status, TargetCheck, format_ms
from bench.server import hostledger_command, server_environment
from bench.wrk import WrkResult, run_wrk

CUSTOMERS = f"{api.API}/customers"
SMALL = 10_000
LARGE = 1_000_000
LATENCY_RATIO_TARGET = 1.5
PAGE = 50
DEEP_PAGES = 20  # the deep page is the 21st, reached by following the cursor
WARM_UP_REQUESTS = 20
SEED_CHUNK = 250_000  # rows per INSERT … SELECT, so progress shows and no statement runs long
ADMIN_EMAIL = "bench-admin@example.com"

# The server's secrets are pinned for this scenario: seeding seals values with its data key,
# and `hostledger create-admin` must use the same blind-index key as the server.
_SECRETS = generate_secrets()
SERVER_ENV = {
    "HOSTLEDGER_SECRET_KEY": _SECRETS["secret_key"],
    "HOSTLEDGER_DATA_KEYS": _SECRETS["data_keys"],
    "HOSTLEDGER_BLIND_INDEX_KEY": _SECRETS["blind_index_key"],
    # One bearer token lasts the whole scenario (seeding the large table takes a while).
    "HOSTLEDGER_AUTH_ACCESS_TOKEN_LIFETIME": "3600",
    "HOSTLEDGER_SESSION_IDLE_TIMEOUT": "3600",
}


@dataclass(frozen=True)
class Query:
    label: str
    params: str  # the query string, without the cursor


QUERIES = (
    Query("first page", f"limit={PAGE}"),
    Query(f"page {DEEP_PAGES + 1} (cursor)", f"limit={PAGE}"),
    Query("status=active&country=DE", f"limit={PAGE}&status=active&country=DE"),
    Query("name prefix 'mar'", f"limit={PAGE}&name=mar"),
)


def _target_name(query: Query) -> str:
    return (
        f"GET {CUSTOMERS} {query.label}: p50 at {LARGE:,} customers"
        f" <= {LATENCY_RATIO_TARGET}x p50 at {SMALL:,}"
    )


TARGETS = [_target_name(q) for q in QUERIES]


def run(ctx: BenchContext) -> ScenarioResult:
    result = ScenarioResult(name=SCENARIO.name, description=SCENARIO.description)
    try:
        bearer = _admin_bearer(ctx)
        with httpx.Client(base_url=ctx.server.base_url, timeout=60.0) as client:
            _require_list_endpoint(client, bearer)
            _seed(ctx, 1, SMALL)
            small = _measure_phase(ctx, client, result, bearer, SMALL, baseline=None)
            _seed(ctx, SMALL + 1, LARGE)
            large = _measure_phase(ctx, client, result, bearer, LARGE, baseline=small)
    except BenchError as exc:
        result.fail_targets(TARGETS, str(exc))
        return result
    for query in QUERIES:
        result.targets.append(_latency_check(query, small[query.label], large[query.label]))
    result.notes.append(
        f"both phases on one server and database: {SMALL:,} customers seeded, measured, then"
        f" grown to {LARGE:,} (VACUUM ANALYZE and CHECKPOINT after each seeding); every"
        " request carries an admin's bearer token; the 'x baseline' column is req/s against"
        f" the {SMALL:,} phase"
    )
    return result


def _admin_bearer(ctx: BenchContext) -> str:
    """`hostledger create-admin` against the server's database, then the password grant."""
    password = f"Bench-{generate_secrets()['secret_key'][:24]}"
    env = server_environment(
        ctx.server.database_url, {**SERVER_ENV, "HOSTLEDGER_ADMIN_PASSWORD": password}
    )
    with tempfile.TemporaryDirectory(prefix="hostledger-bench-admin-") as workdir:
        completed = subprocess.run(
            [*hostledger_command(), "create-admin", "--email", ADMIN_EMAIL, "--name", "Bench"],
            env=env,
            cwd=Path(workdir),  # no .env from the repository is read
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise SetupError(f"hostledger create-admin exited with {completed.returncode}: {output}")
    with httpx.Client(base_url=ctx.server.base_url, timeout=30.0) as client:
        token = api.login_token(client, api.Credentials(ADMIN_EMAIL, password))
    return api.bearer_header(token)


def _get(client: httpx.Client, path: str, bearer: str) -> httpx.Response:
    return client.get(path, headers=dict([api.header_pair(bearer)]))


def _require_list_endpoint(client: httpx.Client, bearer: str) -> None:
    response = _get(client, f"{CUSTOMERS}?limit=1", bearer)
    if response.status_code == 404:
        raise EndpointMissing(
            f"GET {CUSTOMERS} answered 404: the staff customer list is not in this build yet"
            " (issue 4); nothing to measure"
        )
    if response.status_code != 200:
        raise SetupError(
            f"GET {CUSTOMERS} answered {response.status_code}, expected 200: {response.text[:300]}"
        )


# --- seeding -------------------------------------------------------------------------------

FIRST_NAMES = [
    "anna",
    "mario",
    "maria",
    "martin",
    "marta",
    "jonas",
    "lena",
    "paul",
    "sofia",
    "lukas",
    "emma",
    "noah",
    "mia",
    "elias",
    "ida",
    "oskar",
    "clara",
    "felix",
    "nora",
    "theo",
    "greta",
    "max",
    "lina",
    "jan",
    "marek",
    "ana",
    "hugo",
    "ella",
    "leon",
]
LAST_NAMES = [
    "muller",
    "schmidt",
    "schneider",
    "fischer",
    "weber",
    "meyer",
    "wagner",
    "becker",
    "schulz",
    "hoffmann",
    "koch",
    "richter",
    "klein",
    "wolf",
    "neumann",
    "schwarz",
    "braun",
    "zimmermann",
    "kruger",
    "hartmann",
    "lange",
    "werner",
    "krause",
    "lehmann",
    "martens",
    "marx",
    "kaiser",
    "fuchs",
    "peters",
    "scholz",
    "moller",
    "jung",
    "hahn",
    "vogel",
    "keller",
]
COUNTRIES = ("DE", "DE", "DE", "AT", "CH", "FR", "NL", "GB", "US", "PL")
STATUSES = ("active", "active", "active", "active", "prospect", "suspended", "closed")
IDENTITY = ("unverified", "email_verified", "verified")
# Fixed plaintexts for the encrypted columns; each is sealed once, under its own column context.
SEALED_COLUMNS = {
    "email": ("customers.email", "customer@example.com"),
    "phone": ("customers.phone", "+4930123456"),
    "address_line1": ("customers.address_line1", "Hauptstrasse 12"),
    "city": ("customers.city", "Berlin"),
    "postal_code": ("customers.postal_code", "10115"),
}


def _sql_array(values: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def seed_statement() -> str:
    """Customers numbered %(start)s … %(stop)s; ids are UUIDv7-shaped and time-ordered like the
    app's, one second apart. Every row has a unique email blind index, made to ascend with the
    row number (a real HMAC is random; ascending keys make the unique index cheap to load, and
    the list queries measured here never look it up)."""
    first, last = _sql_array(FIRST_NAMES), _sql_array(LAST_NAMES)
    sealed_names = ", ".join(SEALED_COLUMNS)
    sealed_values = ", ".join(f"%({name})s" for name in SEALED_COLUMNS)
    return f"""
        INSERT INTO customers (
            id, number, status, first_name, last_name, search_name, {sealed_names},
            email_index, country, tax_exempt, currency, language, identity_status,
            created_at, updated_at
        )
        SELECT
            (lpad(to_hex(%(base_ms)s + i * 1000), 12, '0') || '7' || substr(h, 1, 3) || '8'
                || substr(h, 4, 15))::uuid,
            'C-' || lpad(i::text, 7, '0'),
            ({_sql_array(STATUSES)})[1 + i %% {len(STATUSES)}],
            fn, ln, fn || ' ' || ln,
            {sealed_values},
            lpad(to_hex(i), 16, '0') || h || substr(md5('hl' || i::text), 1, 16),
            ({_sql_array(COUNTRIES)})[1 + (i / 7) %% {len(COUNTRIES)}],
            false, 'EUR', 'en',
            ({_sql_array(IDENTITY)})[1 + i %% {len(IDENTITY)}],
            to_timestamp((%(base_ms)s + i * 1000) / 1000.0),
            to_timestamp((%(base_ms)s + i * 1000) / 1000.0)
        FROM (
            SELECT i, md5(i::text) AS h,
                ({first})[1 + i %% {len(FIRST_NAMES)}] AS fn,
                ({last})[1 + (i / {len(FIRST_NAMES)}) %% {len(LAST_NAMES)}] AS ln
            FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i
        ) AS s
    """  # noqa: S608 - every interpolated piece is a constant of this module


def sealed_values(data_keys: str) -> dict[str, str]:
    ring = Keyring(parse_data_keys(data_keys))
    return {
        name: ring.seal(plaintext.encode(), aad=context.encode())
        for name, (context, plaintext) in SEALED_COLUMNS.items()
    }


def _connect(database_url: str) -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(database_url)
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    )


def _seed(ctx: BenchContext, start: int, stop: int) -> None:
    began = time.monotonic()
    base_ms = int(time.time() * 1000) - (LARGE + 1) * 1000  # the newest customer is "now"
    params: dict[str, object] = {
        "base_ms": base_ms,
        **sealed_values(SERVER_ENV["HOSTLEDGER_DATA_KEYS"]),
    }
    statement = seed_statement()
    try:
        with _connect(ctx.server.database_url) as connection:
            connection.execute("SET synchronous_commit = off")
            for chunk_start in range(start, stop + 1, SEED_CHUNK):
                chunk_stop = min(chunk_start + SEED_CHUNK - 1, stop)
                connection.execute(
                    statement,
                    {**params, "start": chunk_start, "stop": chunk_stop},
                )
                ctx.console.print(f"seeded customers up to {chunk_stop:,}")
            connection.execute("VACUUM (ANALYZE) customers")
            # Write the loaded pages out now, so no checkpoint competes with the measurement.
            connection.execute("CHECKPOINT")
            count = connection.execute("SELECT count(*) FROM customers").fetchone()
    except psycopg.Error as exc:
        raise SetupError(f"seeding customers failed: {exc}") from exc
    total = int(count[0]) if count else 0  # type: ignore[call-overload]
    if total != stop:
        raise SetupError(f"expected {stop:,} customers after seeding, found {total:,}")
    ctx.console.print(
        f"{total:,} customers in {time.monotonic() - began:.1f}s (VACUUM ANALYZE, CHECKPOINT)"
    )


# --- measuring -----------------------------------------------------------------------------


def _deep_cursor(client: httpx.Client, bearer: str) -> str:
    cursor: str | None = None
    for page in range(DEEP_PAGES):
        suffix = f"&cursor={quote(cursor, safe='')}" if cursor else ""
        response = _get(client, f"{CUSTOMERS}?limit={PAGE}{suffix}", bearer)
        api.expect(response, 200, f"GET {CUSTOMERS} (page {page + 1})")
        body = response.json()
        cursor = body.get("next_cursor")
        if not isinstance(cursor, str) or not cursor:
            raise SetupError(f"GET {CUSTOMERS} page {page + 1} returned no next_cursor")
    assert cursor is not None
    return cursor


def _paths(client: httpx.Client, bearer: str) -> dict[str, str]:
    deep = _deep_cursor(client, bearer)
    paths = {q.label: f"{CUSTOMERS}?{q.params}" for q in QUERIES}
    paths[QUERIES[1].label] += f"&cursor={quote(deep, safe='')}"
    return paths


def _measure_phase(
    ctx: BenchContext,
    client: httpx.Client,
    result: ScenarioResult,
    bearer: str,
    customers: int,
    *,
    baseline: dict[str, WrkResult] | None,
) -> dict[str, WrkResult]:
    measured: dict[str, WrkResult] = {}
    for label, path in _paths(client, bearer).items():
        for _ in range(WARM_UP_REQUESTS):
            response = _get(client, path, bearer)
            api.expect(response, 200, f"GET {path}")
        if not response.json().get("items"):
            raise SetupError(f"GET {path} returned no customers: the seeded rows are not listed")
        spec = ctx.wrk_spec(path, headers=(bearer,))
        ctx.console.print(f"measuring {label} at {customers:,} customers for {spec.duration_s}s")
        wrk = run_wrk(spec)
        measured[label] = wrk
        ratio = None
        if baseline is not None and baseline[label].requests_per_sec > 0:
            ratio = wrk.requests_per_sec / baseline[label].requests_per_sec
        result.add(Measurement(f"{label} @ {customers:,}", wrk, ratio=ratio))
    return measured


def _latency_check(query: Query, small: WrkResult, large: WrkResult) -> TargetCheck:
    name = _target_name(query)
    detail = (
        f"p50 {format_ms(large.p50_ms)} vs {format_ms(small.p50_ms)},"
        f" p99 {format_ms(large.p99_ms)} vs {format_ms(small.p99_ms)},"
        f" {large.requests_per_sec:,.1f} vs {small.requests_per_sec:,.1f} req/s"
    )
    if small.errors or large.errors or not small.p50_ms or large.p50_ms is None:
        failed = f"{small.errors} / {large.errors} failed requests (small / large); {detail}"
        return TargetCheck(name, Status.FAIL, failed)
    ratio = large.p50_ms / small.p50_ms
    status = Status.PASS if ratio <= LATENCY_RATIO_TARGET else Status.FAIL
    return TargetCheck(name, status, f"{ratio:.2f}x ({detail})")


SCENARIO = Scenario(
    name="customers",
    description=f"GET /customers latency with {LARGE:,} customers against {SMALL:,}",
    run=run,
    server_env=SERVER_ENV,
)
