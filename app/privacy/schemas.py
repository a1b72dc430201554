"""API shapes of the privacy capability."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.cookies import CookieSpec


class CookieOut(BaseModel):
    name: str
    purpose: str
    category: str
    lifetime: str
    http_only: bool
    encrypted: bool

    @classmethod
    def of(cls, spec: CookieSpec) -> CookieOut:
        return cls(
            name=spec.name,
            purpose=spec.purpose,
            category=spec.category.value,
            lifetime=spec.lifetime,
            http_only=spec.http_only,
            encrypted=spec.encrypted,
        )


class ConsentChoices(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_cookies: bool = Field(description="tracking cookies (ad attribution, rotation)")
    marketing_email: bool = Field(description="marketing email")


class ConsentEventOut(BaseModel):
    kind: str
    granted: bool
    policy_version: str
    source: str
    ip: str | None
    created_at: datetime


class MyConsentsOut(BaseModel):
    current: ConsentChoices
    policy_version: str = Field(description="the version of the policy now in force")
    history: list[ConsentEventOut] = Field(description="every grant and withdrawal, newest first")


class VisitorConsentOut(BaseModel):
    """What the consent cookie says; defaults (nothing granted) when there is none."""

    current: ConsentChoices
    policy_version: str
    stored: bool = Field(description="whether a consent cookie was present and valid")


class Greeting(BaseModel):
    greeting: str


class WelcomeOut(BaseModel):
    enabled: bool
    expires_at: datetime | None = None


class ErasureRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000)


class ErasureRequestOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    status: str
    reason: str | None
    requested_at: datetime
    reviewed_by_id: uuid.UUID | None
    reviewed_at: datetime | None
    review_note: str | None
    completed_at: datetime | None
