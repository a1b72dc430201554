"""Helpers for the staff-tool tests: a rule set reduced to one rule (so a test decides exactly
what fires), orders held for review, invoices arranged directly, audit rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from app.core.container import Container
from app.fraud.rules import load_rules
from app.fraud.rules.base import RULES
from app.models.audit import AuditEntry
from app.models.fraud import FraudCheck, FraudRuleConfig
from app.models.invoice import Invoice, InvoiceKind, InvoiceStatus
from app.models.user import StaffRole
from tests.billing.helpers import BillingCustomer, billing_customer, make_product, staff
from tests.fraud.helpers import FRAUD, IP_DE, order_from
from tests.users.helpers import SignedIn

REVIEWS = f"{FRAUD}/reviews"
CHECKS = f"{FRAUD}/checks"
# Every customer the test helpers register has an @example.com address: with this rule as
# the only one, each of their orders scores exactly `weight`.
EXAMPLE_DOMAIN_RULE = "free_email"
EXAMPLE_DOMAIN_PARAMS = {"domains": ["example.com"]}


async def only_rule(
    container: Container,
    code: str | None,
    *,
    weight: int = 60,
    params: dict[str, Any] | None = None,
) -> None:
    """Switch every rule off except `code` (with this weight and parameters); None: all off."""
    load_rules()
    async with container.database.unit_of_work() as session:
        for rule_code in RULES:
            config = await session.get(FraudRuleConfig, rule_code)
            if config is None:
                config = FraudRuleConfig(
                    code=rule_code, params={}, updated_at=container.clock.now()
                )
                session.add(config)
            config.enabled = rule_code == code
            config.weight = weight if rule_code == code else RULES[rule_code].spec.weight
            config.params = dict(params or {}) if rule_code == code else {}


async def example_rule(container: Container, *, weight: int = 60) -> None:
    """Every order of a test customer scores `weight` (60: review, 80+: reject)."""
    await only_rule(container, EXAMPLE_DOMAIN_RULE, weight=weight, params=EXAMPLE_DOMAIN_PARAMS)


async def analyst(client: httpx.AsyncClient, container: Container) -> SignedIn:
    return await staff(client, container, StaffRole.FRAUD_ANALYST)


async def held_order(
    client: httpx.AsyncClient,
    container: Container,
    *,
    customer: BillingCustomer | None = None,
    product_id: uuid.UUID | None = None,
) -> tuple[BillingCustomer, dict[str, Any]]:
    """An order in `fraud_review` (the test rule set scores it 60)."""
    customer = customer or await billing_customer(client, container, country="DE")
    product_id = product_id or await make_product(container)
    await example_rule(container)
    order = await order_from(client, customer, product_id, ip=IP_DE)
    assert order["status"] == "fraud_review", order
    return customer, order


async def fraud_check_count(container: Container) -> int:
    async with container.database.unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(FraudCheck)) or 0)


async def audit_actions(container: Container, entity_type: str, entity_id: uuid.UUID) -> list[str]:
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id)
        )
        return [row.action for row in rows.all()]


async def add_invoice(
    container: Container,
    customer_id: uuid.UUID,
    *,
    status: InvoiceStatus,
    total: int,
    due_date: date | None,
    paid_at: datetime | None = None,
    amount_paid: int = 0,
    currency: str = "EUR",
) -> uuid.UUID:
    """An issued invoice as the billing history would have left it."""
    now = container.clock.now()
    async with container.database.unit_of_work() as session:
        invoice = Invoice(
            number=f"T-{uuid.uuid4().hex[:20]}",
            customer_id=customer_id,
            kind=InvoiceKind.MANUAL.value,
            status=status.value,
            currency=currency,
            subtotal=total,
            tax_total=0,
            total=total,
            amount_paid=amount_paid,
            amount_credited=0,
            issued_at=now,
            due_date=due_date,
            paid_at=paid_at,
            written_off_at=now if status is InvoiceStatus.UNCOLLECTIBLE else None,
            created_at=now,
            updated_at=now,
        )
        session.add(invoice)
        await session.flush()
        return invoice.id
