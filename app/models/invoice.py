"""Invoices, their lines, and the credit notes that correct them.

Amounts are integer minor units in the invoice's currency. Totals are computed on the server
(per line: net = quantity * unit amount, tax rounded half-up per line) and stored, together
with the running `amount_paid` and `amount_credited`, which only change under the invoice's
row lock in the same transaction as the payment or credit note that moves them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import EncryptedString
from app.models.base import Base, IdMixin, MinorUnits, TimestampMixin


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class InvoiceKind(StrEnum):
    ORDER = "order"  # the first invoice of an order
    RENEWAL = "renewal"  # made by the billing run
    ADD_FUNDS = "add_funds"  # paying it adds to the credit balance
    MANUAL = "manual"  # drafted by staff


class CreditNoteReason(StrEnum):
    DUPLICATE = "duplicate"
    SERVICE_UNSATISFACTORY = "service_unsatisfactory"
    ORDER_CHANGE = "order_change"
    ORDER_CANCELLATION = "order_cancellation"
    FRAUDULENT = "fraudulent"
    OTHER = "other"


class CreditNoteSettlement(StrEnum):
    CREDIT_BALANCE = "credit_balance"  # the amount goes to the customer's credit
    REFUNDED = "refunded"  # paid back outside the system (recorded)


class Invoice(IdMixin, TimestampMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'open', 'paid', 'void', 'uncollectible')", name="status_known"
        ),
        CheckConstraint("kind IN ('order', 'renewal', 'add_funds', 'manual')", name="kind_known"),
        CheckConstraint("amount_paid >= 0", name="amount_paid_not_negative"),
        CheckConstraint("amount_credited >= 0", name="amount_credited_not_negative"),
        CheckConstraint("amount_paid + amount_credited <= total", name="settled_within_total"),
        # An issued invoice has a number; a draft has none (numbers are assigned at issue).
        CheckConstraint("(status = 'draft') = (number IS NULL)", name="number_iff_issued"),
        Index("ix_invoices_customer_id_id", "customer_id", "id"),
        Index("ix_invoices_status_id", "status", "id"),
        Index("ix_invoices_status_due_date", "status", "due_date"),
        Index("ix_invoices_customer_id_status", "customer_id", "status"),
    )

    number: Mapped[str | None] = mapped_column(String(32), unique=True)  # INV-2026-000001
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[MinorUnits] = mapped_column(default=0)
    tax_total: Mapped[MinorUnits] = mapped_column(default=0)
    total: Mapped[MinorUnits] = mapped_column(default=0)
    amount_paid: Mapped[MinorUnits] = mapped_column(default=0)  # payments and credit applied
    amount_credited: Mapped[MinorUnits] = mapped_column(default=0)  # credit notes that reduce due
    issued_at: Mapped[datetime | None]
    due_date: Mapped[date | None]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    written_off_at: Mapped[datetime | None]
    reverse_charge: Mapped[bool] = mapped_column(default=False)
    tax_note: Mapped[str | None] = mapped_column(String(300))
    memo: Mapped[str | None] = mapped_column(Text)
    # The buyer as billed (P1), copied at issue and never changed afterwards: JSON of name,
    # company, email, address, VAT id; encrypted because it is personal data (P12).
    buyer_snapshot: Mapped[str | None] = mapped_column(EncryptedString("invoices.buyer_snapshot"))
    buyer_country: Mapped[str | None] = mapped_column(String(2))

    @property
    def amount_due(self) -> int:
        if self.status in (InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.DRAFT):
            return 0
        return self.total - self.amount_paid - self.amount_credited


class InvoiceLine(IdMixin, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        Index("ix_invoice_lines_invoice_id_position", "invoice_id", "position"),
        # One invoice per service and period: the billing run's last line of defence.
        UniqueConstraint("service_id", "period_start"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_amount: Mapped[MinorUnits]
    tax_rate_bp: Mapped[int] = mapped_column(default=0)
    net_amount: Mapped[MinorUnits]
    tax_amount: Mapped[MinorUnits]
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL")
    )
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]  # inclusive

    @property
    def total(self) -> int:
        return self.net_amount + self.tax_amount


class CreditNote(IdMixin, Base):
    __tablename__ = "credit_notes"
    __table_args__ = (
        Index("ix_credit_notes_invoice_id", "invoice_id"),
        Index("ix_credit_notes_customer_id_id", "customer_id", "id"),
        CheckConstraint("total > 0", name="total_positive"),
        CheckConstraint(
            "reason IN ('duplicate', 'service_unsatisfactory', 'order_change', "
            "'order_cancellation', 'fraudulent', 'other')",
            name="reason_known",
        ),
        CheckConstraint("settlement IN ('credit_balance', 'refunded')", name="settlement_known"),
        CheckConstraint("applied_to_due >= 0 AND applied_to_due <= total", name="applied_in_range"),
    )

    number: Mapped[str] = mapped_column(String(32), unique=True)  # CN-2026-000001
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(String(32))
    settlement: Mapped[str] = mapped_column(String(16))
    memo: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[MinorUnits]
    tax_total: Mapped[MinorUnits]
    total: Mapped[MinorUnits]
    # The part that lowered what the invoice still asked for; the rest is settled as
    # `settlement` says (credited to the balance or refunded).
    applied_to_due: Mapped[MinorUnits] = mapped_column(default=0)
    issued_at: Mapped[datetime]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class CreditNoteLine(IdMixin, Base):
    __tablename__ = "credit_note_lines"
    __table_args__ = (Index("ix_credit_note_lines_credit_note_id", "credit_note_id"),)

    credit_note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("credit_notes.id", ondelete="CASCADE")
    )
    invoice_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoice_lines.id", ondelete="RESTRICT")
    )
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int]
    net_amount: Mapped[MinorUnits]
    tax_amount: Mapped[MinorUnits]
