"""Location rules: IP, phone and payment-method country against the billing country, and the
high-risk country list. Each fires in one test and stays quiet (or abstains) in another."""

from __future__ import annotations

from typing import Any

import httpx

from app.core.container import Container
from app.fraud.rules import load_rules
from app.fraud.rules.base import RULES, FraudInputs, Hit, RuleContext
from app.fraud.service import FraudService
from app.fraud.signals import FraudSignals
from app.models.fraud import CheckSubject
from tests.billing.helpers import billing_customer, make_product
from tests.fraud.helpers import IP_DE, IP_GB, IP_NL, checks_of_order, order_from, reason_codes

PHONE_GB = "+44 20 7946 0958"
PHONE_DE = "+49 30 12345678"


async def _inputs(
    container: Container,
    *,
    ip: str | None = None,
    phone: str | None = None,
    billing_country: str | None = "DE",
    payment_country: str | None = None,
    subject: CheckSubject = CheckSubject.ORDER,
) -> FraudInputs:
    """Inputs as the service builds them (IP located through the test country table, the
    phone's country from its number)."""
    async with container.database.unit_of_work() as session:
        return FraudService(session=session, container=container).inputs(
            subject=subject,
            ip=ip,
            user_agent="pytest",
            email="jane@example.org",
            phone=phone,
            billing_country=billing_country,
            amount=999,
            currency="EUR",
            payment_country=payment_country,
        )


async def _run(container: Container, code: str, inputs: FraudInputs, **params: Any) -> Hit | None:
    load_rules()
    rule = RULES[code]
    assert inputs.subject in rule.spec.subjects
    async with container.database.unit_of_work() as session:
        signals = FraudSignals(session, crypto=container.crypto)
        context = RuleContext(inputs=inputs, signals=signals, clock=container.clock)
        return await rule.evaluate(context, {**rule.spec.params, **params})


# --- ip_country_mismatch ----------------------------------------------------------------------


