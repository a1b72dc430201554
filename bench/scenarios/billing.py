"""Billing at scale, three ratios measured in one run on one server and database:

(b) the billing run (`app.billing.run`, in this process against the scenario's database):
    invoices per second for 100,000 due services, against a bare bulk insert of the same invoice
    and line rows (the same SQLAlchemy bulk INSERT, batches of the same size, one transaction
    each, no business logic) — target >= 0.3x;
(a) staff `GET /api/v1/invoices` (default page, no filters): p50 latency with 1,000,000 invoices
    against 10,000 — target <= 1.5x;
(c) a customer's `GET /api/v1/invoices?limit=50` (they own more than 50 invoices) in req/s
    against `GET /health` — target >= 0.1x.

Seeding happens inside PostgreSQL (`INSERT … SELECT … FROM generate_series`); encrypted columns
hold real ciphertexts sealed once under the server's data key. The list measurements seed no
invoice lines: the listing reads none.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from app.billing.run import BillingRunReport, line_description, run_billing
from app.billing.snapshot import buyer_snapshot, encode_snapshot
from app.core.clock import SystemClock
from app.core.config import DatabaseSettings, Environment, Settings, load_settings, parse_data_keys
from app.core.container import Container
from app.core.crypto import Keyring, install_field_keyring
from app.core.heap import freeze_long_lived_objects
from app.core.ids import new_id
from bench import api
from bench.context import BenchContext, Scenario
from bench.errors import BenchError, EndpointMissing, SetupError
from bench.report import Measurement, ScenarioResult, Status, TargetCheck, format_ms
from bench.scenarios import customers
from bench.wrk import WrkResult, run_wrk

INVOICES = f"{api.API}/invoices"
HEALTH = "/health"
RUN_CUSTOMERS = 10_000
RUN_SERVICES = 100_000  # ten per customer, all due
RUN_BATCH = 500  # the billing run's default batch size, used by the baseline too
RUN_RATIO_TARGET = 0.3
SMALL = 10_000
LARGE = 1_000_000
LATENCY_RATIO_TARGET = 1.5
CUSTOMER_INVOICES = 60
CUSTOMER_PAGE = 50
CUSTOMER_RATIO_TARGET = 0.1
SEED_CHUNK = 250_000
WARM_UP_REQUESTS = 20

# The customers scenario's pinned secrets: seeded ciphertexts and `create-admin` must match the
# server's keys, and reusing them lets this scenario reuse its admin sign-in.
SERVER_ENV = customers.SERVER_ENV

TARGET_RUN = (
    f"billing run: invoices/s for {RUN_SERVICES:,} due services"
    f" >= {RUN_RATIO_TARGET}x a bare bulk insert of the same rows"
)
TARGET_LIST = (
    f"GET {INVOICES} (staff, first page): p50 at {LARGE:,} invoices"
    f" <= {LATENCY_RATIO_TARGET}x p50 at {SMALL:,}"
)
TARGET_CUSTOMER = (
    f"GET {INVOICES}?limit={CUSTOMER_PAGE} (customer) >= {CUSTOMER_RATIO_TARGET}x"
    f" GET {HEALTH} req/s"
)
TARGETS = [TARGET_RUN, TARGET_LIST, TARGET_CUSTOMER]


def run(ctx: BenchContext) -> ScenarioResult:
    result = ScenarioResult(name=SCENARIO.name, description=SCENARIO.description)
    try:
        _seed_billing_fixtures(ctx)
        result.targets.append(_billing_run_check(ctx, result))
        _measure_listings(ctx, result)
    except BenchError as exc:
        result.fail_targets(TARGETS, str(exc))
    return result


# --- psycopg helpers ---------------------------------------------------------------------


def _execute(ctx: BenchContext, *statements: tuple[str, dict[str, Any] | None]) -> None:
    try:
        with customers._connect(ctx.server.database_url) as connection:
            connection.execute("SET synchronous_commit = off")
            for statement, params in statements:
                connection.execute(statement, params)
    except psycopg.Error as exc:
        raise SetupError(f"seeding failed: {exc}") from exc


def _scalar(ctx: BenchContext, statement: str) -> Any:
    try:
        with customers._connect(ctx.server.database_url) as connection:
            row = connection.execute(statement).fetchone()
    except psycopg.Error as exc:
        raise SetupError(f"query failed: {exc}") from exc
    return row[0] if row else None


def _maintain(ctx: BenchContext, *tables: str) -> None:
    """VACUUM ANALYZE what was loaded and CHECKPOINT, so neither competes with a measurement."""
    _execute(ctx, *[(f"VACUUM (ANALYZE) {t}", None) for t in tables], ("CHECKPOINT", None))


# --- (b) the billing run -------------------------------------------------------------------

SERVICES_SEED = """
    INSERT INTO services (
        id, customer_id, product_id, description, cycle, currency, quantity,
        recurring_amount, status, next_due_date, activated_at, created_at, updated_at
    )
    SELECT gen_random_uuid(), c.id, %(product_id)s,
        'Web Starter ' || c.number || '-' || g || '.example', 'monthly', 'EUR', 1 + g %% 2,
        499 + g * 100, 'active', current_date - (g %% 5), now(), now(), now()
    FROM customers AS c CROSS JOIN generate_series(1, %(per_customer)s) AS g
