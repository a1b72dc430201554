"""Where the fraud check joins the rest: every order (the order-check registry) and every
registration (the registration screens). Imported once by the app factory."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Container
from app.customers.screening import (
    RegistrationAttempt,
    ScreenVerdict,
    register_registration_screen,
)
from app.fraud.engine import Assessment
from app.fraud.rules.base import FraudInputs
from app.fraud.service import FraudService
from app.models.customer import Customer
from app.models.fraud import CheckSubject
from app.models.user import User
from app.orders.checks import CheckOutcome, Disposition, OrderCheckContext, register_order_check


@register_order_check
async def fraud_check(context: OrderCheckContext) -> CheckOutcome:
    """Every order is scored and its validation record kept; the strictest outcome wins."""
    if context.container is None:  # pragma: no cover - OrderService always passes it
        raise RuntimeError("the fraud check needs the container")
    service = FraudService(session=context.session, container=context.container)
    return await service.check_order(context)


@dataclass(frozen=True)
class RegistrationVerdict:
    inputs: FraudInputs
    assessment: Assessment

    @property
    def refused(self) -> bool:
        return self.assessment.disposition is Disposition.REJECT


def _ours(verdict: ScreenVerdict) -> RegistrationVerdict:
    if not isinstance(verdict, RegistrationVerdict):  # pragma: no cover - screens keep their own
        raise TypeError("not a fraud registration verdict")
    return verdict


class FraudRegistrationScreen:
    """Registrations get the rules that apply to them (blocklists, IP location, email,
    registrations per IP). A reject refuses the account; review is kept as evidence."""

    def __init__(self, session: AsyncSession, container: Container) -> None:
        self.container = container
        self.service = FraudService(session=session, container=container)

    async def assess(self, attempt: RegistrationAttempt) -> ScreenVerdict:
        inputs = self.service.inputs(
            subject=CheckSubject.REGISTRATION,
            ip=attempt.client.ip,
            user_agent=attempt.client.user_agent,
            email=attempt.email,
            phone=attempt.phone,
            billing_country=attempt.country,
        )
        return RegistrationVerdict(inputs=inputs, assessment=await self.service.score(inputs))

    async def keep_refused(self, verdict: ScreenVerdict) -> None:
        """In a transaction of its own: the request's rolls back with the refusal."""
        verdict = _ours(verdict)
        async with self.container.database.unit_of_work() as session:
            own = FraudService(session=session, container=self.container)
            await own.record(verdict.inputs, verdict.assessment)

    async def keep(self, verdict: ScreenVerdict, *, user: User, customer: Customer) -> None:
        verdict = _ours(verdict)
        inputs = dataclasses.replace(verdict.inputs, user_id=user.id, customer_id=customer.id)
        await self.service.record(inputs, verdict.assessment)


@register_registration_screen
def fraud_registration_screen(
    session: AsyncSession, container: Container
) -> FraudRegistrationScreen:
    return FraudRegistrationScreen(session, container)
