"""Every registration is screened by the rules that apply to registrations, and the record is
kept (P5, P9, P11); a rejected registration creates no account but its record stays."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from app.core.container import Container
from app.fraud.rules.base import (
    BOTH_SUBJECTS,
    RULES,
    Hit,
    Rule,
    RuleContext,
    RuleParams,
    RuleSpec,
    fraud_rule,
)
from app.models.customer import Customer
from app.models.fraud import FraudCheck
from app.models.user import User
from tests.fraud.helpers import IP_NL

REGISTER = "/api/v1/auth/register"


def _body(email: str) -> dict[str, str]:
    return {
        "email": email,
        "password": "orbit-lantern-quietly-57-harbour",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "country": "DE",
    }


@pytest.fixture
def rules() -> Iterator[dict[str, Rule]]:
    """The rule registry, restored after the test (a test may add a rule of its own)."""
    saved = dict(RULES)
    yield RULES
    RULES.clear()
    RULES.update(saved)


async def _checks(container: Container) -> list[FraudCheck]:
    async with container.database.unit_of_work() as session:
        return list((await session.scalars(select(FraudCheck).order_by(FraudCheck.id))).all())


async def test_p5_registration_keeps_its_check_with_account_and_customer(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_NL] = "NL"
    response = await client.post(
        REGISTER, json=_body("ada@example.com"), headers={"X-Forwarded-For": IP_NL}
    )
    assert response.status_code == 201, response.text

    (check,) = await _checks(container)
    assert check.subject == "registration"
    assert check.kind == "fraud"
    assert str(check.user_id) == response.json()["id"]
    assert check.customer_id is not None
    assert check.order_id is None
    assert check.review_status is None
    assert check.ip_country == "NL"
    assert check.billing_country == "DE"
    assert check.email_domain == "example.com"
    assert json.loads(check.inputs)["ip"] == IP_NL


async def test_p9_rejected_registration_creates_no_account_and_keeps_its_record(
    client: httpx.AsyncClient, container: Container, rules: dict[str, Rule]
) -> None:
    @fraud_rule(
        RuleSpec(
            code="test_refuse_example_org",
            family="test",
            title="refuses example.org",
            weight=100,
            subjects=BOTH_SUBJECTS,
            outright=True,
        )
    )
    async def refuse(context: RuleContext, params: RuleParams) -> Hit | None:
        if context.inputs.email_domain != "example.org":
            return None
        return Hit("example.org is refused in this test.", {"email_domain": "example.org"})

    response = await client.post(REGISTER, json=_body("mallory@example.org"))

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "registration_refused"
    # The refusal names no rule and echoes nothing back.
    assert "example.org" not in response.text
    assert "test_refuse" not in response.text
    async with container.database.unit_of_work() as session:
        assert (await session.scalar(select(func.count()).select_from(User))) == 0
        assert (await session.scalar(select(func.count()).select_from(Customer))) == 0
    (check,) = await _checks(container)
    assert check.disposition == "reject"
    assert check.score == 100
    assert check.user_id is None
    assert check.customer_id is None
    assert [reason["code"] for reason in check.reasons] == ["test_refuse_example_org"]

    # The same rule lets another domain through.
    allowed = await client.post(REGISTER, json=_body("alice@example.com"))
    assert allowed.status_code == 201, allowed.text
