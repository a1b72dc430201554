"""The benchmark harness's pure parts: wrk output parsing and the API helpers (no network)."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from app.core.container import Container
from bench.api import SESSION_COOKIE, cookie_from, expect
from bench.errors import EndpointMissing, SetupError
from bench.wrk import SocketErrors, WrkParseError, WrkSpec, parse_wrk_output, wrk_command

# Captured from real `wrk --latency` runs against `hostledger serve` (wrk 4.1.0, Debian).
HEALTH = """\
Running 2s test @ http://127.0.0.1:42603/health
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.55ms    6.28ms 121.97ms   95.05%
    Req/Sec     1.44k   192.41     1.83k    62.50%
  Latency Distribution
     50%   11.24ms
     75%   12.44ms
     90%   13.80ms
     99%   31.88ms
  5748 requests in 2.02s, 0.94MB read
Requests/sec:   2851.51
Transfer/sec:    476.26KB
"""

NOT_FOUND = """\
Running 2s test @ http://127.0.0.1:42603/nope
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    17.99ms   22.66ms 273.50ms   96.08%
    Req/Sec     1.09k   232.54     1.47k    90.00%
  Latency Distribution
     50%   14.25ms
     75%   15.94ms
     90%   17.18ms
     99%  150.14ms
  4358 requests in 2.01s, 1.54MB read
  Non-2xx or 3xx responses: 4358
Requests/sec:   2170.15
Transfer/sec:    784.22KB
"""

# The login storm through bench/lua/login.lua with --timeout=1s: 429s, timeouts, hl-status lines.
STORM = """\
Running 3s test @ http://127.0.0.1:42603/api/v1/auth/login
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   489.08ms  235.22ms 993.55ms   62.75%
    Req/Sec    46.04     29.76   110.00     68.09%
  Latency Distribution
     50%  430.80ms
     75%  641.12ms
     90%  865.39ms
     99%  982.84ms
  221 requests in 3.01s, 116.14KB read
  Socket errors: connect 0, read 0, write 0, timeout 68
  Non-2xx or 3xx responses: 191
