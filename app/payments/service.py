"""Payments, the credit balance, credit notes and disputes.

Every money movement here takes the customer's row lock, then the invoice's
(`InvoiceService.lock_for_payment`), before it reads a balance or an amount due, so concurrent
payments, credit applications and credit notes of one customer queue instead of racing. The
credit balance is only ever the ledger (`CreditLedger`): entries are appended, never edited,
and no endpoint sets a balance.

Importing this module registers billing's erasure blocker (unpaid invoices, open disputes) and
the billing sections of the data export.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, record_change
from app.billing.access import BillingViewer
from app.billing.errors import (
    CreditNotApplicable,
    CurrencyMismatch,
    CustomerNotBillable,
    InvoiceNotOpen,
)
from app.billing.ledger import CreditLedger
from app.billing.money import MAX_AMOUNT, line_amounts
from app.billing.repository import InvoiceRepository
from app.billing.service import InvoiceService, document_number, sequence_name
from app.core.container import Container
from app.core.errors import DomainError, FieldError, InvalidInput
from app.core.pagination import PageParams
from app.core.sequences import NumberSequenceRepository
from app.customers.service import CustomerService
from app.models.customer import Customer, CustomerStatus
from app.models.invoice import (
    CreditNote,
    CreditNoteLine,
    CreditNoteReason,
    CreditNoteSettlement,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from app.models.payment import CreditEntry, CreditEntryKind, Dispute, DisputeStatus, Payment
from app.payments.errors import (
    CreditExceedsInvoice,
    CreditNoteEmpty,
    DisputeNotOpen,
    InvoiceNotIssued,
    PaymentNotOnInvoice,
    ReceivedInFuture,
)
from app.payments.export import register_export_sections
from app.payments.repository import (
    Credited,
    CreditNoteRepository,
    DisputeRepository,
    PaymentFilter,
    PaymentRepository,
)
from app.privacy.erasure import register_erasure_blocker

# No balance may grow past the largest amount the API handles anywhere (the columns are 64-bit).
MAX_STORED_AMOUNT = MAX_AMOUNT


class BalanceLimitExceeded(DomainError):
    status = 422
    code = "balance_limit_exceeded"
    title = "The credit balance cannot grow this large"


async def _check_room(
    ledger: CreditLedger, *, customer_id: uuid.UUID, currency: str, add: int
) -> None:
    """Refuse, as a client error, an entry that would overflow the stored running balance."""
    balance = await ledger.balance(customer_id=customer_id, currency=currency)
    if balance + add > MAX_STORED_AMOUNT:
        raise BalanceLimitExceeded(extra={"available": balance, "currency": currency})


# --------------------------------------------------------------------------- payments


@dataclass(frozen=True)
class NewPayment:
    amount: int
    method: str
    reference: str | None = None
    received_at: datetime | None = None
    currency: str | None = None


class PaymentService:
    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.clock = container.clock
        self.invoices = InvoiceService(session=session, container=container)
        self.payments = PaymentRepository(session)
        self.ledger = CreditLedger(session)

    async def record(self, *, invoice_id: uuid.UUID, payment: NewPayment, actor: Actor) -> Payment:
        """Money received for an open invoice, in its currency. What the invoice still asks
        for is settled (paid in full → `paid`, its paid hooks run); anything beyond it is an
        overpayment and goes to the customer's credit balance, linked to the payment."""
        now = self.clock.now()
        received_at = payment.received_at or now
        if received_at > now:
            raise ReceivedInFuture("`received_at` is later than now.")
        customer, invoice = await self.invoices.lock_for_payment(invoice_id)
        if invoice.status != InvoiceStatus.OPEN:
            raise InvoiceNotOpen(
                "Only an open invoice takes payments.", extra={"invoice_status": invoice.status}
            )
        if payment.currency is not None and payment.currency != invoice.currency:
            raise CurrencyMismatch(
                "A payment is in its invoice's currency.",
                extra={"invoice_currency": invoice.currency},
            )
        applied = min(payment.amount, invoice.amount_due)
        overpaid = payment.amount - applied
        if overpaid > 0:
            await _check_room(
                self.ledger, customer_id=customer.id, currency=invoice.currency, add=overpaid
            )
        row = await self.payments.add(
            Payment(
                invoice_id=invoice.id,
                customer_id=customer.id,
                method=payment.method,
                currency=invoice.currency,
                amount=payment.amount,
                applied_amount=applied,
                reference=payment.reference,
                received_at=received_at,
                recorded_by_id=actor.user_id,
                created_at=now,
            )
        )
        paid_before = invoice.amount_paid
        if applied > 0:
            await self.invoices.settle(invoice, amount=applied)
        if overpaid > 0:
            await self.ledger.append(
                customer_id=customer.id,
                currency=invoice.currency,
                kind=CreditEntryKind.OVERPAYMENT,
                amount=overpaid,
                at=now,
                invoice_id=invoice.id,
                payment_id=row.id,
                memo=f"Overpayment of {invoice.number}",
                actor_id=actor.user_id,
            )
        await record_change(
            self.session,
            entity_type="payment",
            entity_id=row.id,
            action="recorded",
            actor=actor,
            at=now,
            changes={"amount": (None, row.amount), "applied_amount": (None, applied)},
        )
        await record_change(
            self.session,
            entity_type="invoice",
            entity_id=invoice.id,
            action="payment_recorded",
            actor=actor,
            at=now,
            changes={"amount_paid": (paid_before, invoice.amount_paid)},
        )
        return row

    async def page(
        self, *, viewer: BillingViewer, search: PaymentFilter, page: PageParams
    ) -> tuple[Sequence[Payment], str | None]:
        return await self.payments.page(viewer=viewer, search=search, page=page)

    async def page_of_invoice(
        self, *, invoice_id: uuid.UUID, viewer: BillingViewer, page: PageParams
    ) -> tuple[Sequence[Payment], str | None]:
        await self.invoices.get(invoice_id, viewer=viewer)  # 404 unless readable
        return await self.payments.page(
            viewer=viewer, search=PaymentFilter(invoice_id=invoice_id), page=page
        )


