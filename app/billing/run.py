"""The recurring billing run: renewal invoices for active services coming due.

A service is due when it is `active` and its `next_due_date` falls on or before
`today + settings.invoice.days_before_due`. For every due period it gets one invoice (kind
`renewal`, one line "<description> (<cycle>)" for the period), issued at once with the same tax
rules, buyer snapshot, numbering and audit entry as `InvoiceService.issue`; then the service's
`next_due_date` moves to the start of the following period. A service several periods behind
gets one invoice per period (at most `MAX_PERIODS_PER_RUN` per run).

Dates: `issued_at` is the clock's moment (the number's year comes from it); the invoice is due on
the service's `next_due_date` (the period's start) or `today + net_terms_days`, whichever is
later, so an early renewal is never due before its period starts and a late one still gets the
usual payment terms.

Safety:
* Each batch of `billing_run_batch_size` services is claimed with `SELECT … FOR UPDATE SKIP
  LOCKED` and processed in its own transaction, so overlapping runs take disjoint batches and a
  crash loses at most one batch (the next run picks it up).
* Idempotent: a processed service is no longer due. The unique (service_id, period_start) of
  invoice lines is the last line of defence: a period already invoiced (a due date reset by
  hand, a concurrent manual invoice) is skipped and reported, never a crash.
* Gapless numbers: one block per batch from `NumberSequenceRepository.take_many`, in the
  batch's transaction.

Lock order: the batch's service rows (claim), then — only for invoices that credit pays or that
are paid at once — the customer row, then the invoice row (`InvoiceService` order).

Speed: per batch one claim query (with the version of each service's customer record), one
query for the customers new to the run or changed since their terms were derived (a customer's
tax decision and buyer snapshot are derived once per version of the record, not once per
service), one query for already-invoiced periods, one tax-rate lookup per new (country, region)
in the run, one number block, one bulk INSERT each for invoices, lines and audit entries, one
bulk UPDATE of the services, and one balance query when credit is applied automatically. Lists
of ids are bound as one array on PostgreSQL (`one_of`).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, masked_changes
from app.billing.money import line_amounts
from app.billing.periods import Period, period_for
from app.billing.run_repository import BillingRunRepository, ClaimedService
from app.billing.service import (
    InvoiceService,
    IssueDetails,
    document_number,
    is_billable,
    issue_details,
    sequence_name,
    tax_decision,
)
from app.billing.tax import TaxDecision
from app.catalog.service import tax_rate_for
from app.core.container import Container
from app.core.errors import DomainError
from app.core.ids import new_id
from app.core.sequences import NumberSequenceRepository
from app.models.catalog import BillingCycle
from app.models.customer import Customer
from app.models.invoice import InvoiceKind, InvoiceStatus
from app.models.order import Service, ServiceStatus

MAX_PERIODS_PER_RUN = 36  # a service years behind catches up over several runs, not at once
# Customers whose derived terms a run keeps between batches (least recently used go first): a
# snapshot is about a kilobyte, so a run over millions of customers stays within ~20 MB.
BUYER_CACHE_SIZE = 20_000
DESCRIPTION_MAX = 300


@dataclass(frozen=True)
class PassedService:
    service_id: uuid.UUID
    reason: str  # "already_invoiced", "customer_not_billable", or a domain error's code


@dataclass
class BillingRunReport:
    today: date
    due_by: date
    services_examined: int = 0
    invoices_created: int = 0
    skipped: int = 0  # a period of the service was already invoiced
    failed: int = 0  # the service could not be invoiced (e.g. its customer is closed)
    batches: int = 0
    totals: dict[str, int] = field(default_factory=dict)  # currency -> minor units, tax incl.
    passed_over: list[PassedService] = field(default_factory=list)
    duration_s: float = 0.0

    def pass_over(self, service_id: uuid.UUID, reason: str, *, skipped: bool) -> None:
        self.passed_over.append(PassedService(service_id=service_id, reason=reason))
        if skipped:
            self.skipped += 1
        else:
            self.failed += 1


BatchCallback = Callable[[BillingRunReport], None]


@dataclass(frozen=True)
class _Buyer:
    """What the run needs of a customer, derived once per run for each version of the record
    (its `updated_at`): whether it may be billed and, if so, its tax and what issuing copies
    onto its invoices."""

    customer_id: uuid.UUID
    version: datetime
    terms: tuple[TaxDecision, IssueDetails] | None  # None: not billable


@dataclass
class _Plan:
    """One claimed service and the periods it is invoiced for in this run."""

    service: Service
    customer_id: uuid.UUID
    terms: tuple[TaxDecision, IssueDetails]
    periods: list[Period]


@dataclass
class _Batch:
    invoices: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    advances: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)


def due_periods(service: Service, *, due_by: date) -> list[Period]:
    """The periods of `service` starting on or before `due_by`, oldest first."""
    periods: list[Period] = []
    start = service.next_due_date
    while start is not None and start <= due_by and len(periods) < MAX_PERIODS_PER_RUN:
        try:
            period = period_for(start=start, cycle=service.cycle)
        except ValueError:  # a cycle this code does not know: reported, never guessed
            break
        if period.next_start is None:  # one-time services never renew
            break
        periods.append(period)
        start = period.next_start
    return periods


def line_description(service: Service) -> str:
    suffix = f" ({service.cycle})"
    return service.description[: DESCRIPTION_MAX - len(suffix)] + suffix


class BillingRun:
    """One run. Opens its own units of work (one per batch); calling `run()` again goes on
    where the last call stopped, with what it learnt (customers' terms, services passed over)."""

    def __init__(
        self,
        *,
        container: Container,
        actor: Actor | None = None,
        batch_size: int | None = None,
        on_batch: BatchCallback | None = None,
        buyer_cache_size: int = BUYER_CACHE_SIZE,
    ) -> None:
        self.container = container
        self.settings = container.settings
        self.clock = container.clock
        self.actor = actor or Actor.system()
        self.batch_size = batch_size or self.settings.billing.billing_run_batch_size
        self.on_batch = on_batch
        self._rates: dict[tuple[str, str | None], int | None] = {}
        self._buyers: OrderedDict[uuid.UUID, _Buyer] = OrderedDict()
        self._buyer_cache_size = buyer_cache_size
        self._passed: set[uuid.UUID] = set()

    def due_by(self, today: date) -> date:
        return today + timedelta(days=self.settings.invoice.days_before_due)

    async def count_due(self, *, today: date) -> int:
        """How many services are due (for a progress bar; the run does not rely on it)."""
        async with self.container.database.unit_of_work(read_only=True) as session:
            statement = select(func.count()).where(
                Service.status == ServiceStatus.ACTIVE.value,
                Service.next_due_date <= self.due_by(today),
                Service.cycle != BillingCycle.ONE_TIME.value,
            )
            return int((await session.scalar(statement)) or 0)

    async def run(self, *, today: date | None = None, limit: int | None = None) -> BillingRunReport:
        started = time.monotonic()
        today = today or self.clock.now().date()
        report = BillingRunReport(today=today, due_by=self.due_by(today))
        while limit is None or report.services_examined < limit:
            size = self.batch_size
            if limit is not None:
                size = min(size, limit - report.services_examined)
            try:
                claimed = await self._batch(report, size=size, one_by_one=False)
            except (IntegrityError, DomainError):
                # Someone invoiced one of these periods meanwhile (or a service cannot be
                # billed): the batch rolled back whole; redo it service by service.
                claimed = await self._batch(report, size=size, one_by_one=True)
            if claimed == 0:
                break
            report.batches += 1
            if self.on_batch is not None:
                self.on_batch(report)
        report.duration_s = time.monotonic() - started
        return report

    # ------------------------------------------------------------------ one batch

    async def _batch(self, report: BillingRunReport, *, size: int, one_by_one: bool) -> int:
        """Claim up to `size` services and invoice them in one transaction; returns how many
        were claimed. The report is only updated once the transaction has committed."""
        local = BillingRunReport(today=report.today, due_by=report.due_by)
        async with self.container.database.unit_of_work() as session:
            repository = BillingRunRepository(session)
            claimed = await repository.claim_due(
                due_by=report.due_by, limit=size, exclude=self._passed
            )
            if not claimed:
                return 0
            local.services_examined = len(claimed)
            buyers = await self._buyers_of(session, repository, claimed)
            plans = await self._plans(repository, claimed, buyers, local)
            if one_by_one:
                for plan in plans:
                    await self._one_in_savepoint(session, repository, plan, local)
            elif plans:
                await self._issue(session, repository, plans, local)
        self._merge(report, local)
        return len(claimed)

    async def _buyers_of(
        self,
        session: AsyncSession,
        repository: BillingRunRepository,
        claimed: Sequence[ClaimedService],
    ) -> dict[uuid.UUID, _Buyer]:
        """The buyers of this batch: remembered from an earlier batch when their record has
        not changed since, else derived again (one query for all of those)."""
        buyers: dict[uuid.UUID, _Buyer] = {}
        stale: set[uuid.UUID] = set()
        for claim in claimed:
            customer_id = claim.service.customer_id
            known = self._buyers.get(customer_id)
            if known is not None and known.version == claim.customer_updated_at:
                buyers[customer_id] = known
                self._buyers.move_to_end(customer_id)
            else:
                stale.add(customer_id)
        for customer in await repository.customers(stale):
            terms = None
            if is_billable(customer):
                tax = await self._tax(session, customer)
                terms = (tax, issue_details(customer, tax))
            buyer = _Buyer(customer_id=customer.id, version=customer.updated_at, terms=terms)
            buyers[customer.id] = buyer
            self._remember(buyer)
        return buyers

    def _remember(self, buyer: _Buyer) -> None:
        self._buyers[buyer.customer_id] = buyer
        self._buyers.move_to_end(buyer.customer_id)
        while len(self._buyers) > self._buyer_cache_size:
            self._buyers.popitem(last=False)

    async def _plans(
        self,
        repository: BillingRunRepository,
        claimed: Sequence[ClaimedService],
        buyers: dict[uuid.UUID, _Buyer],
        report: BillingRunReport,
    ) -> list[_Plan]:
        plans: list[_Plan] = []
        for claim in claimed:
            service = claim.service
            buyer = buyers[service.customer_id]
            periods = due_periods(service, due_by=report.due_by)
            if not periods:
                report.pass_over(service.id, "not_renewable", skipped=False)
            elif buyer.terms is None:
                report.pass_over(service.id, "customer_not_billable", skipped=False)
            else:
                plans.append(
                    _Plan(
                        service=service,
                        customer_id=buyer.customer_id,
                        terms=buyer.terms,
                        periods=periods,
                    )
                )
        invoiced = await repository.invoiced_periods(
            service_ids=[plan.service.id for plan in plans],
            starts={period.start for plan in plans for period in plan.periods},
        )
        fresh: list[_Plan] = []
        for plan in plans:
            if any((plan.service.id, period.start) in invoiced for period in plan.periods):
                report.pass_over(plan.service.id, "already_invoiced", skipped=True)
            else:
                fresh.append(plan)
        return fresh

    async def _one_in_savepoint(
        self,
        session: AsyncSession,
        repository: BillingRunRepository,
        plan: _Plan,
        report: BillingRunReport,
    ) -> None:
        attempt = BillingRunReport(today=report.today, due_by=report.due_by)
        try:
            async with session.begin_nested():
                await self._issue(session, repository, [plan], attempt)
        except IntegrityError:
            report.pass_over(plan.service.id, "already_invoiced", skipped=True)
            return
        except DomainError as exc:
            report.pass_over(plan.service.id, exc.code, skipped=False)
            return
        report.invoices_created += attempt.invoices_created
        for currency, amount in attempt.totals.items():
            report.totals[currency] = report.totals.get(currency, 0) + amount

    async def _issue(
        self,
        session: AsyncSession,
        repository: BillingRunRepository,
        plans: Sequence[_Plan],
        report: BillingRunReport,
    ) -> None:
        now = self.clock.now()
        batch = _Batch()
        count = sum(len(plan.periods) for plan in plans)
        prefix = self.settings.invoice.number_prefix
        first = await NumberSequenceRepository(session).take_many(
            sequence_name(prefix=prefix, year=now.year), count=count
        )
        numbers = iter(range(first, first + count))
        for plan in plans:
            tax, details = plan.terms
            for period in plan.periods:
                self._add_invoice(
                    batch,
                    plan=plan,
                    period=period,
                    number=document_number(prefix=prefix, year=now.year, value=next(numbers)),
                    tax=tax,
                    details=details,
                    today=report.today,
                    now=now,
                )
            batch.advances.append(
                {
                    "id": plan.service.id,
                    "next_due_date": plan.periods[-1].next_start,
                    "updated_at": now,
                }
            )
        await repository.insert_invoices(batch.invoices)
        await repository.insert_lines(batch.lines)
        await repository.insert_audit(batch.audit)
        await repository.advance_services(batch.advances)
        await self._settle(session, repository, batch, now=now)
        report.invoices_created += len(batch.invoices)
        for currency, amount in batch.totals.items():
            report.totals[currency] = report.totals.get(currency, 0) + amount

    def _add_invoice(
        self,
        batch: _Batch,
        *,
        plan: _Plan,
        period: Period,
        number: str,
        tax: TaxDecision,
        details: IssueDetails,
        today: date,
        now: datetime,
    ) -> None:
        service = plan.service
        amounts = line_amounts(
            quantity=service.quantity, unit_amount=service.recurring_amount, tax_rate_bp=tax.rate_bp
        )
        invoice_id = new_id()
        net_terms = today + timedelta(days=self.settings.invoice.net_terms_days)
        batch.invoices.append(
            {
                "id": invoice_id,
                "number": number,
                "customer_id": plan.customer_id,
                "order_id": None,
                "kind": InvoiceKind.RENEWAL.value,
                "status": InvoiceStatus.OPEN.value,
                "currency": service.currency,
                "subtotal": amounts.net,
                "tax_total": amounts.tax,
                "total": amounts.total,
                "amount_paid": 0,
                "amount_credited": 0,
                "issued_at": now,
                "due_date": max(period.start, net_terms),
                "reverse_charge": details.reverse_charge,
                "tax_note": details.tax_note,
                "memo": None,
                "buyer_snapshot": details.buyer_snapshot,
                "buyer_country": details.buyer_country,
                "created_at": now,
                "updated_at": now,
            }
        )
        batch.lines.append(
            {
                "id": new_id(),
                "invoice_id": invoice_id,
                "position": 1,
                "description": line_description(service),
                "quantity": service.quantity,
                "unit_amount": service.recurring_amount,
                "tax_rate_bp": tax.rate_bp,
                "net_amount": amounts.net,
                "tax_amount": amounts.tax,
                "service_id": service.id,
                "period_start": period.start,
                "period_end": period.end,
            }
        )
        batch.audit.append(
            {
                "id": new_id(),
                "entity_type": "invoice",
                "entity_id": invoice_id,
                "action": "issued",
                "actor_id": self.actor.user_id,
                "actor_kind": self.actor.kind.value,
                "api_key_id": self.actor.api_key_id,
                "ip": self.actor.ip,
                "changes": masked_changes(
                    {"number": (None, number), "total": (None, amounts.total)}
                ),
                "created_at": now,
            }
        )
        batch.totals[service.currency] = batch.totals.get(service.currency, 0) + amounts.total

    async def _tax(self, session: AsyncSession, customer: Customer) -> TaxDecision:
        """`InvoiceService.tax_for`, with the configured rate looked up once per run for each
        (country, region)."""
        key = (customer.country, customer.region)
        if key not in self._rates:
            rate = await tax_rate_for(session, country=customer.country, region=customer.region)
            self._rates[key] = rate.rate_bp if rate else None
        return tax_decision(
            seller_country=self.settings.seller.country,
            customer=customer,
            configured_rate_bp=self._rates[key],
        )

    async def _settle(
        self,
        session: AsyncSession,
        repository: BillingRunRepository,
        batch: _Batch,
        *,
        now: datetime,
    ) -> None:
        """What `issue` does after numbering, for the few invoices it concerns: a zero total
        is paid at once; credit pays the invoices of customers holding some in its currency."""
        with_credit: Collection[tuple[uuid.UUID, str]] = set()
        if self.settings.billing.auto_apply_credit:
            with_credit = await repository.positive_balances(
                {row["customer_id"] for row in batch.invoices}
            )
        ids = [
            row["id"]
            for row in batch.invoices
            if row["total"] == 0 or (row["customer_id"], row["currency"]) in with_credit
        ]
        if not ids:
            return
        invoices = InvoiceService(session=session, container=self.container)
        for invoice in await repository.invoices(ids):
            await invoices.settle_issued(invoice, actor=self.actor, at=now)

    def _merge(self, report: BillingRunReport, local: BillingRunReport) -> None:
        report.services_examined += local.services_examined
        report.invoices_created += local.invoices_created
        report.skipped += local.skipped
        report.failed += local.failed
        report.passed_over.extend(local.passed_over)
        self._passed.update(passed.service_id for passed in local.passed_over)
        for currency, amount in local.totals.items():
            report.totals[currency] = report.totals.get(currency, 0) + amount


async def run_billing(
    *,
    container: Container,
    today: date | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    actor: Actor | None = None,
    on_batch: BatchCallback | None = None,
) -> BillingRunReport:
    """Run the billing once (see the module's docstring)."""
    run = BillingRun(container=container, actor=actor, batch_size=batch_size, on_batch=on_batch)
    return await run.run(today=today, limit=limit)
