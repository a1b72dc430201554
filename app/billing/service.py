"""Invoices: drafting, issuing (number, buyer snapshot, tax, due date), voiding, writing off,
and settling — the one place an invoice's paid amount moves.

Lock order for every money movement: the customer row first (`CustomerService.lock`), then the
invoice row. Everything that touches a customer's credit or an invoice's balance takes them in
that order, so concurrent movements queue and never deadlock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, record_change
from app.auth.errors import InsufficientScope
from app.billing.access import BillingViewer
from app.billing.errors import (
    AmountExceedsDue,
    CreditNotApplicable,
    CustomerNotBillable,
    InvoiceHasNoLines,
    InvoiceHasPayments,
    InvoiceNotDraft,
    InvoiceNotOpen,
)
from app.billing.export import invoices_csv
from app.billing.hooks import run_invoice_paid_hooks
from app.billing.ledger import CreditLedger
from app.billing.money import line_amounts
from app.billing.repository import InvoiceFilter, InvoiceRepository
from app.billing.snapshot import buyer_snapshot, encode_snapshot
from app.billing.tax import TaxDecision, decide_tax
from app.catalog.service import tax_rate_for
from app.core.container import Container
from app.core.errors import FieldError, InvalidInput
from app.core.pagination import PageParams
from app.core.sequences import NumberSequenceRepository
from app.customers.service import CustomerService
from app.models.customer import Customer, CustomerStatus
from app.models.invoice import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from app.models.payment import CreditEntryKind

NUMBER_DIGITS = 6
EXPORT_BATCH_SIZE = 1000
ADD_FUNDS_DESCRIPTION = "Add funds"
UNTAXED = TaxDecision(rate_bp=0)


def document_number(*, prefix: str, year: int, value: int) -> str:
    """INV-2026-000001: gapless per series and year."""
    return f"{prefix}-{year}-{value:0{NUMBER_DIGITS}d}"


def sequence_name(*, prefix: str, year: int) -> str:
    return f"document:{prefix}:{year}"


def is_billable(customer: Customer) -> bool:
    """A closed or erased customer is never invoiced."""
    return customer.status != CustomerStatus.CLOSED and customer.anonymised_at is None


def tax_decision(
    *, seller_country: str, customer: Customer, configured_rate_bp: int | None
) -> TaxDecision:
    """The tax rules for this buyer, given the staff-managed rate of their country/region."""
    return decide_tax(
        seller_country=seller_country,
        buyer_country=customer.country,
        vat_id=customer.vat_id,
        tax_exempt=customer.tax_exempt,
        configured_rate_bp=configured_rate_bp,
    )


@dataclass(frozen=True)
class IssueDetails:
    """What issuing fixes onto an invoice besides its number and dates."""

    reverse_charge: bool
    tax_note: str | None
    buyer_snapshot: str  # JSON, encrypted by the column type
    buyer_country: str


def issue_details(customer: Customer, tax: TaxDecision) -> IssueDetails:
    return IssueDetails(
        reverse_charge=tax.reverse_charge,
        tax_note=tax.note,
        buyer_snapshot=encode_snapshot(buyer_snapshot(customer)),
        buyer_country=customer.country,
    )


@dataclass(frozen=True)
class NewLine:
    description: str
    unit_amount: int
    quantity: int = 1
    service_id: uuid.UUID | None = None
    period_start: date | None = None
    period_end: date | None = None  # inclusive


@dataclass(frozen=True)
class InvoiceView:
    invoice: Invoice
    lines: list[InvoiceLine]


class InvoiceService:
    """Request-scoped: built per request (or per job batch) from the session and container."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.settings = container.settings
        self.invoices = InvoiceRepository(session)
        self.numbers = NumberSequenceRepository(session)
        self.ledger = CreditLedger(session)
        self.customers = CustomerService(session=session, container=container)

    # ------------------------------------------------------------------ reading

    async def get(self, invoice_id: uuid.UUID, *, viewer: BillingViewer) -> Invoice:
        return await self.invoices.get_readable(invoice_id, viewer=viewer)

    async def lines(self, invoice: Invoice) -> list[InvoiceLine]:
        return await self.invoices.lines(invoice.id)

    async def page(
        self, *, viewer: BillingViewer, search: InvoiceFilter, page: PageParams
    ) -> tuple[Sequence[Invoice], str | None]:
        return await self.invoices.page(viewer=viewer, search=search, page=page)

    def today(self) -> date:
        return self.clock.now().date()

    # ------------------------------------------------------------------ tax

    async def tax_for_invoice(self, customer: Customer, *, kind: str) -> TaxDecision:
        """An add-funds invoice is a prepayment of credit, not a supply: it carries no tax
        (0 %). The tax is charged on the invoices that credit later pays, which are taxed as
        usual; taxing the prepayment too would charge it twice."""
        if kind == InvoiceKind.ADD_FUNDS:
            return UNTAXED
        return await self.tax_for(customer)

    async def tax_for(self, customer: Customer) -> TaxDecision:
        rate = await tax_rate_for(self.session, country=customer.country, region=customer.region)
        return tax_decision(
            seller_country=self.settings.seller.country,
            customer=customer,
            configured_rate_bp=rate.rate_bp if rate else None,
        )

    # ------------------------------------------------------------------ drafting

    async def create_draft(
        self,
        *,
        customer: Customer,
        kind: InvoiceKind,
        currency: str,
        lines: Sequence[NewLine],
        actor: Actor,
        order_id: uuid.UUID | None = None,
        memo: str | None = None,
    ) -> Invoice:
        if customer.status == CustomerStatus.CLOSED or customer.anonymised_at is not None:
            raise CustomerNotBillable("A closed customer cannot be invoiced.")
        invoice = await self.invoices.add(
            Invoice(
                customer_id=customer.id,
                order_id=order_id,
                kind=kind.value,
                status=InvoiceStatus.DRAFT.value,
                currency=currency,
                memo=memo,
            )
        )
        tax = await self.tax_for_invoice(customer, kind=kind)
        for position, line in enumerate(lines, start=1):
            self.session.add(self._line(invoice, line, position=position, tax=tax))
        await self.session.flush()
        await self._recompute_totals(invoice)
        await record_change(
            self.session,
            entity_type="invoice",
            entity_id=invoice.id,
            action="drafted",
            actor=actor,
            at=self.clock.now(),
        )
        return invoice

    async def add_line(self, *, invoice_id: uuid.UUID, line: NewLine, actor: Actor) -> Invoice:
        invoice = await self.invoices.lock(invoice_id)
        if invoice.status != InvoiceStatus.DRAFT:
            raise InvoiceNotDraft()
        customer = await self.customers.get(invoice.customer_id)
        position = await self.invoices.next_position(invoice.id)
        self.session.add(
            self._line(
                invoice,
                line,
                position=position,
                tax=await self.tax_for_invoice(customer, kind=invoice.kind),
            )
        )
        await self.session.flush()
        await self._recompute_totals(invoice)
        await record_change(
            self.session,
            entity_type="invoice",
            entity_id=invoice.id,
            action="line_added",
            actor=actor,
            at=self.clock.now(),
        )
        return invoice

    async def delete_draft(self, *, invoice_id: uuid.UUID, actor: Actor) -> None:
        invoice = await self.invoices.lock(invoice_id)
        if invoice.status != InvoiceStatus.DRAFT:
            raise InvoiceNotDraft("Issued invoices are voided or credited, never deleted.")
        await record_change(
            self.session,
            entity_type="invoice",
            entity_id=invoice.id,
            action="deleted",
            actor=actor,
            at=self.clock.now(),
        )
        await self.session.delete(invoice)
        await self.session.flush()

    @staticmethod
    def _line(invoice: Invoice, line: NewLine, *, position: int, tax: TaxDecision) -> InvoiceLine:
        amounts = line_amounts(
            quantity=line.quantity, unit_amount=line.unit_amount, tax_rate_bp=tax.rate_bp
        )
        return InvoiceLine(
            invoice_id=invoice.id,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            tax_rate_bp=tax.rate_bp,
            net_amount=amounts.net,
            tax_amount=amounts.tax,
            service_id=line.service_id,
            period_start=line.period_start,
            period_end=line.period_end,
        )

    async def _recompute_totals(self, invoice: Invoice) -> list[InvoiceLine]:
        lines = await self.invoices.lines(invoice.id)
        invoice.subtotal = sum(line.net_amount for line in lines)
        invoice.tax_total = sum(line.tax_amount for line in lines)
        invoice.total = invoice.subtotal + invoice.tax_total
        await self.session.flush()
        return lines

    # ------------------------------------------------------------------ issuing

    async def issue(self, *, invoice_id: uuid.UUID, actor: Actor) -> Invoice:
        """Draft → open: the current tax rules and buyer details are fixed onto the invoice,
        the next number of the year's series is taken, and available credit pays it when the
        setting says so. A zero total is paid at once."""
        invoice = await self.invoices.lock(invoice_id)
        if invoice.status != InvoiceStatus.DRAFT:
            raise InvoiceNotDraft()
        customer = await self.customers.get(invoice.customer_id)
        if not is_billable(customer):
            raise CustomerNotBillable("A closed customer cannot be invoiced.")
        lines = await self.invoices.lines(invoice.id)
        if not lines:
            raise InvoiceHasNoLines()
        now = self.clock.now()
        tax = await self.tax_for_invoice(customer, kind=invoice.kind)
        for line in lines:
            amounts = line_amounts(
                quantity=line.quantity, unit_amount=line.unit_amount, tax_rate_bp=tax.rate_bp
            )
            line.tax_rate_bp, line.net_amount, line.tax_amount = (
                tax.rate_bp,
                amounts.net,
                amounts.tax,
            )
        await self._recompute_totals(invoice)
        prefix = self.settings.invoice.number_prefix
        value = await self.numbers.take(sequence_name(prefix=prefix, year=now.year))
        invoice.number = document_number(prefix=prefix, year=now.year, value=value)
        invoice.status = InvoiceStatus.OPEN.value
        invoice.issued_at = now
        invoice.due_date = now.date() + timedelta(days=self.settings.invoice.net_terms_days)
        details = issue_details(customer, tax)
        invoice.reverse_charge = details.reverse_charge
        invoice.tax_note = details.tax_note
        invoice.buyer_snapshot = details.buyer_snapshot
        invoice.buyer_country = details.buyer_country
        await self.session.flush()
        await record_change(
            self.session,
            entity_type="invoice",
            entity_id=invoice.id,
            action="issued",
            actor=actor,
            at=now,
            changes={"number": (None, invoice.number), "total": (None, invoice.total)},
        )
        await self.settle_issued(invoice, actor=actor, at=now)
        return invoice

    async def settle_issued(self, invoice: Invoice, *, actor: Actor, at: datetime) -> None:
        """What follows issuing (here and in the billing run): a zero total is paid at once;
        otherwise available credit pays it when the setting says so."""
        if invoice.total == 0:
            await self._mark_paid(invoice, at=at)
        elif self.settings.billing.auto_apply_credit and invoice.kind != InvoiceKind.ADD_FUNDS:
            await self.apply_credit(invoice_id=invoice.id, actor=actor, amount=None)

    # ------------------------------------------------------------------ settling

    async def lock_for_payment(self, invoice_id: uuid.UUID) -> tuple[Customer, Invoice]:
        """Customer row, then invoice row (the lock order of every money movement)."""
        unlocked = await self.invoices.get_or_raise(invoice_id)
        customer = await self.customers.lock(unlocked.customer_id)
        return customer, await self.invoices.lock(invoice_id)

    async def settle(self, invoice: Invoice, *, amount: int) -> None:
        """Add `amount` to what the (locked) invoice has been paid; paid in full → `paid`."""
        if invoice.status != InvoiceStatus.OPEN:
            raise InvoiceNotOpen()
        if amount <= 0 or amount > invoice.amount_due:
            raise ValueError("settle at most what the invoice still asks for")
        invoice.amount_paid += amount
        if invoice.amount_due == 0:
            await self._mark_paid(invoice, at=self.clock.now())
        await self.session.flush()

    async def _mark_paid(self, invoice: Invoice, *, at: datetime) -> None:
        invoice.status = InvoiceStatus.PAID.value
        invoice.paid_at = at
        await self.session.flush()
        if invoice.kind == InvoiceKind.ADD_FUNDS:
            await self.ledger.append(
                customer_id=invoice.customer_id,
                currency=invoice.currency,
                kind=CreditEntryKind.FUNDS_ADDED,
                amount=invoice.total - invoice.tax_total,
                at=at,
                invoice_id=invoice.id,
                memo=f"Add funds ({invoice.number})",
            )
        await run_invoice_paid_hooks(self.session, invoice, at)

    async def apply_credit(
        self, *, invoice_id: uuid.UUID, actor: Actor, amount: int | None
    ) -> Invoice:
        """Pay an open invoice from the customer's credit: `amount`, or as much as is both
        available and due when None (then nothing available is not an error)."""
        customer, invoice = await self.lock_for_payment(invoice_id)
        if invoice.status != InvoiceStatus.OPEN:
            raise InvoiceNotOpen()
        if invoice.kind == InvoiceKind.ADD_FUNDS:
            raise CreditNotApplicable("Credit cannot pay an add-funds invoice.")
        available = await self.ledger.balance(customer_id=customer.id, currency=invoice.currency)
        use = min(available, invoice.amount_due) if amount is None else amount
        if use <= 0:
            return invoice
        if use > invoice.amount_due:
            raise AmountExceedsDue(extra={"amount_due": invoice.amount_due})
        now = self.clock.now()
        await self.ledger.append(
            customer_id=customer.id,
            currency=invoice.currency,
            kind=CreditEntryKind.CREDIT_APPLIED,
            amount=-use,
            at=now,
            invoice_id=invoice.id,
            memo=f"Applied to {invoice.number}",
            actor_id=actor.user_id,
        )
        await self.settle(invoice, amount=use)
        await record_change(
            self.session,
            entity_type="invoice",
            entity_id=invoice.id,
            action="credit_applied",
            actor=actor,
            at=now,
            changes={"amount_paid": (invoice.amount_paid - use, invoice.amount_paid)},
        )
        return invoice

    async def reduce_by_credit_note(self, invoice: Invoice, *, amount: int) -> None:
        """Lower what the (locked) open invoice asks for by `amount` of a credit note. When
        nothing is left to pay it is settled: `paid` (paid hooks run) if anything was paid on
        it, else `void` (nothing was ever owed)."""
        if invoice.status != InvoiceStatus.OPEN:
            raise InvoiceNotOpen()
        if amount <= 0 or amount > invoice.amount_due:
            raise ValueError("a credit note lowers at most what the invoice still asks for")
        invoice.amount_credited += amount
        if invoice.amount_due == 0:
            now = self.clock.now()
            if invoice.amount_paid > 0:
                await self._mark_paid(invoice, at=now)
            else:
                invoice.status = InvoiceStatus.VOID.value
                invoice.voided_at = now
        await self.session.flush()

    # ------------------------------------------------------------------ closing

    async def void(self, *, invoice_id: uuid.UUID, actor: Actor, reason: str | None) -> Invoice:
        """An issued invoice nobody paid anything on is voided; its number stays used."""
        invoice = await self.invoices.lock(invoice_id)
        if invoice.status != InvoiceStatus.OPEN:
            raise InvoiceNotOpen("Only an open invoice can be voided.")
        if invoice.amount_paid > 0:
            raise InvoiceHasPayments()
        return await self._close(
            invoice, status=InvoiceStatus.VOID, action="voided", actor=actor, reason=reason
        )

    async def write_off(
        self, *, invoice_id: uuid.UUID, actor: Actor, reason: str | None
    ) -> Invoice:
        """Open → uncollectible: the rest is written off (what was paid stays paid)."""
        invoice = await self.invoices.lock(invoice_id)
        if invoice.status != InvoiceStatus.OPEN:
            raise InvoiceNotOpen("Only an open invoice can be written off.")
        return await self._close(
            invoice,
            status=InvoiceStatus.UNCOLLECTIBLE,
            action="written_off",
            actor=actor,
            reason=reason,
        )

    async def _close(
        self,
        invoice: Invoice,
        *,
        status: InvoiceStatus,
        action: str,
        actor: Actor,
        reason: str | None,
    ) -> Invoice:
        now = self.clock.now()
        previous = invoice.status
        invoice.status = status.value
        if status == InvoiceStatus.VOID:
            invoice.voided_at = now
        else:
            invoice.written_off_at = now
        if reason:
            invoice.memo = f"{invoice.memo}\n{reason}" if invoice.memo else reason
        await self.session.flush()
        await record_change(
            self.session,
            entity_type="invoice",
            entity_id=invoice.id,
            action=action,
            actor=actor,
            at=now,
            changes={"status": (previous, invoice.status)},
        )
        return invoice

    # ------------------------------------------------------------------ the API's operations

    async def view(self, invoice_id: uuid.UUID, *, viewer: BillingViewer) -> InvoiceView:
        return await self.with_lines(await self.get(invoice_id, viewer=viewer))

    async def with_lines(self, invoice: Invoice) -> InvoiceView:
        return InvoiceView(invoice=invoice, lines=await self.lines(invoice))

    async def draft_manual(
        self,
        *,
        customer_id: uuid.UUID,
        currency: str | None,
        lines: Sequence[NewLine],
        memo: str | None,
        actor: Actor,
    ) -> Invoice:
        """Staff draft an invoice by hand (in the customer's currency unless told)."""
        customer = await self.customers.get(customer_id)
        return await self.create_draft(
            customer=customer,
            kind=InvoiceKind.MANUAL,
            currency=currency or customer.currency,
            lines=lines,
            actor=actor,
            memo=memo,
        )

    async def add_funds(
        self,
        *,
        viewer: BillingViewer,
        customer_id: uuid.UUID | None,
        amount: int,
        currency: str | None,
        actor: Actor,
    ) -> Invoice:
        """An add-funds invoice, issued at once (untaxed, see `tax_for_invoice`): a customer
        for themselves, staff with `billing:write` for the customer they name. Paying it adds
        `amount` to the credit balance."""
        if viewer.is_staff_view:
            if not viewer.can_write:
                raise InsufficientScope("Adding funds for a customer needs `billing:write`.")
            if customer_id is None:
                raise InvalidInput(
                    [
                        FieldError(
                            field="body.customer_id",
                            code="missing",
                            message="Name the customer to add funds for.",
                        )
                    ]
                )
            customer = await self.customers.get(customer_id)
        else:
            if viewer.user_id is None:  # pragma: no cover - a customer view has a user
                raise InsufficientScope()
            customer = await self.customers.for_user(viewer.user_id)
            if customer_id is not None and customer_id != customer.id:
                raise InsufficientScope("A customer adds funds to their own account only.")
        limits = self.settings.billing
        if not limits.add_funds_min <= amount <= limits.add_funds_max:
            raise InvalidInput(
                [
                    FieldError(
                        field="body.amount",
                        code="amount_out_of_range",
                        message=(
                            f"Add between {limits.add_funds_min} and {limits.add_funds_max} "
                            "(minor units)."
                        ),
                    )
                ]
            )
        draft = await self.create_draft(
            customer=customer,
            kind=InvoiceKind.ADD_FUNDS,
            currency=currency or customer.currency,
            lines=[NewLine(description=ADD_FUNDS_DESCRIPTION, unit_amount=amount)],
            actor=actor,
        )
        return await self.issue(invoice_id=draft.id, actor=actor)

    async def apply_credit_for(
        self,
        *,
        viewer: BillingViewer,
        invoice_id: uuid.UUID,
        amount: int | None,
        actor: Actor,
    ) -> Invoice:
        """Staff with `billing:write` on any invoice; a customer on their own (another's is
        404, as if it did not exist)."""
        if viewer.is_staff_view and not viewer.can_write:
            raise InsufficientScope("Applying credit for a customer needs `billing:write`.")
        if not viewer.is_staff_view:
            await self.get(invoice_id, viewer=viewer)
        return await self.apply_credit(invoice_id=invoice_id, actor=actor, amount=amount)


async def stream_invoices_csv(
    *,
    container: Container,
    viewer: BillingViewer,
    search: InvoiceFilter,
    batch_size: int = EXPORT_BATCH_SIZE,
) -> AsyncIterator[str]:
    """The CSV export, streamed: the header, then pages of `batch_size` rows read
    keyset-wise in a unit of work of its own (the request's session is closed by the time a
    streamed body is sent)."""
    header = "".join(invoices_csv([]))
    yield header
    async with container.database.unit_of_work(read_only=True) as session:
        batches = InvoiceRepository(session).batches(viewer=viewer, search=search, size=batch_size)
        async for batch in batches:
            text = "".join(invoices_csv(batch))
            yield text.removeprefix(header)