Requests/sec:     73.31
Transfer/sec:     38.53KB
hl-status 429 191
hl-status 200 30
"""


def test_parses_a_clean_run() -> None:
    result = parse_wrk_output(HEALTH)
    assert result.requests == 5748
    assert result.duration_s == pytest.approx(2.02)
    assert result.requests_per_sec == pytest.approx(2851.51)
    assert result.p50_ms == pytest.approx(11.24)
    assert result.p99_ms == pytest.approx(31.88)
    assert result.percentiles_ms.keys() == {"50", "75", "90", "99"}
    assert result.latency_avg_ms == pytest.approx(11.55)
    assert result.latency_max_ms == pytest.approx(121.97)
    assert result.non_2xx == 0
    assert result.socket_errors == SocketErrors()
    assert result.errors == 0
    assert result.status_counts == {}


def test_counts_non_2xx_responses() -> None:
    result = parse_wrk_output(NOT_FOUND)
    assert result.non_2xx == 4358
    assert result.errors == 4358
    assert result.p99_ms == pytest.approx(150.14)


def test_parses_socket_errors_and_status_lines() -> None:
    result = parse_wrk_output(STORM)
    assert result.requests == 221
    assert result.requests_per_sec == pytest.approx(73.31)
    assert result.p50_ms == pytest.approx(430.80)
    assert result.socket_errors == SocketErrors(connect=0, read=0, write=0, timeout=68)
    assert result.non_2xx == 191
    assert result.errors == 191 + 68
    assert result.status_counts == {429: 191, 200: 30}


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [("812.00us", 0.812), ("3.25ms", 3.25), ("1.98s", 1980.0), ("1.50m", 90_000.0)],
)
def test_converts_every_time_unit(text: str, expected_ms: float) -> None:
    output = HEALTH.replace("99%   31.88ms", f"99%   {text}")
    assert parse_wrk_output(output).p99_ms == pytest.approx(expected_ms)


def test_rejects_output_without_a_summary() -> None:
    with pytest.raises(WrkParseError):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_builds_the_command_line() -> None:
    spec = WrkSpec(
        url="http://127.0.0.1:8000/api/v1/auth/login",
        duration_s=3,
        connections=64,
        headers=("Cookie: a=b",),
        script=Path("login.lua"),
        script_args=('{"email": "x"}',),
    )
    assert wrk_command(spec) == [
        "wrk",
        "-t2",
        "-c64",
        "-d3s",
        "--timeout=2s",
        "--latency",
        "-H",
        "Cookie: a=b",
        "-s",
        "login.lua",
        "http://127.0.0.1:8000/api/v1/auth/login",
        "--",
        '{"email": "x"}',
    ]


def test_a_missing_endpoint_is_reported_as_such() -> None:
    with pytest.raises(EndpointMissing, match="404"):
        expect(httpx.Response(404), 201, "POST /api/v1/auth/register")
    with pytest.raises(SetupError, match="422"):
        expect(httpx.Response(422, text="bad"), 201, "POST /api/v1/auth/register")


def test_reads_secure_cookies_from_set_cookie() -> None:
    response = httpx.Response(
        200,
        headers=[
            ("set-cookie", "__Host-hl_csrf=c1; Path=/; Secure; SameSite=Strict"),
            ("set-cookie", f"{SESSION_COOKIE}=s1.abc; Path=/; Secure; HttpOnly; SameSite=Lax"),
        ],
    )
    assert cookie_from(response, SESSION_COOKIE) == "s1.abc"
    assert cookie_from(response, "missing") is None


def test_the_customers_scenario_is_registered() -> None:
    from bench.scenarios import SCENARIOS

    assert list(SCENARIOS) == ["auth", "customers", "billing", "fraud"]
    assert SCENARIOS["customers"].server_env["HOSTLEDGER_DATA_KEYS"].startswith("k1:")


def test_customer_seed_values_are_real_ciphertexts_of_the_server_key() -> None:
    from app.core.config import parse_data_keys
    from app.core.crypto import Keyring
    from bench.scenarios.customers import SEALED_COLUMNS, SERVER_ENV, sealed_values

    data_keys = SERVER_ENV["HOSTLEDGER_DATA_KEYS"]
    ring = Keyring(parse_data_keys(data_keys))
    sealed = sealed_values(data_keys)
    assert sealed.keys() == SEALED_COLUMNS.keys()
    for name, (context, plaintext) in SEALED_COLUMNS.items():
        assert ring.open(sealed[name], aad=context.encode()).decode() == plaintext


def test_customer_latency_targets_compare_p50() -> None:
    from bench.report import Status
    from bench.scenarios.customers import QUERIES, _latency_check

    small = parse_wrk_output(HEALTH)  # p50 11.24 ms
    assert _latency_check(QUERIES[0], small, small).status is Status.PASS
    slower = parse_wrk_output(HEALTH.replace("50%   11.24ms", "50%   17.00ms"))
    check = _latency_check(QUERIES[0], small, slower)
    assert check.status is Status.FAIL
    assert check.detail.startswith("1.51x")
    failing = parse_wrk_output(NOT_FOUND)
    assert _latency_check(QUERIES[0], small, failing).status is Status.FAIL


@pytest.mark.postgres_only
async def test_customer_seeding_matches_the_schema(container: Container) -> None:
    """The bench's generate_series INSERT against the migrated schema; the app reads the rows."""
    import psycopg
    from sqlalchemy import func, select
    from sqlalchemy.engine import make_url

    from app.core.config import parse_data_keys
    from app.models import Customer
    from bench.scenarios.customers import sealed_values, seed_statement

    url = make_url(container.settings.database.url)
    data_keys = ",".join(
        f"{kid}:{base64.urlsafe_b64encode(key).decode()}"
        for kid, key in container.settings.secrets.data_keys
    )
    assert parse_data_keys(data_keys) == container.settings.secrets.data_keys
    params = {"base_ms": 1_700_000_000_000, "start": 1, "stop": 120, **sealed_values(data_keys)}
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as connection:
        connection.execute(seed_statement(), params)
    async with container.database.unit_of_work(read_only=True) as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 120
        newest = (
            await session.scalars(select(Customer).order_by(Customer.id.desc()).limit(2))
        ).all()
    assert [c.number for c in newest] == ["C-0000120", "C-0000119"]
    assert newest[0].email == "customer@example.com"
    assert newest[0].search_name == f"{newest[0].first_name} {newest[0].last_name}"
