"""Outcome labels on checks and the statistics built on them (checks per disposition per day,
top reasons, each rule's hit rate and precision)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from app.core.container import Container
from app.models.fraud import FraudCheck
from app.models.user import StaffRole
from tests.billing.helpers import billing_customer, staff
from tests.fraud.helpers import FRAUD
from tests.fraud.staff_helpers import CHECKS, analyst, audit_actions

STATS = f"{FRAUD}/stats"


def _reason(code: str, contribution: int = 10) -> dict[str, Any]:
    return {"code": code, "message": code, "contribution": contribution, "evidence": {}}


async def _add_check(
    container: Container,
    *,
    at: datetime,
    disposition: str,
    codes: list[str],
    label: str | None = None,
    kind: str = "fraud",
) -> uuid.UUID:
    async with container.database.unit_of_work() as session:
        check = FraudCheck(
            kind=kind,
            subject="order",
            created_at=at,
            score=50,
            risk_level="medium",
            disposition=disposition,
            reasons=[_reason(code) for code in codes],
            inputs="{}",
            ruleset_version="test",
            duration_us=10,
            label=label,
        )
        session.add(check)
        await session.flush()
        return check.id


# --- labels -------------------------------------------------------------------------------------


async def test_labelling_relabelling_and_clearing_a_check_is_audited(
    client: httpx.AsyncClient, container: Container
) -> None:
    check_id = await _add_check(container, at=container.clock.now(), disposition="accept", codes=[])
    labeller = await analyst(client, container)

    first = await client.post(
        f"{CHECKS}/{check_id}/label", json={"label": "chargeback"}, headers=labeller.headers
    )
    assert first.status_code == 200, first.text
    assert first.json()["label"] == "chargeback"
    assert first.json()["labelled_by_id"] == labeller.account.user_id
    assert first.json()["labelled_at"] is not None

    second = await client.post(
        f"{CHECKS}/{check_id}/label", json={"label": "legitimate"}, headers=labeller.headers
    )
    assert second.json()["label"] == "legitimate"
    labelled = await client.get(CHECKS, params={"label": "legitimate"}, headers=labeller.headers)
    assert [item["id"] for item in labelled.json()["items"]] == [str(check_id)]

    cleared = await client.delete(f"{CHECKS}/{check_id}/label", headers=labeller.headers)
    assert cleared.status_code == 204
    detail = (await client.get(f"{CHECKS}/{check_id}", headers=labeller.headers)).json()
    assert detail["label"] is None
    assert detail["labelled_by_id"] is None
    assert await audit_actions(container, "fraud_check", check_id) == [
        "labelled",
        "labelled",
        "label_cleared",
    ]


async def test_label_errors(client: httpx.AsyncClient, container: Container) -> None:
    check_id = await _add_check(container, at=container.clock.now(), disposition="accept", codes=[])
    labeller = await analyst(client, container)

    bad = await client.post(
        f"{CHECKS}/{check_id}/label", json={"label": "suspicious"}, headers=labeller.headers
    )
    assert bad.status_code == 422
    assert [error["field"] for error in bad.json()["errors"]] == ["body.label"]
    missing = await client.post(
        f"{CHECKS}/{uuid.uuid4()}/label", json={"label": "chargeback"}, headers=labeller.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "fraud_check_not_found"
    assert (
        await client.delete(f"{CHECKS}/{uuid.uuid4()}/label", headers=labeller.headers)
    ).status_code == 404

    customer = await billing_customer(client, container)
    support = await staff(client, container, StaffRole.SUPPORT)
    for headers in (customer.headers, support.headers):
        denied = await client.post(
            f"{CHECKS}/{check_id}/label", json={"label": "chargeback"}, headers=headers
        )
        assert denied.status_code == 403
        assert (await client.get(STATS, headers=headers)).status_code == 403
    assert await audit_actions(container, "fraud_check", check_id) == []


# --- statistics ---------------------------------------------------------------------------------


async def test_stats_count_dispositions_per_day_reasons_and_rule_precision(
    client: httpx.AsyncClient, container: Container
) -> None:
    day1 = datetime(2026, 1, 10, 0, 0, 1, tzinfo=UTC)
    day1_late = datetime(2026, 1, 10, 23, 59, 59, tzinfo=UTC)
    day2 = datetime(2026, 1, 11, 12, 0, tzinfo=UTC)
    # Six fraud checks in the window:
    await _add_check(
        container,
        at=day1,
        disposition="review",
        codes=["disposable_email", "free_email"],
        label="fraud_confirmed",
    )
    await _add_check(
        container,
        at=day1_late,
        disposition="review",
        codes=["disposable_email"],
        label="legitimate",
    )
    await _add_check(container, at=day1, disposition="accept", codes=["free_email"])
    await _add_check(
        container, at=day2, disposition="reject", codes=["disposable_email"], label="chargeback"
    )
    await _add_check(container, at=day2, disposition="accept", codes=[], label="legitimate")
    await _add_check(container, at=day2, disposition="accept", codes=["free_email"])
    # Outside the window, or another kind: not counted.
    await _add_check(
        container,
        at=datetime(2026, 1, 9, 23, 59, 59, tzinfo=UTC),
        disposition="reject",
        codes=["disposable_email"],
    )
    await _add_check(
        container, at=datetime(2026, 1, 12, tzinfo=UTC), disposition="accept", codes=["free_email"]
    )
    await _add_check(
        container, at=day2, disposition="decline", codes=["credit_write_offs"], kind="credit"
    )
    reader = await analyst(client, container)

    response = await client.get(
        STATS, params={"from": "2026-01-10", "to": "2026-01-11"}, headers=reader.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == "2026-01-10"
    assert body["to"] == "2026-01-11"
    assert body["total_checks"] == 6
    assert body["labelled_checks"] == 4
    assert body["days"] == [
        {"date": "2026-01-10", "total": 3, "dispositions": {"accept": 1, "review": 2}},
        {"date": "2026-01-11", "total": 3, "dispositions": {"accept": 2, "reject": 1}},
    ]
    assert body["top_reasons"] == [
        {"code": "disposable_email", "count": 3},
        {"code": "free_email", "count": 3},
    ]
    rules = {rule["code"]: rule for rule in body["rules"]}
    # disposable_email fired on 3 of 6; labelled 3: fraud_confirmed, legitimate, chargeback.
    assert rules["disposable_email"] == {
        "code": "disposable_email",
        "fired": 3,
        "labelled": 3,
        "hit_rate": 0.5,
        "precision": 2 / 3,
    }
    # free_email fired on 3 of 6; only one of them labelled (fraud_confirmed).
    assert rules["free_email"]["fired"] == 3
    assert rules["free_email"]["labelled"] == 1
    assert rules["free_email"]["precision"] == 1.0
    assert "credit_write_offs" not in rules

    credit = await client.get(
        STATS,
        params={"from": "2026-01-10", "to": "2026-01-11", "kind": "credit"},
        headers=reader.headers,
    )
    credit_rules = {rule["code"]: rule for rule in credit.json()["rules"]}
    assert credit.json()["total_checks"] == 1
    assert credit_rules["credit_write_offs"]["fired"] == 1
    assert credit_rules["credit_write_offs"]["precision"] is None


async def test_stats_of_a_quiet_rule_and_an_empty_window(
    client: httpx.AsyncClient, container: Container
) -> None:
    reader = await analyst(client, container)
    response = await client.get(
        STATS, params={"from": "2025-01-01", "to": "2025-01-31"}, headers=reader.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_checks"] == 0
    assert body["days"] == []
    rules = {rule["code"]: rule for rule in body["rules"]}
    assert rules["disposable_email"] == {
        "code": "disposable_email",
        "fired": 0,
        "labelled": 0,
        "hit_rate": None,
        "precision": None,
    }


async def test_stats_window_is_checked(client: httpx.AsyncClient, container: Container) -> None:
    reader = await analyst(client, container)
    reversed_window = await client.get(
        STATS, params={"from": "2026-01-11", "to": "2026-01-10"}, headers=reader.headers
    )
    assert reversed_window.status_code == 422
    assert [e["field"] for e in reversed_window.json()["errors"]] == ["query.from"]
    too_long = await client.get(
        STATS, params={"from": "2025-01-01", "to": "2026-01-02"}, headers=reader.headers
    )
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["query.to"]
    not_a_date = await client.get(STATS, params={"from": "yesterday"}, headers=reader.headers)
    assert not_a_date.status_code == 422
    assert [e["field"] for e in not_a_date.json()["errors"]] == ["query.from"]
    # The default window: the last 30 days up to today (the test clock's 2026-01-15).
    default = (await client.get(STATS, headers=reader.headers)).json()
    assert (default["from"], default["to"]) == ("2025-12-17", "2026-01-15")