async def test_ip_country_mismatch_fires_when_the_ip_is_in_another_country(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    inputs = await _inputs(container, ip=IP_GB, billing_country="DE")

    hit = await _run(container, "ip_country_mismatch", inputs)

    assert hit is not None
    assert hit.evidence == {"ip_country": "GB", "billing_country": "DE"}
    assert IP_GB not in hit.message
    assert IP_GB not in str(hit.evidence)


async def test_ip_country_mismatch_fires_for_registrations_too(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    inputs = await _inputs(
        container, ip=IP_GB, billing_country="DE", subject=CheckSubject.REGISTRATION
    )
    assert await _run(container, "ip_country_mismatch", inputs) is not None


async def test_ip_country_mismatch_stays_quiet_when_the_ip_is_in_the_billing_country(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_DE] = "DE"
    inputs = await _inputs(container, ip=IP_DE, billing_country="de")
    assert await _run(container, "ip_country_mismatch", inputs) is None


async def test_ip_country_mismatch_abstains_for_private_unknown_or_missing_addresses(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table["10.0.0.7"] = "GB"  # never consulted: a private address has no country
    for ip in ("10.0.0.7", "127.0.0.1", IP_NL, None):  # IP_NL: public, not in the table
        inputs = await _inputs(container, ip=ip, billing_country="DE")
        assert await _run(container, "ip_country_mismatch", inputs) is None, ip
    country_table[IP_GB] = "GB"
    no_billing = await _inputs(container, ip=IP_GB, billing_country=None)
    assert await _run(container, "ip_country_mismatch", no_billing) is None


# --- phone_country_mismatch -------------------------------------------------------------------


async def test_phone_country_mismatch_fires_when_the_phone_is_from_another_country(
    container: Container,
) -> None:
    inputs = await _inputs(container, phone=PHONE_GB, billing_country="DE")

    hit = await _run(container, "phone_country_mismatch", inputs)

    assert hit is not None
    assert hit.evidence == {"phone_country": "GB", "billing_country": "DE"}
    assert "7946" not in hit.message
    assert "7946" not in str(hit.evidence)


async def test_phone_country_mismatch_stays_quiet_for_a_phone_of_the_billing_country(
    container: Container,
) -> None:
    inputs = await _inputs(container, phone=PHONE_DE, billing_country="DE")
    assert await _run(container, "phone_country_mismatch", inputs) is None


async def test_phone_country_mismatch_abstains_without_a_phone_or_a_readable_one(
    container: Container,
) -> None:
    for phone in (None, "not a number", "12345"):
        inputs = await _inputs(container, phone=phone, billing_country="DE")
        assert await _run(container, "phone_country_mismatch", inputs) is None, phone


# --- payment_country_mismatch -----------------------------------------------------------------


async def test_payment_country_mismatch_fires_when_the_card_is_from_another_country(
    container: Container,
) -> None:
    inputs = await _inputs(container, payment_country="us", billing_country="DE")

    hit = await _run(container, "payment_country_mismatch", inputs)

    assert hit is not None
    assert hit.evidence == {"payment_country": "US", "billing_country": "DE"}


async def test_payment_country_mismatch_stays_quiet_when_the_countries_agree_or_one_is_unknown(
    container: Container,
) -> None:
    same = await _inputs(container, payment_country="DE", billing_country="DE")
    unknown = await _inputs(container, payment_country=None, billing_country="DE")
    assert await _run(container, "payment_country_mismatch", same) is None
    assert await _run(container, "payment_country_mismatch", unknown) is None


def test_payment_country_mismatch_applies_to_orders_only() -> None:
    load_rules()
    assert RULES["payment_country_mismatch"].spec.subjects == {CheckSubject.ORDER}


# --- high_risk_country ------------------------------------------------------------------------


async def test_high_risk_country_fires_for_a_listed_ip_or_billing_country(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    inputs = await _inputs(container, ip=IP_GB, billing_country="DE")

    by_ip = await _run(container, "high_risk_country", inputs, countries=["gb", "KP"])
    by_both = await _run(container, "high_risk_country", inputs, countries=["GB", "DE"])

    assert by_ip is not None
    assert by_ip.evidence == {"countries": ["GB"], "via": ["ip"]}
    assert by_both is not None
    assert by_both.evidence == {"countries": ["DE", "GB"], "via": ["billing", "ip"]}


async def test_high_risk_country_stays_quiet_by_default_and_for_unlisted_countries(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    inputs = await _inputs(container, ip=IP_GB, billing_country="DE")

    # The default list is empty: no country is high-risk until staff say so.
    assert await _run(container, "high_risk_country", inputs) is None
    assert await _run(container, "high_risk_country", inputs, countries=["KP", "IR"]) is None


async def test_high_risk_country_abstains_for_a_private_ip(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table["192.168.1.1"] = "KP"
    inputs = await _inputs(container, ip="192.168.1.1", billing_country="DE")
    assert await _run(container, "high_risk_country", inputs, countries=["KP"]) is None


# --- through an order -------------------------------------------------------------------------


async def test_ip_country_mismatch_is_a_reason_of_an_order_placed_from_abroad(
    client: httpx.AsyncClient, container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    country_table[IP_DE] = "DE"
    customer = await billing_customer(client, container, country="DE")
    product_id = await make_product(container)

    abroad = await order_from(client, customer, product_id, ip=IP_GB)
    at_home = await order_from(client, customer, product_id, ip=IP_DE)

    (abroad_check,) = await checks_of_order(container, abroad["id"])
    (home_check,) = await checks_of_order(container, at_home["id"])
    (reason,) = [r for r in abroad_check.reasons if r["code"] == "ip_country_mismatch"]
    assert reason["contribution"] == 25
    assert reason["evidence"] == {"ip_country": "GB", "billing_country": "DE"}
    assert "ip_country_mismatch" not in reason_codes(home_check)
