"""Payments, the credit ledger, disputes, and the idempotency records that make retries safe."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, MinorUnits


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    OTHER = "other"


class CreditEntryKind(StrEnum):
    FUNDS_ADDED = "funds_added"  # an add-funds invoice was paid, or staff added funds
    OVERPAYMENT = "overpayment"  # a payment beyond what its invoice owed
    CREDIT_NOTE = "credit_note"  # a credit note settled to the balance
    CREDIT_APPLIED = "credit_applied"  # credit used to pay an invoice (negative)


class DisputeStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Payment(IdMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_invoice_id", "invoice_id"),
        Index("ix_payments_customer_id_id", "customer_id", "id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "applied_amount >= 0 AND applied_amount <= amount", name="applied_within_amount"
        ),
        CheckConstraint("method IN ('bank_transfer', 'cash', 'other')", name="method_known"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[MinorUnits]  # what was received
    applied_amount: Mapped[MinorUnits]  # what went to the invoice; the rest went to credit
    reference: Mapped[str | None] = mapped_column(String(140))
    received_at: Mapped[datetime]
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class CreditEntry(IdMixin, Base):
    """The credit balance is this ledger: append-only, one running sequence per customer and
    currency. `balance_after` is the balance once this entry is applied; the unique
    (customer, currency, sequence) stops two writers from both appending entry n."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        UniqueConstraint("customer_id", "currency", "sequence"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("balance_after >= 0", name="balance_not_negative"),
        CheckConstraint(
            "kind IN ('funds_added', 'overpayment', 'credit_note', 'credit_applied')",
            name="kind_known",
        ),
        Index("ix_credit_entries_customer_id_id", "customer_id", "id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    sequence: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[MinorUnits]  # signed: positive adds to the balance, negative uses it
    balance_after: Mapped[MinorUnits]
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoices.id", ondelete="RESTRICT")
    )
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT")
    )
    credit_note_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credit_notes.id", ondelete="RESTRICT")
    )
    memo: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class Dispute(IdMixin, Base):
    """A customer contests an invoice or payment (a chargeback, a complaint); while one is
    open, erasure waits (the records are evidence)."""

    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_customer_id_status", "customer_id", "status"),
        Index("ix_disputes_status_id", "status", "id"),
        CheckConstraint("status IN ('open', 'won', 'lost')", name="status_known"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT")
    )
    status: Mapped[str] = mapped_column(String(8))
    is_chargeback: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    opened_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class IdempotencyStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class IdempotencyRecord(IdMixin, Base):
    """Stripe's semantics: a key is scoped to its caller and kept 24 h; the first response is
    replayed for the same body; another body is refused; a retry while the first is still
    running gets 409. `locked_until` frees a key whose first request died mid-flight."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        Index("ix_idempotency_records_expires_at", "expires_at"),
    )

    scope: Mapped[str] = mapped_column(String(80))  # "user:<id>" or "api_key:<id>"
    key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path, body
    status: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    locked_until: Mapped[datetime]
    expires_at: Mapped[datetime]