"""


def _seed_billing_fixtures(ctx: BenchContext) -> None:
    """10,000 active customers (the customers scenario's rows), tax rates, one product and
    100,000 monthly services, all due today or in the last four days."""
    began = time.monotonic()
    params: dict[str, Any] = {
        "base_ms": int(time.time() * 1000) - (RUN_CUSTOMERS + 1) * 1000,
        "start": 1,
        "stop": RUN_CUSTOMERS,
        **customers.sealed_values(SERVER_ENV["HOSTLEDGER_DATA_KEYS"]),
    }
    product_id = uuid.uuid4()
    _execute(
        ctx,
        (customers.seed_statement(), params),
        ("UPDATE customers SET status = 'active'", None),
        (
            "INSERT INTO tax_rates (id, country, region, name, rate_bp, active, created_at,"
            " updated_at) SELECT gen_random_uuid(), c, '', 'VAT', r, true, now(), now()"
            " FROM (VALUES ('DE', 1900), ('AT', 2000), ('FR', 2000), ('NL', 2100),"
            " ('PL', 2300), ('GB', 2000)) AS v(c, r)",
            None,
        ),
        (
            "INSERT INTO products (id, code, name, description, kind, active, created_at,"
            " updated_at) VALUES (%(id)s, 'bench-web', 'Web Starter', '', 'shared_hosting',"
            " true, now(), now())",
            {"id": product_id},
        ),
        (
            SERVICES_SEED,
            {"product_id": product_id, "per_customer": RUN_SERVICES // RUN_CUSTOMERS},
        ),
    )
    _maintain(ctx, "customers", "services", "tax_rates", "products")
    ctx.console.print(
        f"{RUN_CUSTOMERS:,} customers and {RUN_SERVICES:,} due services"
        f" in {time.monotonic() - began:.1f}s"
    )


def _bench_settings(database_url: str) -> Settings:
    return load_settings(
        env=Environment.PRODUCTION,
        database=DatabaseSettings(url=database_url),
        secret_key=SERVER_ENV["HOSTLEDGER_SECRET_KEY"],
        data_keys=SERVER_ENV["HOSTLEDGER_DATA_KEYS"],
        blind_index_key=SERVER_ENV["HOSTLEDGER_BLIND_INDEX_KEY"],
        log_level="WARNING",
    )


@dataclass(frozen=True)
class RunTimes:
    bare_s: float
    bare_rows: int
    run: BillingRunReport


def _billing_run_check(ctx: BenchContext, result: ScenarioResult) -> TargetCheck:
    times = asyncio.run(_time_billing_run(ctx))
    bare_rate = times.bare_rows / times.bare_s
    run_rate = times.run.invoices_created / times.run.duration_s
    ratio = run_rate / bare_rate
    result.notes.append(
        f"billing run: {times.run.invoices_created:,} invoices in {times.run.duration_s:.1f}s"
        f" ({run_rate:,.0f}/s, {times.run.batches} batches of {RUN_BATCH}); bare bulk insert of"
        f" the same invoice + line rows: {times.bare_rows:,} in {times.bare_s:.1f}s"
        f" ({bare_rate:,.0f}/s); both on empty invoice tables"
    )
    ctx.console.print(f"billing run {run_rate:,.0f} invoices/s, bare insert {bare_rate:,.0f}/s")
    detail = f"{ratio:.2f}x ({run_rate:,.0f} vs {bare_rate:,.0f} invoices/s)"
    return TargetCheck(
        TARGET_RUN, Status.PASS if ratio >= RUN_RATIO_TARGET else Status.FAIL, detail
    )


async def _time_billing_run(ctx: BenchContext) -> RunTimes:
    settings = _bench_settings(ctx.server.database_url)
    container = Container.from_settings(settings, clock=SystemClock())
    install_field_keyring(container.crypto.fields)
    freeze_long_lived_objects()  # as `hostledger jobs billing-run` does, for both timings
    try:
        bare_s, bare_rows = await _time_bare_insert(ctx, container)
        _execute(ctx, ("TRUNCATE invoices, invoice_lines CASCADE", None))
        _maintain(ctx, "invoices", "invoice_lines")
        ctx.console.print(f"billing run over {RUN_SERVICES:,} due services")
        gc.collect()  # both timings start with no garbage of the other's
        report = await run_billing(container=container, batch_size=RUN_BATCH)
    finally:
        await container.aclose()
        await container.database.dispose()
    if report.invoices_created != RUN_SERVICES or report.failed or report.skipped:
        raise SetupError(
            f"the billing run created {report.invoices_created:,} invoices for"
            f" {RUN_SERVICES:,} due services ({report.skipped} skipped, {report.failed} failed)"
        )
    return RunTimes(bare_s=bare_s, bare_rows=bare_rows, run=report)


async def _time_bare_insert(ctx: BenchContext, container: Container) -> tuple[float, int]:
    """The baseline, in a function of its own so its 200,000 prepared rows are freed before
    the run is timed: left alive, every full collection of the garbage collector during the
    run would walk them (measured: seconds of the run's time)."""
    invoices, lines = await _bare_rows(container)
    ctx.console.print(f"bare bulk insert of {len(invoices):,} invoices with their lines")
    gc.collect()
    return await _bare_insert(container, invoices, lines), len(invoices)


async def _bare_rows(
    container: Container,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows the run will write, built beforehand (not timed): same columns, same
    snapshot plaintext per customer, no tax rules, no numbering, no claim."""
    from sqlalchemy import select

    from app.models.customer import Customer
    from app.models.order import Service

    async with container.database.unit_of_work() as session:
        rows = (
            await session.execute(
                select(Service, Customer).join(Customer, Customer.id == Service.customer_id)
            )
        ).all()
        now = container.clock.now()
        snapshots: dict[uuid.UUID, str] = {}
        invoices: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        for index, (service, customer) in enumerate(rows, start=1):
            if customer.id not in snapshots:
                snapshots[customer.id] = encode_snapshot(buyer_snapshot(customer))
            invoice_id = new_id()
            net = service.quantity * service.recurring_amount
            invoices.append(
                {
                    "id": invoice_id,
                    "number": f"BARE-{now.year}-{index:06d}",
                    "customer_id": customer.id,
                    "order_id": None,
                    "kind": "renewal",
                    "status": "open",
                    "currency": service.currency,
                    "subtotal": net,
                    "tax_total": 0,
                    "total": net,
                    "amount_paid": 0,
                    "amount_credited": 0,
                    "issued_at": now,
                    "due_date": service.next_due_date,
                    "reverse_charge": False,
                    "tax_note": None,
                    "memo": None,
                    "buyer_snapshot": snapshots[customer.id],
                    "buyer_country": customer.country,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            lines.append(
                {
                    "id": new_id(),
                    "invoice_id": invoice_id,
                    "position": 1,
                    "description": line_description(service),
                    "quantity": service.quantity,
                    "unit_amount": service.recurring_amount,
                    "tax_rate_bp": 0,
                    "net_amount": net,
                    "tax_amount": 0,
                    "service_id": service.id,
                    "period_start": service.next_due_date,
                    "period_end": service.next_due_date,
                }
            )
    return invoices, lines


async def _bare_insert(
    container: Container, invoices: Sequence[dict[str, Any]], lines: Sequence[dict[str, Any]]
) -> float:
    """Batches of RUN_BATCH, one transaction each, through the same ORM bulk INSERT."""
    from sqlalchemy import insert

    from app.models.invoice import Invoice, InvoiceLine

    began = time.monotonic()
    for start in range(0, len(invoices), RUN_BATCH):
        async with container.database.unit_of_work() as session:
            await session.execute(insert(Invoice), list(invoices[start : start + RUN_BATCH]))
            await session.execute(insert(InvoiceLine), list(lines[start : start + RUN_BATCH]))
    return time.monotonic() - began


# --- (a) and (c) the invoice list ----------------------------------------------------------

INVOICES_SEED = """
    INSERT INTO invoices (
        id, number, customer_id, kind, status, currency, subtotal, tax_total, total,
        amount_paid, amount_credited, issued_at, due_date, reverse_charge, buyer_snapshot,
        buyer_country, created_at, updated_at
    )
    SELECT
        (lpad(to_hex(%(base_ms)s + i * 1000), 12, '0') || '7' || substr(h, 1, 3) || '8'
            || substr(h, 4, 15))::uuid,
        'B-' || lpad(i::text, 9, '0'),
        (%(customer_ids)s::uuid[])[1 + i %% %(customer_count)s],
        (ARRAY['renewal', 'renewal', 'order', 'manual'])[1 + i %% 4],
        st, 'EUR', 1000 + i %% 500, 190, 1190 + i %% 500,
        CASE WHEN st = 'paid' THEN 1190 + i %% 500 ELSE 0 END, 0,
        to_timestamp((%(base_ms)s + i * 1000) / 1000.0),
        (to_timestamp((%(base_ms)s + i * 1000) / 1000.0))::date + 14,
        false, %(snapshot)s, 'DE',
        to_timestamp((%(base_ms)s + i * 1000) / 1000.0),
        to_timestamp((%(base_ms)s + i * 1000) / 1000.0)
    FROM (
        SELECT i, md5('inv' || i::text) AS h,
            (ARRAY['paid', 'paid', 'paid', 'open', 'void'])[1 + i %% 5] AS st
        FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i
    ) AS s
"""


def sealed_snapshot(data_keys: str) -> str:
    plaintext = encode_snapshot(
        {
            "customer_number": "C-0000001",
            "first_name": "anna",
            "last_name": "muller",
            "company": None,
            "email": "customer@example.com",
            "address_line1": "Hauptstrasse 12",
            "address_line2": None,
            "city": "Berlin",
            "postal_code": "10115",
            "region": None,
            "country": "DE",
            "vat_id": None,
            "tax_exempt": False,
        }
    )
    ring = Keyring(parse_data_keys(data_keys))
    return ring.seal(plaintext.encode(), aad=b"invoices.buyer_snapshot")


def _customer_ids(ctx: BenchContext, where: str) -> list[uuid.UUID]:
    try:
        with customers._connect(ctx.server.database_url) as connection:
            rows = connection.execute(
                f"SELECT id FROM customers WHERE {where} ORDER BY number"  # noqa: S608
            ).fetchall()
    except psycopg.Error as exc:
        raise SetupError(f"query failed: {exc}") from exc
    return [row[0] for row in rows]  # type: ignore[misc]


def _seed_invoices(
    ctx: BenchContext, start: int, stop: int, customer_ids: list[uuid.UUID], base_ms: int
) -> None:
    began = time.monotonic()
    params: dict[str, Any] = {
        "base_ms": base_ms,
        "customer_ids": customer_ids,
        "customer_count": len(customer_ids),
        "snapshot": sealed_snapshot(SERVER_ENV["HOSTLEDGER_DATA_KEYS"]),
    }
    for chunk_start in range(start, stop + 1, SEED_CHUNK):
        chunk_stop = min(chunk_start + SEED_CHUNK - 1, stop)
        _execute(ctx, (INVOICES_SEED, {**params, "start": chunk_start, "stop": chunk_stop}))
        ctx.console.print(f"seeded invoices up to {chunk_stop:,}")
    _maintain(ctx, "invoices")
    ctx.console.print(f"invoices {start:,}-{stop:,} in {time.monotonic() - began:.1f}s")


def _warm(client: httpx.Client, path: str, header: str) -> None:
    for _ in range(WARM_UP_REQUESTS):
        response = client.get(path, headers=dict([api.header_pair(header)]))
        if response.status_code == 404 and path.startswith(INVOICES):
            raise EndpointMissing(f"GET {INVOICES} answered 404: the list is not in this build")
        api.expect(response, 200, f"GET {path}")
    items = response.json().get("items")
    if not items:
        raise SetupError(f"GET {path} listed no invoices: the seeded rows are not visible")


def _measure(
    ctx: BenchContext,
    result: ScenarioResult,
    label: str,
    path: str,
    headers: tuple[str, ...],
    *,
    baseline: WrkResult | None = None,
) -> WrkResult:
    spec = ctx.wrk_spec(path, headers=headers)
    ctx.console.print(f"measuring {label} for {spec.duration_s}s")
    wrk = run_wrk(spec)
    ratio = None
    if baseline is not None and baseline.requests_per_sec > 0:
        ratio = wrk.requests_per_sec / baseline.requests_per_sec
    result.add(Measurement(label, wrk, ratio=ratio))
    return wrk


def _measure_listings(ctx: BenchContext, result: ScenarioResult) -> None:
    bearer = customers._admin_bearer(ctx)
    _execute(ctx, ("TRUNCATE invoices, invoice_lines, audit_entries CASCADE", None))
    seeded = _customer_ids(ctx, "user_id IS NULL")
    base_ms = int(time.time() * 1000) - (LARGE + CUSTOMER_INVOICES + 2) * 1000
    staff_path = INVOICES
    with httpx.Client(base_url=ctx.server.base_url, timeout=60.0) as client:
        _seed_invoices(ctx, 1, SMALL, seeded, base_ms)
        _warm(client, staff_path, bearer)
        small = _measure(ctx, result, f"staff list @ {SMALL:,}", staff_path, (bearer,))
        _seed_invoices(ctx, SMALL + 1, LARGE, seeded, base_ms)
        _warm(client, staff_path, bearer)
        large = _measure(
            ctx, result, f"staff list @ {LARGE:,}", staff_path, (bearer,), baseline=small
        )
        result.targets.append(_latency_check(small, large))

        owner = api.new_credentials("invoices")
        api.register(client, owner)
        own = _customer_ids(ctx, "user_id IS NOT NULL")
        if len(own) != 1:
            raise SetupError(f"expected the one registered customer, found {len(own)}")
        _seed_invoices(ctx, LARGE + 1, LARGE + CUSTOMER_INVOICES, own, base_ms)
        owner_bearer = api.bearer_header(api.login_token(client, owner))
        customer_path = f"{INVOICES}?limit={CUSTOMER_PAGE}"
        _warm(client, customer_path, owner_bearer)
        listed = client.get(customer_path, headers=dict([api.header_pair(owner_bearer)]))
        if len(listed.json()["items"]) != CUSTOMER_PAGE:
            raise SetupError(f"the customer's page did not hold {CUSTOMER_PAGE} invoices")
        api.get_ok(client, HEALTH, times=WARM_UP_REQUESTS)
        health = _measure(ctx, result, f"GET {HEALTH}", HEALTH, ())
        mine = _measure(
            ctx,
            result,
            f"customer list ({CUSTOMER_PAGE}/page) @ {LARGE:,}",
            customer_path,
            (owner_bearer,),
            baseline=health,
        )
        result.targets.append(_customer_check(mine, health))
    result.notes.append(
        f"staff list: {SMALL:,} invoices seeded and measured, then grown to {LARGE:,} on the same"
        f" server and database (VACUUM ANALYZE, CHECKPOINT after each seeding); the customer owns"
        f" {CUSTOMER_INVOICES} of them; 'x baseline' is req/s against the row above it"
    )


def _latency_check(small: WrkResult, large: WrkResult) -> TargetCheck:
    detail = (
        f"p50 {format_ms(large.p50_ms)} vs {format_ms(small.p50_ms)},"
        f" p99 {format_ms(large.p99_ms)} vs {format_ms(small.p99_ms)},"
        f" {large.requests_per_sec:,.1f} vs {small.requests_per_sec:,.1f} req/s"
    )
    if small.errors or large.errors or not small.p50_ms or large.p50_ms is None:
        failed = f"{small.errors} / {large.errors} failed requests (small / large); {detail}"
        return TargetCheck(TARGET_LIST, Status.FAIL, failed)
    ratio = large.p50_ms / small.p50_ms
    status = Status.PASS if ratio <= LATENCY_RATIO_TARGET else Status.FAIL
    return TargetCheck(TARGET_LIST, status, f"{ratio:.2f}x ({detail})")


def _customer_check(mine: WrkResult, health: WrkResult) -> TargetCheck:
    detail = f"{mine.requests_per_sec:,.1f} vs {health.requests_per_sec:,.1f} req/s"
    if mine.errors or health.errors or health.requests_per_sec <= 0:
        return TargetCheck(
            TARGET_CUSTOMER, Status.FAIL, f"{mine.errors} / {health.errors} failed; {detail}"
        )
    ratio = mine.requests_per_sec / health.requests_per_sec
    status = Status.PASS if ratio >= CUSTOMER_RATIO_TARGET else Status.FAIL
    return TargetCheck(TARGET_CUSTOMER, status, f"{ratio:.2f}x ({detail})")


SCENARIO = Scenario(
    name="billing",
    description=(
        f"billing run over {RUN_SERVICES:,} services vs a bare insert; GET /invoices at"
        f" {LARGE:,} vs {SMALL:,}; a customer's invoices vs /health"
    ),
    run=run,
    server_env=SERVER_ENV,
)
