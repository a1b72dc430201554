"""List rules: imported anonymiser and hosting ranges, and the blocklists (IP or CIDR, email,
email domain, phone, country), which reject outright. Each fires in one test and stays quiet
in another; lists are filled through their service, as the API does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.audit.service import Actor
from app.core.clock import FrozenClock
from app.core.container import Container
from app.fraud.lists_service import BlocklistService, NetworkListService
from app.fraud.rules import load_rules
from app.fraud.rules.base import RULES, FraudInputs, Hit, RuleContext
from app.fraud.service import FraudService
from app.fraud.signals import FraudSignals
from app.models.fraud import BlockKind, CheckSubject, NetworkList
from tests.fraud.helpers import IP_DE, IP_GB, IP_NL, IPV6_DE


async def _inputs(
    container: Container,
    *,
    ip: str | None = None,
    email: str | None = "jane@example.org",
    phone: str | None = None,
    billing_country: str | None = "DE",
    subject: CheckSubject = CheckSubject.ORDER,
) -> FraudInputs:
    async with container.database.unit_of_work() as session:
        return FraudService(session=session, container=container).inputs(
            subject=subject,
            ip=ip,
            user_agent="pytest",
            email=email,
            phone=phone,
            billing_country=billing_country,
            amount=999,
            currency="EUR",
        )


async def _run(container: Container, code: str, inputs: FraudInputs, **params: Any) -> Hit | None:
    load_rules()
    rule = RULES[code]
    assert inputs.subject in rule.spec.subjects
    async with container.database.unit_of_work() as session:
        signals = FraudSignals(session, crypto=container.crypto)
        context = RuleContext(inputs=inputs, signals=signals, clock=container.clock)
        return await rule.evaluate(context, {**rule.spec.params, **params})


async def _block(
    container: Container, kind: BlockKind, value: str, *, expires_at: datetime | None = None
) -> str:
    async with container.database.unit_of_work() as session:
        entry = await BlocklistService(session=session, container=container).add(
            actor=Actor.system(), kind=kind, value=value, note=None, expires_at=expires_at
        )
        return str(entry.id)


async def _import(container: Container, list_name: NetworkList, *cidrs: str) -> None:
    async with container.database.unit_of_work() as session:
        report = await NetworkListService(session=session, container=container).import_ranges(
            actor=Actor.system(),
            list_name=list_name,
            cidrs=list(cidrs),
            source="test feed",
            replace=False,
        )
        assert report.added == len(cidrs)


# --- anonymizer_ip / hosting_ip ---------------------------------------------------------------


async def test_anonymizer_ip_fires_for_an_address_in_an_imported_anonymiser_range(
    container: Container,
) -> None:
    await _import(container, NetworkList.ANONYMIZER, "81.2.69.0/24")

    hit = await _run(container, "anonymizer_ip", await _inputs(container, ip=IP_GB))

    assert hit is not None
    assert hit.evidence == {"list": "anonymizer", "cidr": "81.2.69.0/24", "source": "test feed"}


async def test_anonymizer_ip_stays_quiet_outside_its_ranges_and_for_the_hosting_list(
    container: Container,
) -> None:
    await _import(container, NetworkList.ANONYMIZER, "81.2.69.0/24")
    await _import(container, NetworkList.HOSTING, "85.214.0.0/16")

    assert await _run(container, "anonymizer_ip", await _inputs(container, ip=IP_DE)) is None
    assert await _run(container, "anonymizer_ip", await _inputs(container, ip=None)) is None


async def test_anonymizer_ip_abstains_for_private_addresses_even_when_listed(
    container: Container,
) -> None:
    await _import(container, NetworkList.ANONYMIZER, "10.0.0.0/8", "127.0.0.0/8")
    for ip in ("10.1.2.3", "127.0.0.1"):
        assert await _run(container, "anonymizer_ip", await _inputs(container, ip=ip)) is None


async def test_hosting_ip_fires_for_an_ipv6_address_in_an_imported_hosting_range(
    container: Container,
) -> None:
    await _import(container, NetworkList.HOSTING, "2a00:1450::/32")

    hit = await _run(container, "hosting_ip", await _inputs(container, ip=IPV6_DE))

    assert hit is not None
    assert hit.evidence["list"] == "hosting"
    assert hit.evidence["cidr"] == "2a00:1450::/32"
    assert IPV6_DE not in str(hit.evidence)


async def test_hosting_ip_stays_quiet_outside_its_ranges(container: Container) -> None:
    await _import(container, NetworkList.HOSTING, "2a00:1450::/32")
    await _import(container, NetworkList.ANONYMIZER, "145.220.0.0/16")

    assert await _run(container, "hosting_ip", await _inputs(container, ip=IP_NL)) is None
    assert await _run(container, "hosting_ip", await _inputs(container, ip="2a01::1")) is None


# --- blocklist_ip -----------------------------------------------------------------------------


async def test_blocklist_ip_fires_for_an_address_inside_a_blocked_cidr(
    container: Container,
) -> None:
    entry_id = await _block(container, BlockKind.IP, "81.2.69.0/24")

    hit = await _run(container, "blocklist_ip", await _inputs(container, ip=IP_GB))

    assert hit is not None
    assert hit.evidence == {"entry_id": entry_id, "kind": "ip", "cidr": "81.2.69.0/24"}
    assert RULES["blocklist_ip"].spec.outright


async def test_blocklist_ip_fires_for_a_single_blocked_ipv6_address_without_echoing_it(
    container: Container,
) -> None:
    entry_id = await _block(container, BlockKind.IP, IPV6_DE)

    hit = await _run(container, "blocklist_ip", await _inputs(container, ip=IPV6_DE))

    assert hit is not None
    assert hit.evidence == {"entry_id": entry_id, "kind": "ip"}


async def test_blocklist_ip_stays_quiet_outside_the_range_and_once_the_entry_expired(
    container: Container, clock: FrozenClock
) -> None:
    await _block(
        container, BlockKind.IP, "81.2.69.0/24", expires_at=clock.now() + timedelta(hours=1)
    )

    assert await _run(container, "blocklist_ip", await _inputs(container, ip=IP_DE)) is None
    clock.advance(timedelta(hours=2))
    assert await _run(container, "blocklist_ip", await _inputs(container, ip=IP_GB)) is None


# --- blocklist_email --------------------------------------------------------------------------


async def test_blocklist_email_fires_for_the_blocked_address_whatever_its_case(
    container: Container,
) -> None:
    entry_id = await _block(container, BlockKind.EMAIL, " Mallory@Example.ORG ")

    hit = await _run(
        container, "blocklist_email", await _inputs(container, email="mallory@example.org")
    )

    assert hit is not None
    assert hit.evidence == {"entry_id": entry_id, "kind": "email"}
    assert "mallory" not in (hit.message + str(hit.evidence)).lower()


async def test_blocklist_email_stays_quiet_for_another_address(container: Container) -> None:
    await _block(container, BlockKind.EMAIL, "mallory@example.org")

    other = await _inputs(container, email="alice@example.org")
    assert await _run(container, "blocklist_email", other) is None
    assert await _run(container, "blocklist_email", await _inputs(container, email=None)) is None


# --- blocklist_email_domain -------------------------------------------------------------------


async def test_blocklist_email_domain_fires_for_the_domain_and_its_subdomains(
    container: Container,
) -> None:
    entry_id = await _block(container, BlockKind.EMAIL_DOMAIN, "@Spam-Example.NET")

    exact = await _run(
        container, "blocklist_email_domain", await _inputs(container, email="a@spam-example.net")
    )
    subdomain = await _run(
        container,
        "blocklist_email_domain",
        await _inputs(container, email="b@mx.eu.spam-example.net"),
    )

    for hit in (exact, subdomain):
        assert hit is not None
        assert hit.evidence == {
            "entry_id": entry_id,
            "kind": "email_domain",
            "email_domain": "spam-example.net",
        }


async def test_blocklist_email_domain_stays_quiet_for_other_and_look_alike_domains(
    container: Container,
) -> None:
    await _block(container, BlockKind.EMAIL_DOMAIN, "spam-example.net")

    for email in ("a@example.net", "a@not-spam-example.net", "a@spam-example.net.example.org"):
        inputs = await _inputs(container, email=email)
        assert await _run(container, "blocklist_email_domain", inputs) is None, email


# --- blocklist_phone --------------------------------------------------------------------------


async def test_blocklist_phone_fires_for_the_number_in_any_format(container: Container) -> None:
    entry_id = await _block(container, BlockKind.PHONE, "+49 (30) 1234-5678")

    international = await _run(
        container, "blocklist_phone", await _inputs(container, phone="+493012345678")
    )
    national = await _run(
        container,
        "blocklist_phone",
        await _inputs(container, phone="030 12345678", billing_country="DE"),
    )

    for hit in (international, national):
        assert hit is not None
        assert hit.evidence == {"entry_id": entry_id, "kind": "phone"}


async def test_blocklist_phone_stays_quiet_for_another_number_or_none(
    container: Container,
) -> None:
    await _block(container, BlockKind.PHONE, "+493012345678")

    for phone in ("+493012345679", "+44 20 7946 0958", None, "not a phone"):
        inputs = await _inputs(container, phone=phone)
        assert await _run(container, "blocklist_phone", inputs) is None, phone


# --- blocklist_country ------------------------------------------------------------------------


async def test_blocklist_country_fires_for_a_blocked_billing_or_ip_country(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_GB] = "GB"
    entry_id = await _block(container, BlockKind.COUNTRY, "gb")

    by_ip = await _run(
        container, "blocklist_country", await _inputs(container, ip=IP_GB, billing_country="DE")
    )
    by_billing = await _run(
        container, "blocklist_country", await _inputs(container, billing_country="GB")
    )

    assert by_ip is not None
    assert by_ip.evidence == {
        "entry_id": entry_id,
        "kind": "country",
        "country": "GB",
        "via": ["ip"],
    }
    assert by_billing is not None
    assert by_billing.evidence["via"] == ["billing"]


async def test_blocklist_country_stays_quiet_for_other_countries(
    container: Container, country_table: dict[str, str]
) -> None:
    country_table[IP_DE] = "DE"
    await _block(container, BlockKind.COUNTRY, "GB")

    inputs = await _inputs(container, ip=IP_DE, billing_country="DE")
    assert await _run(container, "blocklist_country", inputs) is None
    nothing = await _inputs(container, ip="10.0.0.1", billing_country=None)
    assert await _run(container, "blocklist_country", nothing) is None


# --- outright ---------------------------------------------------------------------------------


async def test_any_blocklist_hit_rejects_with_score_100_whatever_the_weights(
    container: Container,
) -> None:
    await _block(container, BlockKind.EMAIL_DOMAIN, "spam-example.net")
    inputs = await _inputs(container, email="a@spam-example.net", billing_country="DE")

    async with container.database.unit_of_work() as session:
        assessment = await FraudService(session=session, container=container).score(inputs)

    assert assessment.disposition.value == "reject"
    assert assessment.score == 100
    assert "blocklist_email_domain" in assessment.reason_codes
