"""Running one fraud rule against the database, and the rows its queries count (orders,
security events), arranged directly with a session where the API would take many requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.core.container import Container
from app.fraud.rules import load_rules
from app.fraud.rules.base import RULES, FraudInputs, Hit, RuleContext
from app.fraud.service import FraudService
from app.fraud.signals import FraudSignals
from app.models.customer import Customer
from app.models.fraud import CheckSubject
from app.models.order import Order, OrderStatus
from app.models.security import SecurityEvent


async def inputs_for(
    container: Container,
    customer_id: uuid.UUID,
    *,
    ip: str | None,
    amount: int = 999,
    currency: str = "EUR",
    subject: CheckSubject = CheckSubject.ORDER,
    order_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> FraudInputs:
    """The inputs an order by this customer would give, built by the service itself (blind
    indexes, IP location through the test country table)."""
    async with container.database.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        return FraudService(session=session, container=container).inputs(
            subject=subject,
            ip=ip,
            user_agent="pytest",
            email=customer.email,
            phone=customer.phone,
            billing_country=customer.country,
            amount=amount,
            currency=currency,
            customer_id=customer.id,
            user_id=customer.user_id,
            account_created_at=customer.created_at,
            order_id=order_id,
            at=at,
        )


async def evaluate(
    container: Container, code: str, inputs: FraudInputs, **params: Any
) -> Hit | None:
    """One rule with its default parameters (or `params` over them)."""
    load_rules()
    rule = RULES[code]
    async with container.database.unit_of_work() as session:
        context = RuleContext(
            inputs=inputs,
            signals=FraudSignals(session, crypto=container.crypto),
            clock=container.clock,
        )
        return await rule.evaluate(context, {**rule.spec.params, **params})


async def add_orders(
    container: Container,
    customer_id: uuid.UUID,
    *,
    count: int,
    at: datetime,
    ip: str | None = None,
    total: int = 999,
    currency: str = "EUR",
    status: OrderStatus = OrderStatus.PENDING,
) -> list[uuid.UUID]:
    async with container.database.unit_of_work() as session:
        orders = [
            Order(
                number=f"T-{uuid.uuid4().hex[:20]}",
                customer_id=customer_id,
                status=status.value,
                currency=currency,
                total=total,
                client_ip=ip,
                user_agent="pytest",
                placed_at=at,
                created_at=at,
                updated_at=at,
            )
            for _ in range(count)
        ]
        session.add_all(orders)
        await session.flush()
        return [order.id for order in orders]


async def add_events(
    container: Container,
    *,
    event_type: str,
    count: int,
    at: datetime,
    ip: str | None = None,
    user_id: uuid.UUID | None = None,
) -> None:
    async with container.database.unit_of_work() as session:
        session.add_all(
            SecurityEvent(event_type=event_type, created_at=at, ip=ip, user_id=user_id, details={})
            for _ in range(count)
        )


async def user_of(container: Container, customer_id: uuid.UUID) -> uuid.UUID:
    async with container.database.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        assert customer.user_id is not None
        return customer.user_id
