"""Request and response bodies for API key administration."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.auth.permissions import API_KEY_SCOPES

KeyName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
ScopeName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ApiKeyCreate(BaseModel):
    name: KeyName = Field(description="what the key is for, e.g. `billing-export`")
    scopes: list[ScopeName] = Field(
        min_length=1,
        max_length=32,
        description="scopes the key grants, a subset of: " + ", ".join(sorted(API_KEY_SCOPES)),
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="must be in the future; null means the key does not expire"
    )


class ApiKeyOut(BaseModel):
    """An API key as listed: never its secret, only the prefix that identifies it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="the `<prefix>` in `hlk_<prefix>_<secret>`")
    scopes: list[str]
    created_by_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(
        description="the full key `hlk_<prefix>_<secret>`: shown this once, never again"
    )
