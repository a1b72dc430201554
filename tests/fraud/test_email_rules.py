"""Email rules: a disposable provider (the `disposable-email-domains` list) and a free-mail
provider (a list staff configure). Each fires in one test and stays quiet in another."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from app.core.container import Container
from app.fraud.rules.base import FraudInputs
from app.models.fraud import CheckSubject
from tests.fraud.rule_helpers import evaluate


def _inputs(email_domain: str | None) -> FraudInputs:
    return FraudInputs(
        subject=CheckSubject.ORDER,
        at=datetime(2026, 11, 26, tzinfo=UTC),
        email_domain=email_domain,
    )


async def test_disposable_email_fires_on_a_throwaway_provider_and_its_subdomains(
    container: Container,
) -> None:
    hit = await evaluate(container, "disposable_email", _inputs("mailinator.com"))
    assert hit is not None
    assert hit.evidence == {"email_domain": "mailinator.com"}
    nested = await evaluate(container, "disposable_email", _inputs("inbox.mailinator.com"))
    assert nested is not None
    assert nested.evidence == {"email_domain": "mailinator.com"}


async def test_disposable_email_stays_quiet_on_ordinary_domains_and_without_an_email(
    container: Container,
) -> None:
    assert await evaluate(container, "disposable_email", _inputs("example.com")) is None
    # Parents count, children do not: a provider's name inside another domain is not it.
    assert await evaluate(container, "disposable_email", _inputs("mailinator.example.com")) is None
    assert await evaluate(container, "disposable_email", _inputs(None)) is None


async def test_free_email_fires_on_a_listed_provider(container: Container) -> None:
    hit = await evaluate(container, "free_email", _inputs("gmail.com"))
    assert hit is not None
    assert hit.evidence == {"email_domain": "gmail.com"}
    custom = await evaluate(
        container, "free_email", _inputs("mail.example.net"), domains=["mail.example.net"]
    )
    assert custom is not None


async def test_free_email_stays_quiet_on_company_domains_and_an_emptied_list(
    container: Container,
) -> None:
    assert await evaluate(container, "free_email", _inputs("hostledger.example")) is None
    assert await evaluate(container, "free_email", _inputs("gmail.com"), domains=[]) is None
    assert (
        await evaluate(
            container, "free_email", dataclasses.replace(_inputs("gmail.com"), email_domain=None)
        )
        is None
    )
