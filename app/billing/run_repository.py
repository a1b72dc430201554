"""Every query of the billing run: claim due services in batches, find periods already
invoiced, read credit balances, and write invoices, lines, audit entries and the services'
next due dates in bulk (one statement each per batch)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.repository import dialect_of, one_of
from app.models.audit import AuditEntry
from app.models.catalog import BillingCycle
from app.models.customer import Customer
from app.models.invoice import Invoice, InvoiceLine
from app.models.order import Service, ServiceStatus
from app.models.payment import CreditEntry


@dataclass(frozen=True)
class ClaimedService:
    service: Service
    # The customer record's version: what the run derived from an older one is derived again.
    customer_updated_at: datetime


class BillingRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._dialect = dialect_of(session)

    async def claim_due(
        self, *, due_by: date, limit: int, exclude: Collection[uuid.UUID] = ()
    ) -> list[ClaimedService]:
        """Up to `limit` active services due on or before `due_by`, each with the version of
        its customer's record, the services locked for this transaction. `SKIP LOCKED`
        (PostgreSQL; SQLite has no row locks and serialises writers) lets overlapping runs take
        disjoint batches. Rows this run already passed over (skipped or failed) are excluded
        so it moves on. The customers themselves are read by `customers`, only when new to the
        run or changed: a customer with ten services would otherwise be read and decrypted ten
        times."""
        statement = (
            select(Service, Customer.updated_at)
            .join(Customer, Customer.id == Service.customer_id)
            .where(
                Service.status == ServiceStatus.ACTIVE.value,
                Service.next_due_date.is_not(None),
                Service.next_due_date <= due_by,
                Service.cycle != BillingCycle.ONE_TIME.value,
            )
            .order_by(Service.next_due_date)  # the index's order: no sort, stops at `limit`
            .limit(limit)
            .with_for_update(of=Service, skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if exclude:
            statement = statement.where(~one_of(Service.id, exclude, dialect=self._dialect))
        rows = (await self.session.execute(statement)).all()
        return [ClaimedService(service, updated_at) for service, updated_at in rows]

    async def customers(self, customer_ids: Collection[uuid.UUID]) -> list[Customer]:
        if not customer_ids:
            return []
        statement = select(Customer).where(one_of(Customer.id, customer_ids, dialect=self._dialect))
        return list((await self.session.scalars(statement)).all())

    async def invoiced_periods(
        self, *, service_ids: Sequence[uuid.UUID], starts: Collection[date]
    ) -> set[tuple[uuid.UUID, date]]:
        """Which of these (service, period start) pairs already have an invoice line."""
        if not service_ids or not starts:
            return set()
        statement = select(InvoiceLine.service_id, InvoiceLine.period_start).where(
            one_of(InvoiceLine.service_id, service_ids, dialect=self._dialect),
            one_of(InvoiceLine.period_start, starts, dialect=self._dialect),
        )
        rows = (await self.session.execute(statement)).all()
        return {(service_id, start) for service_id, start in rows if service_id and start}

    async def positive_balances(
        self, customer_ids: Collection[uuid.UUID]
    ) -> set[tuple[uuid.UUID, str]]:
        """The (customer, currency) pairs with credit available, in one query."""
        if not customer_ids:
            return set()
        latest = (
            select(
                CreditEntry.customer_id,
                CreditEntry.currency,
                func.max(CreditEntry.sequence).label("sequence"),
            )
            .where(one_of(CreditEntry.customer_id, customer_ids, dialect=self._dialect))
            .group_by(CreditEntry.customer_id, CreditEntry.currency)
            .subquery()
        )
        statement = select(CreditEntry.customer_id, CreditEntry.currency).join(
            latest,
            (CreditEntry.customer_id == latest.c.customer_id)
            & (CreditEntry.currency == latest.c.currency)
            & (CreditEntry.sequence == latest.c.sequence),
        )
        statement = statement.where(CreditEntry.balance_after > 0)
        rows = (await self.session.execute(statement)).all()
        return {(customer_id, currency) for customer_id, currency in rows}

    async def insert_invoices(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk INSERT through the ORM's column types (the buyer snapshot is encrypted)."""
        if rows:
            await self.session.execute(insert(Invoice), list(rows))

    async def insert_lines(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(InvoiceLine), list(rows))

    async def insert_audit(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(AuditEntry), list(rows))

    async def advance_services(self, rows: Sequence[dict[str, Any]]) -> None:
        """ORM bulk UPDATE by primary key: [{"id": …, "next_due_date": …, "updated_at": …}]."""
        if rows:
            await self.session.execute(update(Service), list(rows))

    async def invoices(self, invoice_ids: Sequence[uuid.UUID]) -> list[Invoice]:
        if not invoice_ids:
            return []
        statement = (
            select(Invoice)
            .where(one_of(Invoice.id, invoice_ids, dialect=self._dialect))
            .order_by(Invoice.id)
        )
        return list((await self.session.scalars(statement)).all())
