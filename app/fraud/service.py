"""Fraud checks: build the inputs, score them, keep the order-validation record (P5, P9).

Orders are checked through the order-check registry (`app.fraud.order_check`), registrations by
the auth service, hypothetical orders by `POST /fraud/simulate` (scored, never stored).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Container
from app.customers.service import customer_email_index
from app.fraud.credit import assess_credit, needs_credit_check
from app.fraud.engine import Assessment, EffectiveRule, assess, effective_rules
from app.fraud.repository import FraudCheckRepository, RuleConfigRepository
from app.fraud.rules import load_rules
from app.fraud.rules.base import FraudInputs, RuleContext
from app.fraud.signals import FraudSignals
from app.models.fraud import CheckKind, CheckSubject, FraudCheck, ReviewStatus
from app.orders.checks import CheckOutcome, Disposition, OrderCheckContext, strictest

IP_CONTEXT = "fraud.ip"
PHONE_CONTEXT = "fraud.phone"
PAYMENT_CONTEXT = "fraud.payment_method"


def email_domain_of(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


def phone_country_of(phone: str | None) -> str | None:
    """The region a phone number belongs to (E.164 numbers carry it), None when unknown."""
    if not phone:
        return None
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "ZZ" else None


class FraudService:
    """Request-scoped: built per request (or per order check) from a session and the container."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.settings = container.settings.fraud
        self.clock = container.clock
        self.checks = FraudCheckRepository(session)
        self.configs = RuleConfigRepository(session)
        self.signals = FraudSignals(session, crypto=container.crypto)
        load_rules()

    # ------------------------------------------------------------------ inputs

    def _index(self, value: str | None, *, context: str) -> str | None:
        if not value:
            return None
        return self.container.crypto.blind_index.digest(value, context=context)

    def inputs(
        self,
        *,
        subject: CheckSubject,
        ip: str | None,
        user_agent: str | None,
        email: str | None,
        phone: str | None,
        billing_country: str | None,
        amount: int | None = None,
        currency: str | None = None,
        payment_country: str | None = None,
        payment_fingerprint: str | None = None,
        customer_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        account_created_at: datetime | None = None,
        order_id: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> FraudInputs:
        location = self.container.geo.locate(ip)
        crypto = self.container.crypto
        return FraudInputs(
            subject=subject,
            at=at or self.clock.now(),
            ip=ip,
            ip_country=location.country,
            ip_is_public=location.is_public,
            billing_country=billing_country.upper() if billing_country else None,
            email=email,
            email_domain=email_domain_of(email),
            phone=phone,
            phone_country=phone_country_of(phone),
            user_agent=user_agent,
            amount=amount,
            currency=currency.upper() if currency else None,
            payment_country=payment_country.upper() if payment_country else None,
            payment_fingerprint=payment_fingerprint,
            customer_id=customer_id,
            user_id=user_id,
            account_created_at=account_created_at,
            order_id=order_id,
            ip_index=self._index(ip, context=IP_CONTEXT),
            email_index=customer_email_index(crypto, email) if email else None,
            phone_index=self._index(phone, context=PHONE_CONTEXT),
            payment_index=self._index(payment_fingerprint, context=PAYMENT_CONTEXT),
        )

    def order_inputs(self, context: OrderCheckContext) -> FraudInputs:
        customer = context.customer
        # An order staff place for a customer comes from the staff member's network: their IP
        # and browser say nothing about the customer, so the IP rules abstain.
        by_customer = not context.placed_by_staff
        return self.inputs(
            subject=CheckSubject.ORDER,
            ip=context.client_ip if by_customer else None,
            user_agent=context.user_agent if by_customer else None,
            email=customer.email,
            phone=customer.phone,
            billing_country=customer.country,
            amount=context.invoice.total,
            currency=context.invoice.currency,
            customer_id=customer.id,
            user_id=customer.user_id,
            account_created_at=customer.created_at,
            order_id=context.order.id,
            at=context.order.placed_at,
        )

    # ------------------------------------------------------------------ scoring

    async def rules(self) -> list[EffectiveRule]:
        return effective_rules(await self.configs.overrides())

    async def score(self, inputs: FraudInputs) -> Assessment:
        context = RuleContext(inputs=inputs, signals=self.signals, clock=self.clock)
        return await assess(context=context, rules=await self.rules(), settings=self.settings)

    async def record(
        self,
        inputs: FraudInputs,
        assessment: Assessment,
        *,
        kind: CheckKind = CheckKind.FRAUD,
        disposition: str | None = None,
    ) -> FraudCheck:
        decided = disposition or assessment.disposition.value
        check = FraudCheck(
            kind=kind.value,
            subject=inputs.subject.value,
            order_id=inputs.order_id,
            customer_id=inputs.customer_id,
            user_id=inputs.user_id,
            created_at=self.clock.now(),
            score=assessment.score,
            risk_level=assessment.risk_level.value,
            disposition=decided,
            reasons=[reason.as_dict() for reason in assessment.reasons],
            inputs=json.dumps(inputs.public(), sort_keys=True),
            ip_country=inputs.ip_country,
            billing_country=inputs.billing_country,
            email_domain=inputs.email_domain,
            amount=inputs.amount,
            currency=inputs.currency,
            ip_index=inputs.ip_index,
            email_index=inputs.email_index,
            phone_index=inputs.phone_index,
            payment_index=inputs.payment_index,
            ruleset_version=assessment.ruleset_version,
            duration_us=assessment.duration_us,
            # Only orders wait for an analyst; a registration in review is kept as evidence.
            review_status=(
                ReviewStatus.PENDING.value
                if decided == Disposition.REVIEW.value and inputs.order_id is not None
                else None
            ),
        )
        await self.checks.add(check)
        return check

    async def check_order(self, context: OrderCheckContext) -> CheckOutcome:
        """The fraud check, and the credit check when it applies (`app.fraud.credit`: on
        account terms, or a first invoice at or above the threshold); the strictest outcome
        wins. Only the checks that held the order wait in the review queue."""
        inputs = self.order_inputs(context)
        assessment = await self.score(inputs)
        fraud_check = await self.record(inputs, assessment)
        decided: list[tuple[FraudCheck, CheckOutcome]] = [
            (fraud_check, CheckOutcome(assessment.disposition, assessment.reason_codes))
        ]
        customer = context.customer
        amount = context.invoice.total
        if needs_credit_check(customer=customer, amount=amount, settings=self.settings):
            credit = await assess_credit(
                self.session,
                customer=customer,
                amount=amount,
                currency=context.invoice.currency,
                at=inputs.at,
                settings=self.settings,
            )
            # The credit record keeps no blind indexes: the link rules match earlier fraud
            # through the fraud check of the same order, which would otherwise count twice.
            credit_inputs = replace(
                inputs, ip_index=None, email_index=None, phone_index=None, payment_index=None
            )
            credit_check = await self.record(
                credit_inputs,
                credit.as_assessment(self.settings),
                kind=CheckKind.CREDIT,
                disposition=credit.disposition.value,
            )
            on_account = customer.credit_limit is not None
            decided.append((credit_check, credit.order_outcome(on_account=on_account)))
        combined = strictest(outcome for _, outcome in decided)
        for check, outcome in decided:
            held = combined.disposition is Disposition.REVIEW
            check.review_status = (
                ReviewStatus.PENDING.value
                if held and outcome.disposition is not Disposition.ACCEPT
                else None
            )
        await self.session.flush()
        return combined

    async def simulate(self, **values: Any) -> tuple[FraudInputs, Assessment]:
        """Score a hypothetical order with the live rules; nothing is stored."""
        inputs = self.inputs(subject=CheckSubject.ORDER, **values)
        return inputs, await self.score(inputs)


def stored_inputs(check: FraudCheck) -> Mapping[str, Any]:
    loaded: dict[str, Any] = json.loads(check.inputs) if check.inputs else {}
    return loaded
