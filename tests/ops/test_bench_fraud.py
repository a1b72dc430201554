"""The fraud benchmark's pieces: its target's verdict, and its seeding statements against the
migrated schema (the check must read what the scenario seeds, through the rules' queries)."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.core.container import Container
from bench.report import Status


def test_fraud_target_passes_up_to_one_and_a_half_times() -> None:
    from bench.scenarios.fraud import CheckTimes, ratio_check

    small = CheckTimes(seconds=[0.002, 0.004, 0.003], reason_codes=("new_account",))
    assert small.p50_ms == pytest.approx(3.0)
    assert ratio_check(small, small).status is Status.PASS
    at_limit = CheckTimes(seconds=[0.0045] * 3, reason_codes=())
    assert ratio_check(small, at_limit).status is Status.PASS
    slower = CheckTimes(seconds=[0.00453] * 3, reason_codes=())
    verdict = ratio_check(small, slower)
    assert verdict.status is Status.FAIL
    assert verdict.detail.startswith("1.51x")
    assert ratio_check(CheckTimes([], ()), small).status is Status.ERROR


def test_the_fraud_scenario_is_registered() -> None:
    from bench.scenarios import SCENARIOS

    assert SCENARIOS["fraud"].server_env["HOSTLEDGER_DATA_KEYS"].startswith("k1:")


@pytest.mark.postgres_only
async def test_fraud_seeding_matches_the_schema_and_the_check_reads_it(
    client: httpx.AsyncClient, container: Container
) -> None:
    import psycopg

    from app.fraud.service import FraudService
    from app.fraud.signals import FraudSignals
    from app.models.customer import Customer
    from app.models.fraud import FraudCheck
    from bench.scenarios.customers import sealed_values, seed_statement
    from bench.scenarios.fraud import (
        NOISE_CHECKS,
        NOISE_EVENTS,
        NOISE_FRAUD,
        NOISE_ORDERS,
        SUBJECT_CHECKS,
        SUBJECT_EVENTS,
        SUBJECT_HISTORY,
        TARGET_IP,
        Subject,
        noise_params,
        subject_indexes,
        subject_inputs,
        time_checks,
    )
    from tests.auth.conftest import register

    url = make_url(container.settings.database.url)
    data_keys = ",".join(
        f"{kid}:{base64.urlsafe_b64encode(key).decode()}"
        for kid, key in container.settings.secrets.data_keys
    )
    account = await register(client)
    async with container.database.unit_of_work() as session:
        customer = (
            await session.scalars(
                select(Customer).where(Customer.user_id == uuid.UUID(account.user_id))
            )
        ).one()
        # The seeding times rows by the database's clock; the check looks from there too.
        subject = Subject(
            customer_id=customer.id,
            user_id=uuid.UUID(account.user_id),
            email=account.email,
            created_at=customer.created_at,
        )
    values = {
        "customer_id": subject.customer_id,
        "user_id": subject.user_id,
        "ip": TARGET_IP,
        **subject_indexes(container.crypto, subject.email),
    }
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as connection:
        connection.execute(
            seed_statement(),
            {"base_ms": 1_700_000_000_000, "start": 1, "stop": 5, **sealed_values(data_keys)},
        )
        pool = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM customers WHERE user_id IS NULL ORDER BY number"
            ).fetchall()
        ]
        params = {**noise_params(pool, data_keys), "start": 1, "stop": 40}
        values["inputs"] = params["inputs"]
        for statement in (SUBJECT_HISTORY, SUBJECT_EVENTS, SUBJECT_CHECKS):
            connection.execute(statement, values)
        for statement in (NOISE_ORDERS, NOISE_EVENTS, NOISE_CHECKS):
            connection.execute(statement, params)
        connection.execute(NOISE_FRAUD, {"prefix": "N-%"})
        now = connection.execute("SELECT now()").fetchone()[0]  # type: ignore[index]

    async with container.database.unit_of_work() as session:
        seeded = FraudCheck.ruleset_version == "bench"  # the registration's own check aside
        assert await session.scalar(select(func.count()).where(seeded)) == 47
        check = (await session.scalars(select(FraudCheck).where(seeded).limit(1))).one()
        assert '"subject": "order"' in check.inputs  # the sealed inputs decrypt
        signals = FraudSignals(session, crypto=container.crypto)
        day, hour = now - timedelta(hours=24), now - timedelta(hours=1)
        assert await signals.order_counts(
            ip=TARGET_IP, windows=(hour, day), until=now, exclude_order_id=None
        ) == (1, 4)
        assert await signals.order_counts(
            customer_id=subject.customer_id, windows=(hour, day), until=now, exclude_order_id=None
        ) == (1, 2)
        assert (
            await signals.events_of_user_between(
                subject.user_id, event_type="login_failed", since=day, until=now
            )
            == 3
        )
        assert (
            await signals.other_events_from_ip(
                TARGET_IP, event_type="registered", since=day, until=now, exclude_user_id=None
            )
            == 2
        )
        service = FraudService(session=session, container=container)
        inputs = subject_inputs(service, subject)
        assert inputs.email_index == values["email_index"]
        assessment = await service.score(inputs)
        assert "new_account" in assessment.reason_codes

    # The timing loop itself runs against such a database (its own container and keys).
    times = await time_checks(container.settings.database.url, subject, runs=3, warm_up=1)
    assert len(times.seconds) == len(times.round_trips) == 3
    assert times.p50_ms > 0
