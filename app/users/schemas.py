"""Request and response bodies for staff administration of users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.auth.schemas import EmailInput, Password
from app.models.user import StaffRole, User

DisplayName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class UserAdminOut(BaseModel):
    """A user as staff see it: account state, never secrets (hashes, TOTP seeds)."""

    id: uuid.UUID
    email: str
    kind: Literal["customer", "staff"]
    role: str | None
    display_name: str | None
    is_active: bool
    disabled_at: datetime | None
    email_verified: bool
    mfa_enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> UserAdminOut:
        return cls(
            id=user.id,
            email=user.email,
            kind=user.kind,
            role=user.role,
            display_name=user.display_name,
            is_active=user.is_active,
            disabled_at=user.disabled_at,
            email_verified=user.email_verified_at is not None,
            mfa_enabled=user.mfa_enabled,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class StaffCreate(BaseModel):
    email: EmailInput
    password: Password = Field(description="12-128 characters, not guessable")
    role: StaffRole
    display_name: DisplayName | None = None
