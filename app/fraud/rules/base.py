"""What a fraud rule is, and the registry the engine runs.

A rule is a small async function registered with its `RuleSpec`:

    @fraud_rule(RuleSpec(code="disposable_email", family="email", weight=40, ...))
    async def disposable_email(context: RuleContext, params: RuleParams) -> Hit | None:
        ...

It returns a `Hit` (it fires: a sentence, its evidence, and how strongly, 0..1 of its weight)
or None (it stays quiet, or abstains for lack of data: an unknown IP country is not evidence).
Rules only read, through `context.signals`; the engine adds up the score and the service stores
the record. Staff change a rule's weight, switch and parameters through `/fraud/rules`; the
defaults are here, in code, so a fresh install scores sensibly.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.core.clock import Clock
from app.models.fraud import CheckSubject

if TYPE_CHECKING:
    from app.fraud.signals import FraudSignals

RuleParams = Mapping[str, Any]
BOTH_SUBJECTS = frozenset({CheckSubject.ORDER, CheckSubject.REGISTRATION})
ORDERS_ONLY = frozenset({CheckSubject.ORDER})


@dataclass(frozen=True)
class FraudInputs:
    """Everything a check looks at. Personal values (ip, email, phone, user agent) stay in
    memory and in the encrypted `inputs` of the record; matching uses the blind indexes."""

    subject: CheckSubject
    at: datetime
    ip: str | None = None
    ip_country: str | None = None  # None: private, unknown, or no IP
    ip_is_public: bool = False
    billing_country: str | None = None
    email: str | None = None
    email_domain: str | None = None
    phone: str | None = None
    phone_country: str | None = None
    user_agent: str | None = None
    amount: int | None = None  # minor units of `currency`
    currency: str | None = None
    payment_country: str | None = None
    payment_fingerprint: str | None = None
    customer_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    account_created_at: datetime | None = None
    order_id: uuid.UUID | None = None  # the order being checked (excluded from its history)
    ip_index: str | None = None
    email_index: str | None = None
    phone_index: str | None = None
    payment_index: str | None = None

    def public(self) -> dict[str, Any]:
        """What the stored record keeps as its inputs (encrypted at rest)."""
        return {
            "subject": self.subject.value,
            "ip": self.ip,
            "ip_country": self.ip_country,
            "billing_country": self.billing_country,
            "email_domain": self.email_domain,
            "phone_country": self.phone_country,
            "user_agent": self.user_agent,
            "amount": self.amount,
            "currency": self.currency,
            "payment_country": self.payment_country,
            "account_created_at": (
                self.account_created_at.isoformat() if self.account_created_at else None
            ),
        }


@dataclass(frozen=True)
class RuleContext:
    inputs: FraudInputs
    signals: FraudSignals
    clock: Clock


@dataclass(frozen=True)
class Hit:
    """A rule fired. `message` is one sentence for staff; `evidence` holds the facts behind
    it (counts, countries, ids — no email addresses, phone numbers or IPs in clear)."""

    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    strength: float = 1.0  # share of the rule's weight, 0 < strength <= 1


@dataclass(frozen=True)
class RuleSpec:
    code: str  # stable: stored in reasons, used by staff and stats
    family: str  # the rule file it lives in: location, email, velocity, …
    title: str  # what it checks, for the rule list
    weight: int  # default contribution to the 0..100 score when it fires fully
    params: Mapping[str, Any] = field(default_factory=dict)  # default parameters
    subjects: frozenset[CheckSubject] = ORDERS_ONLY
    # A hit rejects whatever the score (blocklists).
    outright: bool = False


RuleFunction = Callable[[RuleContext, RuleParams], Awaitable[Hit | None]]


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    evaluate: RuleFunction


RULES: dict[str, Rule] = {}


def fraud_rule(spec: RuleSpec) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule under its code (once; a second rule with the same code is an error)."""

    def register(function: RuleFunction) -> RuleFunction:
        existing = RULES.get(spec.code)
        if existing is not None and existing.evaluate is not function:
            raise ValueError(f"two fraud rules share the code {spec.code!r}")
        RULES[spec.code] = Rule(spec=spec, evaluate=function)
        return function

    return register


def int_param(params: RuleParams, name: str) -> int:
    return int(params[name])


def list_param(params: RuleParams, name: str) -> list[str]:
    value = params.get(name) or []
    return [str(item) for item in value]
