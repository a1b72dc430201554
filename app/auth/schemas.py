"""Request and response bodies for authentication."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
# Bounded so that hashing cost stays bounded; the policy (12-128) is checked by the service.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
EmailInput = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]


# Contact fields are only bounded here; `app.customers.validation` explains each error (P1).
ContactText = Annotated[str, StringConstraints(max_length=300)]
ContactCode = Annotated[str, StringConstraints(max_length=64)]


class RegisterRequest(BaseModel):
    email: EmailInput
    password: Password
    first_name: Name
    last_name: Name
    country: ContactCode = Field(description="ISO 3166-1 alpha-2, e.g. `DE`")
    phone: ContactCode | None = Field(default=None, description="stored as E.164")
    company: ContactText | None = None
    address_line1: ContactText | None = None
    address_line2: ContactText | None = None
    city: ContactText | None = None
    postal_code: ContactCode | None = None
    region: ContactCode | None = Field(default=None, description="ISO 3166-2, e.g. `DE-BY`")
    vat_id: ContactCode | None = None
    currency: ContactCode | None = Field(
        default=None, description="preferred invoice currency, ISO 4217 (default EUR)"
    )
    language: ContactCode | None = Field(default=None, description="ISO 639-1 (default en)")
    date_of_birth: date | None = Field(
        default=None, description="only where identity checks need it; encrypted at rest"
    )

    def contact(self) -> dict[str, str | None]:
        """The customer record's fields (everything but the credentials)."""
        return self.model_dump(exclude={"email", "password"}, exclude_none=True)


class LoginRequest(BaseModel):
    email: EmailInput
    password: Password
    remember: bool = Field(
        default=False, description="persistent cookie up to the absolute timeout"
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    kind: Literal["customer", "staff"]
    role: str | None
    display_name: str | None
    email_verified: bool
    mfa_enabled: bool
    created_at: datetime


class SessionOut(BaseModel):
    id: uuid.UUID
    mode: Literal["cookie", "token"]
    auth_level: Literal["password", "mfa"]
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class LoginResponse(BaseModel):
    status: Literal["authenticated", "mfa_required"]
    user: UserOut | None = None
    session: SessionOut | None = None
    csrf_token: str | None = Field(default=None, description="send as X-CSRF-Token on writes")
    mfa_challenge: str | None = Field(default=None, description="complete at /auth/login/mfa")
    mfa_expires_in: int | None = None


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int
    refresh_token: str


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class MeResponse(BaseModel):
    user: UserOut | None
    method: Literal["cookie", "bearer", "api_key"]
    scopes: list[str]
    session: SessionOut | None
    api_key_id: uuid.UUID | None = None


class SessionList(BaseModel):
    items: list[SessionOut]


class PasswordChangeRequest(BaseModel):
    current_password: Password
    new_password: Password


class SessionsEnded(BaseModel):
    sessions_ended: int


# A one-time secret from an emailed link (43 characters today; bounded for safety).
LinkToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class VerifyEmailRequest(BaseModel):
    token: LinkToken


class PasswordResetRequest(BaseModel):
    email: EmailInput


class PasswordResetConfirm(BaseModel):
    token: LinkToken
    new_password: Password


class Accepted(BaseModel):
    """Taken for processing; any mail it causes goes out through the outbox."""

    detail: str