# --------------------------------------------------------------------------- credit


@dataclass(frozen=True)
class CreditView:
    customer_id: uuid.UUID
    balances: dict[str, int]
    entries: Sequence[CreditEntry]
    next_cursor: str | None


class CreditService:
    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.clock = container.clock
        self.customers = CustomerService(session=session, container=container)
        self.ledger = CreditLedger(session)

    async def of_customer(
        self, *, customer_id: uuid.UUID, currency: str | None, page: PageParams
    ) -> CreditView:
        customer = await self.customers.get(customer_id)
        return await self._view(customer, currency=currency, page=page)

    async def mine(
        self, *, user_id: uuid.UUID, currency: str | None, page: PageParams
    ) -> CreditView:
        customer = await self.customers.for_user(user_id)
        return await self._view(customer, currency=currency, page=page)

    async def _view(
        self, customer: Customer, *, currency: str | None, page: PageParams
    ) -> CreditView:
        entries, next_cursor = await self.ledger.page(
            customer_id=customer.id, currency=currency, page=page
        )
        return CreditView(
            customer_id=customer.id,
            balances=await self.ledger.balances(customer_id=customer.id),
            entries=entries,
            next_cursor=next_cursor,
        )

    async def add_funds(
        self, *, customer_id: uuid.UUID, amount: int, currency: str, memo: str, actor: Actor
    ) -> CreditEntry:
        """Staff add funds by hand (a goodwill credit, money received outside an invoice): a
        `funds_added` entry under the customer's lock, audited."""
        customer = await self.customers.lock(customer_id)
        if customer.status == CustomerStatus.CLOSED or customer.anonymised_at is not None:
            raise CustomerNotBillable("A closed customer's balance cannot change.")
        await _check_room(self.ledger, customer_id=customer.id, currency=currency, add=amount)
        now = self.clock.now()
        entry = await self.ledger.append(
            customer_id=customer.id,
            currency=currency,
            kind=CreditEntryKind.FUNDS_ADDED,
            amount=amount,
            at=now,
            memo=memo,
            actor_id=actor.user_id,
        )
        await record_change(
            self.session,
            entity_type="credit_entry",
            entity_id=entry.id,
            action="funds_added",
            actor=actor,
            at=now,
            changes={"amount": (None, amount), "balance_after": (None, entry.balance_after)},
        )
        return entry


