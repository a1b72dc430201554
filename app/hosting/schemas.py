"""Request and response bodies of /services (customers' hosting services).

Amounts are integer minor units of the service's currency.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.order import Service

Reason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]+$",
    ),
]


class ServiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    order_id: uuid.UUID | None
    product_id: uuid.UUID
    description: str = Field(description="the label given when ordering, or the product's name")
    cycle: str = Field(description="monthly, quarterly, semiannual, annual, biennial, one_time")
    currency: str = Field(description="ISO 4217")
    quantity: int
    recurring_amount: int = Field(description="minor units per unit and cycle")
    status: str = Field(description="pending, active, suspended, terminated or cancelled")
    next_due_date: date | None = Field(
        description="start of the next period to invoice; null until active, or one-time"
    )
    activated_at: datetime | None
    suspended_at: datetime | None
    ended_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, service: Service) -> ServiceOut:
        return cls.model_validate(service)


class ServiceStatusChange(BaseModel):
    reason: Reason | None = Field(
        default=None, description="why; kept as an encrypted internal note on the customer"
    )
