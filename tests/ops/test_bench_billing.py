"""The billing benchmark's pieces: its targets' verdicts, and its seeding statements against the
migrated schema (the app must read what it seeds, and the billing run must renew it)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.core.container import Container
from bench.report import Status
from bench.wrk import parse_wrk_output
from tests.ops.test_bench import HEALTH


def test_billing_targets() -> None:
    from bench.scenarios.billing import _customer_check, _latency_check

    small = parse_wrk_output(HEALTH)  # p50 11.24 ms
    assert _latency_check(small, small).status is Status.PASS
    slower = parse_wrk_output(HEALTH.replace("50%   11.24ms", "50%   17.00ms"))
    assert _latency_check(small, slower).detail.startswith("1.51x")
    assert _latency_check(small, slower).status is Status.FAIL
    assert _customer_check(small, small).status is Status.PASS
    rps = HEALTH.split("Requests/sec:")[1].split()[0]
    tenth = parse_wrk_output(HEALTH.replace(rps, f"{float(rps) / 20:.2f}"))
    assert _customer_check(tenth, small).status is Status.FAIL


@pytest.mark.postgres_only
async def test_billing_seeding_matches_the_schema_and_the_run_renews_it(
    container: Container,
) -> None:
    import psycopg

    from app.billing.run import run_billing
    from app.models.invoice import Invoice
    from bench.scenarios.billing import INVOICES_SEED, SERVICES_SEED, sealed_snapshot
    from bench.scenarios.customers import sealed_values, seed_statement

    url = make_url(container.settings.database.url)
    data_keys = ",".join(
        f"{kid}:{base64.urlsafe_b64encode(key).decode()}"
        for kid, key in container.settings.secrets.data_keys
    )
    product_id = uuid.uuid4()
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as connection:
        params = {"base_ms": 1_700_000_000_000, "start": 1, "stop": 3, **sealed_values(data_keys)}
        connection.execute(seed_statement(), params)
        connection.execute("UPDATE customers SET status = 'active'")
        connection.execute(
            "INSERT INTO products (id, code, name, description, kind, active, created_at,"
            " updated_at) VALUES (%(id)s, 'p', 'P', '', 'shared_hosting', true, now(), now())",
            {"id": product_id},
        )
        connection.execute(SERVICES_SEED, {"product_id": product_id, "per_customer": 2})
        ids = [row[0] for row in connection.execute("SELECT id FROM customers").fetchall()]

    # The seeded services are due by the database's date (the test clock is frozen elsewhere).
    today = datetime.now(UTC).date() + timedelta(days=1)
    report = await run_billing(container=container, today=today)
    assert (report.invoices_created, report.failed) == (6, 0)

    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as connection:
        connection.execute(
            INVOICES_SEED,
            {
                "base_ms": 1_700_000_000_000,
                "customer_ids": ids,
                "customer_count": len(ids),
                "snapshot": sealed_snapshot(data_keys),
                "start": 1,
                "stop": 5,
            },
        )
    async with container.database.unit_of_work(read_only=True) as session:
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 11
        seeded = (await session.scalars(select(Invoice).where(Invoice.number.like("B-%")))).all()
    assert len(seeded) == 5
    assert all('"city": "Berlin"' in (invoice.buyer_snapshot or "") for invoice in seeded)