# --------------------------------------------------------------------------- credit notes


@dataclass(frozen=True)
class CreditLine:
    invoice_line_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class NewCreditNote:
    reason: CreditNoteReason
    settlement: CreditNoteSettlement
    memo: str | None = None
    lines: Sequence[CreditLine] | None = None  # None: everything not credited yet


CREDITABLE = (InvoiceStatus.OPEN.value, InvoiceStatus.PAID.value)


class CreditNoteService:
    """Credit notes correct an issued (open or paid) invoice, line by line.

    Per credited line: net = quantity x the line's unit amount, tax = net x the line's rate
    rounded half-up (as on the invoice); the last units of a line take exactly what is left of
    its net and tax, so crediting a line in parts never exceeds what it invoiced.

    Settlement, under the customer-then-invoice lock: first the part up to what the invoice
    still asks for lowers it (`amount_credited`, recorded as `applied_to_due`). An open invoice
    that asks for nothing more is then settled: `paid` (its paid hooks run) when something was
    paid on it, `void` when nothing was (nothing was ever owed). The rest — money already
    paid — goes to the credit balance as a `credit_note` entry (`credit_balance`), or is only
    recorded as paid back outside the system (`refunded`).

    Add-funds invoices are not credited (their payment already became credit): 409.
    """

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.clock = container.clock
        self.settings = container.settings
        self.invoices = InvoiceService(session=session, container=container)
        self.notes = CreditNoteRepository(session)
        self.numbers = NumberSequenceRepository(session)
        self.ledger = CreditLedger(session)

    async def issue(
        self, *, invoice_id: uuid.UUID, note: NewCreditNote, actor: Actor
    ) -> tuple[CreditNote, list[CreditNoteLine]]:
        customer, invoice = await self.invoices.lock_for_payment(invoice_id)
        if invoice.status not in CREDITABLE:
            raise InvoiceNotIssued(
                "Only an open or paid invoice can be credited.",
                extra={"invoice_status": invoice.status},
            )
        if invoice.kind == InvoiceKind.ADD_FUNDS:
            raise CreditNotApplicable("An add-funds invoice is not corrected by a credit note.")
        invoice_lines = await self.invoices.lines(invoice)
        credited = await self.notes.credited_per_line(invoice.id)
        planned = self._plan(invoice_lines, credited, note.lines)
        subtotal = sum(line.net_amount for line in planned)
        tax_total = sum(line.tax_amount for line in planned)
        total = subtotal + tax_total
        if total <= 0:
            raise CreditNoteEmpty("The credited lines add up to nothing.")
        already = await self.notes.credited_total(invoice.id)
        if already + total > invoice.total:
            raise CreditExceedsInvoice(
                "The invoice has less left to credit.",
                extra={"creditable": max(invoice.total - already, 0)},
            )
        applied = min(total, invoice.amount_due)
        rest = total - applied
        if rest > 0 and note.settlement == CreditNoteSettlement.CREDIT_BALANCE:
            await _check_room(
                self.ledger, customer_id=customer.id, currency=invoice.currency, add=rest
            )
        now = self.clock.now()
        prefix = self.settings.invoice.credit_note_prefix
        value = await self.numbers.take(sequence_name(prefix=prefix, year=now.year))
        credit_note = await self.notes.add(
            CreditNote(
                number=document_number(prefix=prefix, year=now.year, value=value),
                invoice_id=invoice.id,
                customer_id=customer.id,
                reason=note.reason.value,
                settlement=note.settlement.value,
                memo=note.memo,
                currency=invoice.currency,
                subtotal=subtotal,
                tax_total=tax_total,
                total=total,
                applied_to_due=applied,
                issued_at=now,
                created_by_id=actor.user_id,
            )
        )
        for line in planned:
            line.credit_note_id = credit_note.id
            self.session.add(line)
        await self.session.flush()
        status_before, credited_before = invoice.status, invoice.amount_credited
        if applied > 0:
            await self.invoices.reduce_by_credit_note(invoice, amount=applied)
        if rest > 0 and note.settlement == CreditNoteSettlement.CREDIT_BALANCE:
            await self.ledger.append(
                customer_id=customer.id,
                currency=invoice.currency,
                kind=CreditEntryKind.CREDIT_NOTE,
                amount=rest,
                at=now,
                invoice_id=invoice.id,
                credit_note_id=credit_note.id,
                memo=f"Credit note {credit_note.number}",
                actor_id=actor.user_id,
            )
        await record_change(
            self.session,
            entity_type="credit_note",
            entity_id=credit_note.id,
            action="issued",
            actor=actor,
            at=now,
            changes={"total": (None, total), "applied_to_due": (None, applied)},
        )
        await record_change(
            self.session,
            entity_type="invoice",
            entity_id=invoice.id,
            action="credited",
            actor=actor,
            at=now,
            changes={
                "amount_credited": (credited_before, invoice.amount_credited),
                "status": (status_before, invoice.status),
            },
        )
        return credit_note, planned

    @staticmethod
    def _plan(
        invoice_lines: Sequence[InvoiceLine],
        credited: dict[uuid.UUID, Credited],
        requested: Sequence[CreditLine] | None,
    ) -> list[CreditNoteLine]:
        by_id = {line.id: line for line in invoice_lines}
        if requested is None:
            wanted = [
                (line, line.quantity - credited.get(line.id, Credited()).quantity)
                for line in invoice_lines
            ]
            wanted = [(line, quantity) for line, quantity in wanted if quantity > 0]
            if not wanted:
                raise CreditExceedsInvoice("Everything on this invoice is already credited.")
        else:
            errors: list[FieldError] = []
            seen: set[uuid.UUID] = set()
            for index, item in enumerate(requested):
                field = f"body.lines.{index}.invoice_line_id"
                if item.invoice_line_id not in by_id:
                    errors.append(
                        FieldError(
                            field=field, code="unknown_line", message="Not a line of this invoice."
                        )
                    )
                elif item.invoice_line_id in seen:
                    errors.append(
                        FieldError(field=field, code="duplicate_line", message="Listed twice.")
                    )
                seen.add(item.invoice_line_id)
            if errors:
                raise InvalidInput(errors)
            wanted = [(by_id[item.invoice_line_id], item.quantity) for item in requested]
        planned = []
        for line, quantity in wanted:
            done = credited.get(line.id, Credited())
            left = line.quantity - done.quantity
            if quantity > left:
                raise CreditExceedsInvoice(
                    f"Line {line.position} has {left} unit(s) left to credit.",
                    extra={"invoice_line_id": str(line.id), "creditable_quantity": left},
                )
            if quantity == left:  # the last units take exactly what is left
                net, tax = line.net_amount - done.net, line.tax_amount - done.tax
            else:
                amounts = line_amounts(
                    quantity=quantity, unit_amount=line.unit_amount, tax_rate_bp=line.tax_rate_bp
                )
                net = min(amounts.net, line.net_amount - done.net)
                tax = min(amounts.tax, line.tax_amount - done.tax)
            planned.append(
                CreditNoteLine(
                    invoice_line_id=line.id,
                    description=line.description,
                    quantity=quantity,
                    net_amount=net,
                    tax_amount=tax,
                )
            )
        return planned

    async def page(
        self,
        *,
        viewer: BillingViewer,
        invoice_id: uuid.UUID | None,
        customer_id: uuid.UUID | None,
        page: PageParams,
    ) -> tuple[Sequence[CreditNote], str | None]:
        return await self.notes.page(
            viewer=viewer, invoice_id=invoice_id, customer_id=customer_id, page=page
        )

    async def get(
        self, note_id: uuid.UUID, *, viewer: BillingViewer
    ) -> tuple[CreditNote, list[CreditNoteLine]]:
        note = await self.notes.get_readable(note_id, viewer=viewer)
        return note, await self.notes.lines(note.id)


