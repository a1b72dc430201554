"""Request and response bodies for the staff view of customers.

The listing shows only what finding the right person needs (number, names, company, country,
statuses): contact details, address, VAT id and date of birth appear only when one record is
opened, and that opening is logged (P12, P13).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.audit import DataAccess
from app.models.customer import Customer, CustomerNote

Reason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]+$",
    ),
]
NoteBody = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=5000,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]+$",
    ),
]


class CustomerListItem(BaseModel):
    """A row of the staff listing: no email, phone, address, VAT id or date of birth."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    status: str
    first_name: str
    last_name: str
    company: str | None
    country: str
    identity_status: str
    created_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerListItem:
        return cls.model_validate(customer)


class CustomerStaffOut(CustomerListItem):
    """One customer's full record as staff see it, decrypted; every read of it is logged."""

    user_id: uuid.UUID | None
    source: str | None
    email: str
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    postal_code: str | None
    region: str | None
    date_of_birth: date | None = Field(validation_alias="birth_date")
    vat_id: str | None
    tax_exempt: bool
    currency: str
    language: str
    identity_note: str | None
    identity_verified_by_id: uuid.UUID | None
    identity_verified_at: datetime | None
    suspended_at: datetime | None
    closed_at: datetime | None
    anonymised_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerStaffOut:
        return cls.model_validate(customer)


class StatusChange(BaseModel):
    reason: Reason = Field(description="why; kept as an internal note on the customer")


class NoteCreate(BaseModel):
    body: NoteBody = Field(description="1-5000 characters; stored encrypted")


class NoteOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    author_id: uuid.UUID | None = Field(description="the staff member; null for an API key")
    body: str
    created_at: datetime

    @classmethod
    def of(cls, note: CustomerNote) -> NoteOut:
        return cls(
            id=note.id,
            customer_id=note.customer_id,
            author_id=note.author_id,
            body=note.body,
            created_at=note.created_at,
        )


class DataAccessOut(BaseModel):
    """One opening of a customer's personal data: who, which customer, when, from where."""

    id: uuid.UUID
    customer_id: uuid.UUID
    actor_id: uuid.UUID | None = Field(description="the staff member, if a person")
    api_key_id: uuid.UUID | None = Field(description="the integration's key, if not a person")
    purpose: str
    ip: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: DataAccess) -> DataAccessOut:
        return cls(
            id=entry.id,
            customer_id=entry.customer_id,
            actor_id=entry.actor_id,
            api_key_id=entry.api_key_id,
            purpose=entry.purpose,
            ip=entry.ip,
            created_at=entry.created_at,
        )
