"""Authentication: what checking a session or a bearer token costs, and whether a storm of
(argon2-hashed) logins starves everyone else.

Targets:
  * authenticated GET /api/v1/auth/me reaches at least 0.25x the req/s of GET /health,
    with a session cookie and with a bearer token;
  * while 64 clients log in continuously, GET /api/v1/auth/me (cookie) keeps answering:
    p99 under 1 s, no errors, no timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bench import api
from bench.context import BenchContext, Scenario
from bench.errors import SetupError
from bench.report import Measurement, ScenarioResult, Status, TargetCheck, format_ms
from bench.wrk import LOGIN_SCRIPT, WrkResult, WrkSpec, run_wrk, run_wrk_concurrently

HEALTH = "/health"
RATIO_TARGET = 0.25
STORM_CLIENTS = 64
STORM_P99_LIMIT_MS = 1000.0
STORM_LEAD_S = 1  # the storm starts this long before the measurement and ends this long after
STORM_TIMEOUT_S = 10  # slow logins are the point of the storm, not errors of the measurement
WARM_UP_REQUESTS = 20

TARGET_COOKIE = f"GET {api.ME} (cookie) >= {RATIO_TARGET}x GET {HEALTH} req/s"
TARGET_BEARER = f"GET {api.ME} (bearer) >= {RATIO_TARGET}x GET {HEALTH} req/s"
TARGET_STORM = (
    f"GET {api.ME} during a {STORM_CLIENTS}-client login storm: p99 < 1 s, no errors/timeouts"
)
TARGETS = [TARGET_COOKIE, TARGET_BEARER, TARGET_STORM]


@dataclass(frozen=True)
class Prepared:
    cookie: str  # wrk header lines for the measured user
    bearer: str
    storm_user: api.Credentials


def run(ctx: BenchContext) -> ScenarioResult:
    result = ScenarioResult(name=SCENARIO.name, description=SCENARIO.description)
    with httpx.Client(base_url=ctx.server.base_url, timeout=30.0) as client:
        api.get_ok(client, HEALTH, times=WARM_UP_REQUESTS)
        health = result.add(_measure(ctx, "GET /health", ctx.wrk_spec(HEALTH), baseline=None))
        try:
            prepared = _prepare(client)
        except SetupError as exc:
            result.fail_targets(TARGETS, str(exc))
            return result
    for label, header, target in (
        ("cookie", prepared.cookie, TARGET_COOKIE),
        ("bearer", prepared.bearer, TARGET_BEARER),
    ):
        spec = ctx.wrk_spec(api.ME, headers=(header,))
        measured = result.add(_measure(ctx, f"GET {api.ME} ({label})", spec, baseline=health))
        result.targets.append(_ratio_check(target, measured, health))
    _login_storm(ctx, result, prepared)
    return result


def _prepare(client: httpx.Client) -> Prepared:
    """Two users: one whose session and token are measured, one who is logged in over and over
    by the storm (so the storm's new sessions can never evict the session being measured)."""
    reader, storm_user = api.new_credentials("reader"), api.new_credentials("storm")
    api.register(client, reader)
    api.register(client, storm_user)
    cookie = api.cookie_header(api.login_session(client, reader))
    bearer = api.bearer_header(api.login_token(client, reader))
    api.get_ok(client, api.ME, cookie, times=WARM_UP_REQUESTS)
    api.get_ok(client, api.ME, bearer, times=WARM_UP_REQUESTS)
    return Prepared(cookie=cookie, bearer=bearer, storm_user=storm_user)


def _measure(
    ctx: BenchContext, label: str, spec: WrkSpec, *, baseline: Measurement | None
) -> Measurement:
    ctx.console.print(f"measuring {label} for {spec.duration_s}s (-c{spec.connections})")
    return _with_ratio(label, run_wrk(spec), baseline)


def _with_ratio(label: str, wrk: WrkResult, baseline: Measurement | None) -> Measurement:
    if baseline is None or baseline.wrk.requests_per_sec <= 0:
        return Measurement(label=label, wrk=wrk)
    return Measurement(label, wrk, ratio=wrk.requests_per_sec / baseline.wrk.requests_per_sec)


def _ratio_check(name: str, measured: Measurement, baseline: Measurement) -> TargetCheck:
    ratio = measured.ratio or 0.0
    rates = f"{measured.wrk.requests_per_sec:,.1f} / {baseline.wrk.requests_per_sec:,.1f} req/s"
    if measured.wrk.errors:
        detail = f"{measured.wrk.errors} of {measured.wrk.requests} requests failed ({rates})"
        return TargetCheck(name, Status.FAIL, detail)
    status = Status.PASS if ratio >= RATIO_TARGET else Status.FAIL
    return TargetCheck(name, status, f"{ratio:.2f}x ({rates})")


def _login_storm(ctx: BenchContext, result: ScenarioResult, prepared: Prepared) -> None:
    storm_spec = WrkSpec(
        url=ctx.server.url(api.LOGIN),
        duration_s=ctx.duration_s + 2 * STORM_LEAD_S,
        threads=2,
        connections=STORM_CLIENTS,
        timeout_s=STORM_TIMEOUT_S,
        script=LOGIN_SCRIPT,
        script_args=(prepared.storm_user.login_body(),),
    )
    me_spec = ctx.wrk_spec(api.ME, headers=(prepared.cookie,))
    ctx.console.print(
        f"login storm: {STORM_CLIENTS} clients POST {api.LOGIN} while measuring GET {api.ME}"
        f" (cookie) for {me_spec.duration_s}s"
    )
    storm, me = run_wrk_concurrently([storm_spec, me_spec], start_delays_s=[0, STORM_LEAD_S])
    result.add(Measurement(f"POST {api.LOGIN} (storm, {STORM_CLIENTS} clients)", storm))
    result.add(Measurement(f"GET {api.ME} (cookie) during the storm", me))
    result.notes += _storm_notes(storm)
    result.targets.append(_storm_check(me, storm))


def successful_logins(storm: WrkResult) -> int:
    if storm.status_counts:
        return sum(n for status, n in storm.status_counts.items() if 200 <= status < 300)
    return max(storm.requests - storm.non_2xx, 0)


def _storm_notes(storm: WrkResult) -> list[str]:
    ok = successful_logins(storm)
    per_second = ok / storm.duration_s if storm.duration_s else 0.0
    by_status = ", ".join(f"{s}: {n}" for s, n in sorted(storm.status_counts.items())) or "-"
    rate_limited = storm.status_counts.get(429, 0)
    return [
        f"login storm: {ok} logins completed with 2xx ({per_second:,.1f}/s) of {storm.requests}"
        f" answered; answers by status: {by_status}",
        f"login storm: {storm.non_2xx} non-2xx answers ({rate_limited} of them 429), socket"
        f" errors {_socket_errors(storm)} (wrk --timeout {STORM_TIMEOUT_S}s)",
        "login storm: the server runs with the login throttles lifted, so every login reaches"
        " argon2id hashing (bounded per process by the credential gate); only GET /auth/me is"
        " judged, the storm's own answers are reported",
    ]


def _socket_errors(result: WrkResult) -> str:
    errors = result.socket_errors
    return (
        f"{errors.total} (connect {errors.connect}, read {errors.read}, write {errors.write},"
        f" timeout {errors.timeout})"
    )


def _storm_check(me: WrkResult, storm: WrkResult) -> TargetCheck:
    detail = (
        f"p99 {format_ms(me.p99_ms)}, {me.requests_per_sec:,.1f} req/s, non-2xx {me.non_2xx},"
        f" socket errors {_socket_errors(me)}"
    )
    if successful_logins(storm) == 0:
        return TargetCheck(
            TARGET_STORM, Status.ERROR, f"no login succeeded, so nothing was stressed; {detail}"
        )
    p99 = me.p99_ms
    ok = p99 is not None and p99 < STORM_P99_LIMIT_MS and me.errors == 0 and me.requests > 0
    return TargetCheck(TARGET_STORM, Status.PASS if ok else Status.FAIL, detail)


# The storm must reach password hashing, the expensive part: with the production login
# throttles (30/minute per IP, and every wrk client is 127.0.0.1) it would mostly measure 429s.
STORM_SERVER_ENV = {
    "HOSTLEDGER_RATE_LIMIT_LOGIN_PER_IP": "1000000/minute",
    "HOSTLEDGER_RATE_LIMIT_LOGIN_PER_ACCOUNT": "1000000/hour",
}

SCENARIO = Scenario(
    name="auth",
    description="session and bearer authentication cost; GET /auth/me during a login storm",
    run=run,
    server_env=STORM_SERVER_ENV,
)
