"""Request and response bodies for the customer record and the member area.

Inputs are only bounded here; the rules that explain each field (P1) live in
`app.customers.validation`, so every error of a request is reported in one answer.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Generous bounds that keep payloads small; the validation layer applies the real limits.
Text = Annotated[str, StringConstraints(max_length=300)]
Short = Annotated[str, StringConstraints(max_length=64)]
EmailField = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class _Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: Text | None = None
    phone: Short | None = Field(default=None, description="stored as E.164")
    address_line1: Text | None = None
    address_line2: Text | None = None
    city: Text | None = None
    postal_code: Short | None = None
    region: Short | None = Field(default=None, description="ISO 3166-2, e.g. `DE-BY` or `BY`")
    vat_id: Short | None = Field(default=None, description="checked per country")


class ProspectCreate(_Contact):
    first_name: Text
    last_name: Text
    email: EmailField
    country: Short = Field(description="ISO 3166-1 alpha-2")
    currency: Short | None = Field(default=None, description="ISO 4217")
    language: Short | None = Field(default=None, description="ISO 639-1")
    source: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = Field(
        default=None, description="where the lead came from, e.g. `trade-fair-2026`"
    )


class _Patch(_Contact):
    """Only the fields sent are changed; `null` clears an optional one."""

    first_name: Text | None = None
    last_name: Text | None = None
    country: Short | None = None
    currency: Short | None = None
    language: Short | None = None
    date_of_birth: date | None = None
    email: EmailField | None = None

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class MePatch(_Patch):
    current_password: Password | None = Field(
        default=None, description="required to change the email address"
    )

    def changes(self) -> dict[str, Any]:
        values = super().changes()
        values.pop("current_password", None)
        return values


class StaffPatch(_Patch):
    tax_exempt: bool | None = None


class IdentityVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    status: Literal["prospect", "active", "suspended", "closed"]
    first_name: str
    last_name: str
    company: str | None
    email: str
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    postal_code: str | None
    region: str | None
    country: str
    date_of_birth: date | None = Field(validation_alias="birth_date")
    vat_id: str | None
    tax_exempt: bool
    currency: str
    language: str
    identity_status: Literal["unverified", "email_verified", "verified"]
    identity_verified_at: datetime | None
    created_at: datetime
    updated_at: datetime
    pending_email: str | None = Field(
        default=None,
        description="masked address awaiting verification after an email change",
    )


class ActivityOut(BaseModel):
    """One entry of the customer's own audit trail; values are masked (P10)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: str
    actor_kind: str
    ip: str | None
    changes: dict[str, Any]
    created_at: datetime
