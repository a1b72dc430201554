"""Request and response bodies of /orders.

Prices never come from the client: an order names products, cycles and quantities, and the
server prices it from the catalog. Amounts are integer minor units of the order's currency.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from app.customers.validation import currency_code
from app.models.catalog import BillingCycle
from app.models.order import OrderItem
from app.orders.service import OrderView

MAX_ITEMS = 20
MAX_QUANTITY = 100


def _currency(value: str) -> str:
    code = currency_code(value)
    if code is None:
        raise PydanticCustomError("currency_unknown", "Use an ISO 4217 currency code, e.g. EUR.")
    return code


Currency = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_currency)]
Label = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: uuid.UUID
    cycle: BillingCycle
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY, strict=True)
    description: Label | None = Field(
        default=None, description="a label for the service, e.g. the domain name"
    )


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[OrderItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    currency: Currency | None = Field(
        default=None, description="ISO 4217; the customer's preferred currency when omitted"
    )
    customer_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "staff only (and required for them): the customer ordered for. A customer orders "
            "for themselves; naming any customer, even their own, is 403"
        ),
    )


class OrderItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    product_id: uuid.UUID
    cycle: str
    quantity: int
    description: str
    unit_amount: int = Field(description="minor units per unit and cycle, as priced")
    setup_fee: int = Field(description="minor units per unit, charged once")
    service_id: uuid.UUID | None

    @classmethod
    def of(cls, item: OrderItem) -> OrderItemOut:
        return cls.model_validate(item)


class OrderOut(BaseModel):
    id: uuid.UUID
    number: str = Field(description="ORD-2026-000001")
    customer_id: uuid.UUID
    status: str = Field(description="pending, fraud_review, active, cancelled or fraud")
    currency: str = Field(description="ISO 4217")
    total: int = Field(description="minor units: the first invoice's total, tax included")
    invoice_id: uuid.UUID | None = Field(description="the order's first invoice")
    placed_at: datetime
    activated_at: datetime | None
    cancelled_at: datetime | None
    items: list[OrderItemOut]

    @classmethod
    def of(cls, view: OrderView) -> OrderOut:
        order = view.order
        return cls(
            id=order.id,
            number=order.number,
            customer_id=order.customer_id,
            status=order.status,
            currency=order.currency,
            total=order.total,
            invoice_id=view.invoice_id,
            placed_at=order.placed_at,
            activated_at=order.activated_at,
            cancelled_at=order.cancelled_at,
            items=[OrderItemOut.of(item) for item in view.items],
        )
