"""Request and response bodies of the staff fraud tools (/fraud, /customers/{id}/credit-limit).

Amounts are integer minor units of the stated currency. Reasons carry no personal data in
clear (counts, countries, domains, ids); a check's decrypted inputs, which hold the IP address
and user agent, appear only on the single-check read, which is logged as a data access.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.fraud.credit import CreditPosition
from app.fraud.engine import Assessment, EffectiveRule
from app.fraud.repository import QueuedCheck
from app.fraud.rules.base import FraudInputs
from app.models.fraud import FraudCheck, OutcomeLabel

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]


class ReasonOut(BaseModel):
    code: str = Field(description="stable rule code, e.g. `disposable_email`")
    message: str
    contribution: int = Field(description="points this reason added to the 0..100 score")
    evidence: dict[str, Any] = Field(default_factory=dict)


def _reasons(raw: list[dict[str, Any]] | None) -> list[ReasonOut]:
    return [ReasonOut.model_validate(reason) for reason in raw or []]


class FraudCheckOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="`fraud` or `credit`")
    subject: str = Field(description="`order` or `registration`")
    order_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    user_id: uuid.UUID | None
    created_at: datetime
    score: int
    risk_level: str
    disposition: str = Field(
        description="fraud: `accept`, `review`, `reject`; credit: `approve`, `review`, `decline`"
    )
    reasons: list[ReasonOut]
    ip_country: str | None
    billing_country: str | None
    email_domain: str | None
    amount: int | None
    currency: str | None
    ruleset_version: str
    duration_us: int
    review_status: str | None = Field(description="`pending`, `approved`, `rejected` or null")
    reviewed_by_id: uuid.UUID | None
    reviewed_at: datetime | None
    label: OutcomeLabel | None
    labelled_by_id: uuid.UUID | None
    labelled_at: datetime | None

    @classmethod
    def fields_of(cls, check: FraudCheck) -> dict[str, Any]:
        return {
            "id": check.id,
            "kind": check.kind,
            "subject": check.subject,
            "order_id": check.order_id,
            "customer_id": check.customer_id,
            "user_id": check.user_id,
            "created_at": check.created_at,
            "score": check.score,
            "risk_level": check.risk_level,
            "disposition": check.disposition,
            "reasons": _reasons(check.reasons),
            "ip_country": check.ip_country,
            "billing_country": check.billing_country,
            "email_domain": check.email_domain,
            "amount": check.amount,
            "currency": check.currency,
            "ruleset_version": check.ruleset_version,
            "duration_us": check.duration_us,
            "review_status": check.review_status,
            "reviewed_by_id": check.reviewed_by_id,
            "reviewed_at": check.reviewed_at,
            "label": check.label,
            "labelled_by_id": check.labelled_by_id,
            "labelled_at": check.labelled_at,
        }

    @classmethod
    def of(cls, check: FraudCheck) -> FraudCheckOut:
        return cls(**cls.fields_of(check))


class FraudCheckDetail(FraudCheckOut):
    inputs: dict[str, Any] = Field(
        description="what the check saw (decrypted): IP, countries, email domain, user agent, "
        "amount and currency"
    )
    review_note: str | None

    @classmethod
    def detail(cls, check: FraudCheck, inputs: dict[str, Any]) -> FraudCheckDetail:
        return cls(**cls.fields_of(check), inputs=inputs, review_note=check.review_note)


class ReviewOut(BaseModel):
    id: uuid.UUID = Field(description="the check waiting for a decision")
    kind: str
    created_at: datetime
    order_id: uuid.UUID | None
    order_number: str | None
    order_status: str | None
    customer_id: uuid.UUID | None
    score: int
    risk_level: str
    disposition: str
    reasons: list[ReasonOut]
    amount: int | None
    currency: str | None

    @classmethod
    def of(cls, queued: QueuedCheck) -> ReviewOut:
        check = queued.check
        return cls(
            id=check.id,
            kind=check.kind,
            created_at=check.created_at,
            order_id=check.order_id,
            order_number=queued.order_number,
            order_status=queued.order_status,
            customer_id=check.customer_id,
            score=check.score,
            risk_level=check.risk_level,
            disposition=check.disposition,
            reasons=_reasons(check.reasons),
            amount=check.amount,
            currency=check.currency,
        )


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = Field(description="why (kept encrypted with the check; 1..2000 characters)")


class ReviewDecisionOut(BaseModel):
    check: FraudCheckOut
    order_id: uuid.UUID
    order_status: str
    decided_checks: list[uuid.UUID] = Field(
        description="every pending check of the order, decided together"
    )


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: OutcomeLabel


# --------------------------------------------------------------------------- statistics


class DayCounts(BaseModel):
    date: date
    total: int
    dispositions: dict[str, int] = Field(description="checks per disposition that day")


class ReasonCount(BaseModel):
    code: str
    count: int


class RuleStats(BaseModel):
    code: str
    fired: int = Field(description="checks in the window this rule fired on")
    labelled: int = Field(description="of those, how many carry an outcome label")
    hit_rate: float | None = Field(description="fired / checks in the window")
    precision: float | None = Field(
        description="fired checks labelled `fraud_confirmed` or `chargeback` / fired checks "
        "with any label; null without labels"
    )


class StatsOut(BaseModel):
    from_: date = Field(serialization_alias="from", validation_alias="from")
    to: date
    kind: str | None
    total_checks: int
    labelled_checks: int
    days: list[DayCounts]
    top_reasons: list[ReasonCount]
    rules: list[RuleStats]

    model_config = ConfigDict(populate_by_name=True)


# --------------------------------------------------------------------------- rules


class RuleOut(BaseModel):
    code: str
    family: str
    title: str
    enabled: bool
    weight: int
    default_weight: int
    params: dict[str, Any]
    default_params: dict[str, Any]
    outright: bool = Field(description="a hit rejects whatever the score (blocklists)")
    subjects: list[str]

    @classmethod
    def of(cls, rule: EffectiveRule) -> RuleOut:
        spec = rule.rule.spec
        return cls(
            code=spec.code,
            family=spec.family,
            title=spec.title,
            enabled=rule.enabled,
            weight=rule.weight,
            default_weight=spec.weight,
            params=dict(rule.params),
            default_params=dict(spec.params),
            outright=spec.outright,
            subjects=sorted(subject.value for subject in spec.subjects),
        )


class RulesOut(BaseModel):
    ruleset_version: str
    review_threshold: int
    reject_threshold: int
    rules: list[RuleOut]


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    weight: int | None = Field(default=None, ge=0, le=100, strict=True)
    params: dict[str, Any] | None = Field(
        default=None,
        description="known parameters of the rule, each of the JSON type of its default",
    )


class RuleChangeOut(BaseModel):
    rule: RuleOut
    ruleset_version: str = Field(description="the version later checks are scored with")


# --------------------------------------------------------------------------- simulate


class SimulateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip: Annotated[str, StringConstraints(max_length=45)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    billing_country: Country | None = None
    user_agent: Annotated[str, StringConstraints(max_length=512)] | None = None
    amount: int | None = Field(default=None, ge=0, strict=True)
    currency: CurrencyCode | None = None
    payment_country: Country | None = None
    payment_fingerprint: Annotated[str, StringConstraints(max_length=200)] | None = None
    customer_id: uuid.UUID | None = None
    account_created_at: AwareDatetime | None = None


class SimulateOut(BaseModel):
    score: int
    risk_level: str
    disposition: str
    reasons: list[ReasonOut]
    ruleset_version: str
    duration_us: int
    ip_country: str | None
    email_domain: str | None
    phone_country: str | None

    @classmethod
    def of(cls, inputs: FraudInputs, assessment: Assessment) -> SimulateOut:
        return cls(
            score=assessment.score,
            risk_level=assessment.risk_level.value,
            disposition=assessment.disposition.value,
            reasons=[ReasonOut.model_validate(r.as_dict()) for r in assessment.reasons],
            ruleset_version=assessment.ruleset_version,
            duration_us=assessment.duration_us,
            ip_country=inputs.ip_country,
            email_domain=inputs.email_domain,
            phone_country=inputs.phone_country,
        )


# --------------------------------------------------------------------------- credit


class CreditLimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit_limit: int | None = Field(
        ge=0,
        strict=True,
        description="minor units of the customer's currency; null takes the customer off "
        "account terms",
    )


class CreditPositionOut(BaseModel):
    customer_id: uuid.UUID
    currency: str
    credit_limit: int | None
    outstanding: int = Field(description="what open invoices in this currency still ask for")
    overdue: int = Field(description="the part of it past its due date")
    available: int | None = Field(description="credit limit minus outstanding")
    late_payments_12_months: int
    written_off_invoices: int

    @classmethod
    def of(cls, position: CreditPosition, *, customer_id: uuid.UUID) -> CreditPositionOut:
        return cls(
            customer_id=customer_id,
            currency=position.currency,
            credit_limit=position.credit_limit,
            outstanding=position.outstanding,
            overdue=position.overdue,
            available=position.available,
            late_payments_12_months=position.late_payments,
            written_off_invoices=position.write_offs,
        )