# --------------------------------------------------------------------------- disputes


class DisputeService:
    """A customer contests an invoice (or one of its payments); while open, erasure waits."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.clock = container.clock
        self.invoices = InvoiceRepository(session)
        self.payments = PaymentRepository(session)
        self.disputes = DisputeRepository(session)

    async def open(
        self,
        *,
        invoice_id: uuid.UUID,
        reason: str,
        payment_id: uuid.UUID | None,
        is_chargeback: bool,
        actor: Actor,
    ) -> Dispute:
        invoice = await self.invoices.get_or_raise(invoice_id)
        if invoice.status == InvoiceStatus.DRAFT:
            raise InvoiceNotIssued("A draft invoice cannot be disputed.")
        if payment_id is not None:
            payment = await self.payments.get(payment_id)
            if payment is None or payment.invoice_id != invoice.id:
                raise PaymentNotOnInvoice()
        now = self.clock.now()
        dispute = await self.disputes.add(
            Dispute(
                customer_id=invoice.customer_id,
                invoice_id=invoice.id,
                payment_id=payment_id,
                status=DisputeStatus.OPEN.value,
                is_chargeback=is_chargeback,
                reason=reason,
                opened_at=now,
                opened_by_id=actor.user_id,
            )
        )
        await record_change(
            self.session,
            entity_type="dispute",
            entity_id=dispute.id,
            action="opened",
            actor=actor,
            at=now,
            changes={"is_chargeback": (None, is_chargeback)},
        )
        return dispute

    async def resolve(
        self, *, dispute_id: uuid.UUID, outcome: DisputeStatus, resolution: str, actor: Actor
    ) -> Dispute:
        if outcome == DisputeStatus.OPEN:
            raise ValueError("a resolution is won or lost")
        dispute = await self.disputes.lock(dispute_id)
        if dispute.status != DisputeStatus.OPEN:
            raise DisputeNotOpen(extra={"dispute_status": dispute.status})
        now = self.clock.now()
        dispute.status = outcome.value
        dispute.resolution = resolution
        dispute.closed_at = now
        await self.session.flush()
        await record_change(
            self.session,
            entity_type="dispute",
            entity_id=dispute.id,
            action="resolved",
            actor=actor,
            at=now,
            changes={"status": (DisputeStatus.OPEN.value, dispute.status)},
        )
        return dispute

    async def page(
        self,
        *,
        viewer: BillingViewer,
        status: DisputeStatus | None,
        invoice_id: uuid.UUID | None,
        customer_id: uuid.UUID | None,
        page: PageParams,
    ) -> tuple[Sequence[Dispute], str | None]:
        return await self.disputes.page(
            viewer=viewer,
            status=status,
            invoice_id=invoice_id,
            customer_id=customer_id,
            page=page,
        )

    async def get(self, dispute_id: uuid.UUID, *, viewer: BillingViewer) -> Dispute:
        return await self.disputes.get_readable(dispute_id, viewer=viewer)


# --------------------------------------------------------------------------- erasure


async def billing_erasure_blocker(session: AsyncSession, customer: Customer) -> str | None:
    """Unpaid invoices and open disputes keep a customer's records until they are settled."""
    reasons = []
    unpaid = await InvoiceRepository(session).unpaid_count(customer.id)
    if unpaid:
        reasons.append(f"You have {unpaid} unpaid invoice(s).")
    disputes = await DisputeRepository(session).open_count(customer.id)
    if disputes:
        reasons.append(f"You have {disputes} open dispute(s).")
    return " ".join(reasons) or None


register_erasure_blocker(billing_erasure_blocker)
register_export_sections()
