"""`hostledger jobs prune-billing`: the housekeeping of billing, one transaction per step."""

from __future__ import annotations

from dataclasses import dataclass

from app.billing.idempotency import prune_expired
from app.billing.retention import redact_expired_billing_data
from app.core.container import Container


@dataclass(frozen=True)
class BillingPruneReport:
    idempotency_keys: int
    invoices_redacted: int
    payment_references_cleared: int


async def prune_billing_state(container: Container) -> BillingPruneReport:
    now = container.clock.now()
    async with container.database.unit_of_work() as session:
        keys = await prune_expired(session, now=now)
    async with container.database.unit_of_work() as session:
        retention = await redact_expired_billing_data(
            session, now=now, retention_years=container.settings.billing.retention_years
        )
    return BillingPruneReport(
        idempotency_keys=keys,
        invoices_redacted=retention.invoices_redacted,
        payment_references_cleared=retention.payment_references_cleared,
    )
