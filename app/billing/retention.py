"""The legal retention of billing records after an erasure (HOSTLEDGER_BILLING_RETENTION_YEARS).

An erasure anonymises the customer record at once, but issued invoices keep the buyer as
billed: tax law requires it. Once an invoice of an erased customer is older than the retention
period, its buyer snapshot is reduced to what carries no personal data (customer number and
country), and payment references (free text that may name the payer) are cleared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.periods import add_months
from app.billing.snapshot import decode_snapshot, encode_snapshot
from app.models.customer import Customer
from app.models.invoice import Invoice
from app.models.payment import Payment

REDACTED_MARK = "redacted"


@dataclass(frozen=True)
class RetentionReport:
    invoices_redacted: int
    payment_references_cleared: int


def retention_cutoff(*, now: datetime, years: int) -> datetime:
    day = add_months(now.date(), -12 * years)
    return now.replace(year=day.year, month=day.month, day=day.day)


def redacted_snapshot(raw: str | None) -> str:
    snapshot = decode_snapshot(raw) or {}
    return encode_snapshot(
        {
            "customer_number": snapshot.get("customer_number"),
            "country": snapshot.get("country"),
            REDACTED_MARK: True,
        }
    )


async def redact_expired_billing_data(
    session: AsyncSession, *, now: datetime, retention_years: int
) -> RetentionReport:
    cutoff = retention_cutoff(now=now, years=retention_years)
    erased = select(Customer.id).where(Customer.anonymised_at.is_not(None))
    invoices = (
        await session.scalars(
            select(Invoice).where(
                Invoice.customer_id.in_(erased),
                Invoice.issued_at < cutoff,
                Invoice.buyer_snapshot.is_not(None),
            )
        )
    ).all()
    redacted = 0
    for invoice in invoices:
        snapshot = decode_snapshot(invoice.buyer_snapshot) or {}
        if snapshot.get(REDACTED_MARK):
            continue
        invoice.buyer_snapshot = redacted_snapshot(invoice.buyer_snapshot)
        redacted += 1
    result = await session.execute(
        update(Payment)
        .where(
            Payment.customer_id.in_(erased),
            Payment.received_at < cutoff,
            Payment.reference.is_not(None),
        )
        .values(reference=None)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return RetentionReport(
        invoices_redacted=redacted,
        payment_references_cleared=int(getattr(result, "rowcount", 0) or 0),
    )
