"""Request and response bodies of /invoices.

Amounts are integer minor units of the invoice's currency (strict integers: `10.0` or `"10"`
are refused); tax rates are basis points (1900 = 19 %), shown to people as `tax_rate_percent`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.billing.money import rate_percent
from app.billing.service import InvoiceView, NewLine
from app.billing.snapshot import decode_snapshot
from app.customers.validation import currency_code
from app.models.invoice import Invoice, InvoiceLine

MAX_UNIT_AMOUNT = 10**9
MAX_QUANTITY = 10_000
MAX_LINES = 200
MAX_CREDIT_AMOUNT = 10**12
_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
_NO_CONTROL_MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$"


def _currency(value: str) -> str:
    code = currency_code(value)
    if code is None:
        raise PydanticCustomError("currency_unknown", "Use an ISO 4217 currency code, e.g. EUR.")
    return code


Currency = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3),
    AfterValidator(_currency),
]
Minor = Annotated[int, Field(description="minor units of the invoice's currency, e.g. cents")]
LineDescription = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=_NO_CONTROL)
]
Memo = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=2000, pattern=_NO_CONTROL_MULTILINE
    ),
]
Reason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=1000, pattern=_NO_CONTROL_MULTILINE
    ),
]


# --------------------------------------------------------------------------- responses


class InvoiceSummary(BaseModel):
    """An invoice as listed: no lines, no buyer details."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str | None = Field(description="INV-2026-000001; null while a draft")
    customer_id: uuid.UUID
    kind: str = Field(description="order, renewal, add_funds or manual")
    status: str = Field(description="draft, open, paid, void or uncollectible")
    currency: str = Field(description="ISO 4217")
    subtotal: Minor
    tax_total: Minor
    total: Minor
    amount_paid: Annotated[int, Field(description="minor units paid (payments and credit)")]
    amount_credited: Annotated[int, Field(description="minor units taken off by credit notes")]
    amount_due: Annotated[
        int, Field(description="minor units still asked for (0 unless open or paid)")
    ]
    issued_at: datetime | None
    due_date: date | None
    paid_at: datetime | None


class InvoiceLineOut(BaseModel):
    id: uuid.UUID
    position: int
    description: str
    quantity: int
    unit_amount: Minor
    tax_rate_bp: int = Field(description="basis points: 1900 = 19.00 %")
    tax_rate_percent: str = Field(description='the rate for people, e.g. "19.00"')
    net_amount: Annotated[int, Field(description="minor units: quantity * unit amount")]
    tax_amount: Annotated[int, Field(description="minor units, rounded half-up on this line")]
    total: Annotated[int, Field(description="minor units: net + tax")]
    service_id: uuid.UUID | None
    period_start: date | None
    period_end: date | None = Field(description="inclusive")

    @classmethod
    def of(cls, line: InvoiceLine) -> InvoiceLineOut:
        return cls(
            id=line.id,
            position=line.position,
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            tax_rate_bp=line.tax_rate_bp,
            tax_rate_percent=rate_percent(line.tax_rate_bp),
            net_amount=line.net_amount,
            tax_amount=line.tax_amount,
            total=line.total,
            service_id=line.service_id,
            period_start=line.period_start,
            period_end=line.period_end,
        )


class BuyerOut(BaseModel):
    """The buyer as billed, fixed at issue: later changes to the customer do not alter it."""

    model_config = ConfigDict(extra="ignore")

    customer_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    email: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None
    vat_id: str | None = None
    tax_exempt: bool = False


class InvoiceDetail(InvoiceSummary):
    """One invoice with its lines and the buyer as billed (null while a draft).

    Rounding: per line, net = quantity × unit amount, tax rounded half-up to the minor unit;
    totals are sums of lines."""  # noqa: RUF002 - the multiplication sign is meant

    order_id: uuid.UUID | None
    memo: str | None
    reverse_charge: bool = Field(description="EU reverse charge: 0 % and the legal note")
    tax_note: str | None = Field(description="the note printed on the invoice, if any")
    buyer: BuyerOut | None
    voided_at: datetime | None
    written_off_at: datetime | None
    created_at: datetime
    lines: list[InvoiceLineOut]

    @classmethod
    def of(cls, view: InvoiceView) -> InvoiceDetail:
        invoice: Invoice = view.invoice
        snapshot: dict[str, Any] | None = decode_snapshot(invoice.buyer_snapshot)
        return cls(
            id=invoice.id,
            number=invoice.number,
            customer_id=invoice.customer_id,
            kind=invoice.kind,
            status=invoice.status,
            currency=invoice.currency,
            subtotal=invoice.subtotal,
            tax_total=invoice.tax_total,
            total=invoice.total,
            amount_paid=invoice.amount_paid,
            amount_credited=invoice.amount_credited,
            amount_due=invoice.amount_due,
            issued_at=invoice.issued_at,
            due_date=invoice.due_date,
            paid_at=invoice.paid_at,
            order_id=invoice.order_id,
            memo=invoice.memo,
            reverse_charge=invoice.reverse_charge,
            tax_note=invoice.tax_note,
            buyer=BuyerOut.model_validate(snapshot) if snapshot is not None else None,
            voided_at=invoice.voided_at,
            written_off_at=invoice.written_off_at,
            created_at=invoice.created_at,
            lines=[InvoiceLineOut.of(line) for line in view.lines],
        )


# --------------------------------------------------------------------------- requests


class LineIn(BaseModel):
    description: LineDescription = Field(description="1-300 characters, no control characters")
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY, strict=True)
    unit_amount: int = Field(
        ge=0, le=MAX_UNIT_AMOUNT, strict=True, description="minor units, before tax"
    )
    period_start: date | None = None
    period_end: date | None = Field(default=None, description="inclusive")

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if (
            self.period_start is not None
            and self.period_end is not None
            and self.period_end < self.period_start
        ):
            raise PydanticCustomError(
                "period_reversed", "period_end must not be before period_start."
            )
        return self

    def to_line(self) -> NewLine:
        return NewLine(
            description=self.description,
            unit_amount=self.unit_amount,
            quantity=self.quantity,
            period_start=self.period_start,
            period_end=self.period_end,
        )


class InvoiceCreate(BaseModel):
    customer_id: uuid.UUID
    currency: Currency | None = Field(
        default=None, description="ISO 4217; the customer's currency when omitted"
    )
    lines: list[LineIn] = Field(
        default_factory=list,
        max_length=MAX_LINES,
        description="may be empty: lines can be added to the draft later",
    )
    memo: Memo | None = None


class CloseIn(BaseModel):
    reason: Reason | None = Field(default=None, description="kept in the invoice's memo")


class ApplyCreditIn(BaseModel):
    amount: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CREDIT_AMOUNT,
        strict=True,
        description="minor units; omitted: as much as is both available and due",
    )


class AddFundsIn(BaseModel):
    amount: int = Field(
        ge=1,
        le=MAX_CREDIT_AMOUNT,
        strict=True,
        description="minor units, within the configured add-funds minimum and maximum",
    )
    currency: Currency | None = Field(
        default=None, description="ISO 4217; the customer's currency when omitted"
    )
    customer_id: uuid.UUID | None = Field(
        default=None, description="staff (`billing:write`) only: the customer to add funds for"
    )
