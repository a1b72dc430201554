"""Request and response bodies for payments, credit, credit notes and disputes.

Money is integer minor units in the invoice's (or entry's) currency; JSON numbers with a
fraction, strings and booleans are refused rather than coerced.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.models.invoice import CreditNote, CreditNoteLine, CreditNoteReason, CreditNoteSettlement
from app.models.payment import CreditEntry, Dispute, Payment, PaymentMethod

MAX_PAYMENT = 10**10

PositiveAmount = Annotated[
    int, Field(gt=0, le=MAX_PAYMENT, strict=True, description="minor units, more than 0")
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
Reference = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=140, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
ShortText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
LongText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=5000,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]+$",
    ),
]


# --------------------------------------------------------------------------- payments


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmount
    method: PaymentMethod
    reference: Reference | None = Field(
        default=None, description="the bank's or the payer's reference"
    )
    received_at: AwareDatetime | None = Field(
        default=None, description="when the money arrived; default now, never in the future"
    )
    currency: Currency | None = Field(
        default=None,
        description="optional check: a payment is always in the invoice's currency; another "
        "currency is 422 `currency_mismatch`",
    )


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_id: uuid.UUID
    customer_id: uuid.UUID
    method: str
    currency: str
    amount: int = Field(description="what was received")
    applied_amount: int = Field(description="what went to the invoice")
    credited_amount: int = Field(description="the overpayment, added to the credit balance")
    reference: str | None
    received_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            id=payment.id,
            invoice_id=payment.invoice_id,
            customer_id=payment.customer_id,
            method=payment.method,
            currency=payment.currency,
            amount=payment.amount,
            applied_amount=payment.applied_amount,
            credited_amount=payment.amount - payment.applied_amount,
            reference=payment.reference,
            received_at=payment.received_at,
            created_at=payment.created_at,
        )


# --------------------------------------------------------------------------- credit


class AddFundsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmount
    currency: Currency
    memo: ShortText = Field(description="why the funds were added (shown to the customer)")


class CreditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sequence: int
    kind: str
    currency: str
    amount: int = Field(description="signed: positive adds to the balance, negative uses it")
    balance_after: int
    invoice_id: uuid.UUID | None
    payment_id: uuid.UUID | None
    credit_note_id: uuid.UUID | None
    memo: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: CreditEntry) -> CreditEntryOut:
        return cls.model_validate(entry)


class BalanceOut(BaseModel):
    currency: str
    amount: int


class CreditOut(BaseModel):
    """The balance per currency and one page of the ledger, newest entry first."""

    customer_id: uuid.UUID
    balances: list[BalanceOut]
    items: list[CreditEntryOut]
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` to get the next page; null on the last page"
    )

    @classmethod
    def of(
        cls,
        *,
        customer_id: uuid.UUID,
        balances: dict[str, int],
        entries: Sequence[CreditEntry],
        next_cursor: str | None,
    ) -> CreditOut:
        return cls(
            customer_id=customer_id,
            balances=[
                BalanceOut(currency=currency, amount=amount)
                for currency, amount in sorted(balances.items())
            ],
            items=[CreditEntryOut.of(entry) for entry in entries],
            next_cursor=next_cursor,
        )


# --------------------------------------------------------------------------- credit notes


class CreditNoteLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_line_id: uuid.UUID
    quantity: Annotated[int, Field(gt=0, le=1_000_000, strict=True)]


class CreditNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: CreditNoteReason
    settlement: CreditNoteSettlement = Field(
        description="what happens to the part of money already paid: `credit_balance` adds it "
        "to the customer's credit, `refunded` records that it was paid back outside the system"
    )
    memo: LongText | None = None
    lines: list[CreditNoteLineIn] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="omitted: everything on the invoice not credited yet",
    )


class CreditNoteLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_line_id: uuid.UUID
    description: str
    quantity: int
    net_amount: int
    tax_amount: int


class CreditNoteListItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    invoice_id: uuid.UUID
    customer_id: uuid.UUID
    reason: str
    settlement: str
    memo: str | None
    currency: str
    subtotal: int
    tax_total: int
    total: int
    applied_to_due: int = Field(description="the part that lowered what the invoice asked for")
    settled_amount: int = Field(
        description="the rest: added to the credit balance or refunded, as `settlement` says"
    )
    issued_at: datetime

    @classmethod
    def of(cls, note: CreditNote) -> CreditNoteListItem:
        return cls.model_validate(
            {
                **{name: getattr(note, name) for name in _NOTE_FIELDS},
                "settled_amount": note.total - note.applied_to_due,
            }
        )


_NOTE_FIELDS = (
    "id",
    "number",
    "invoice_id",
    "customer_id",
    "reason",
    "settlement",
    "memo",
    "currency",
    "subtotal",
    "tax_total",
    "total",
    "applied_to_due",
    "issued_at",
)


class CreditNoteOut(CreditNoteListItem):
    lines: list[CreditNoteLineOut]

    @classmethod
    def with_lines(cls, note: CreditNote, lines: Sequence[CreditNoteLine]) -> CreditNoteOut:
        return cls.model_validate(
            {
                **CreditNoteListItem.of(note).model_dump(),
                "lines": [CreditNoteLineOut.model_validate(line) for line in lines],
            }
        )


# --------------------------------------------------------------------------- disputes


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: LongText
    payment_id: uuid.UUID | None = Field(default=None, description="a payment of this invoice")
    is_chargeback: bool = False


class DisputeResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["won", "lost"]
    resolution: LongText


class DisputeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    invoice_id: uuid.UUID
    payment_id: uuid.UUID | None
    status: str
    is_chargeback: bool
    reason: str
    resolution: str | None
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, dispute: Dispute) -> DisputeOut:
        return cls.model_validate(dispute)
