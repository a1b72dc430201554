"""Response bodies for the security event log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class SecurityEventOut(BaseModel):
    id: uuid.UUID
    event_type: str = Field(description="e.g. `login_succeeded`, `session_revoked`")
    created_at: datetime
    user_id: uuid.UUID | None = Field(description="whose account the event is about")
    actor_id: uuid.UUID | None = Field(
        description="the staff member who acted, when not the user (shown to staff only)"
    )
    api_key_id: uuid.UUID | None = Field(description="the API key that acted (shown to staff only)")
    session_id: uuid.UUID | None
    ip: str | None = Field(description="hidden from the owner for events someone else caused")
    user_agent: str | None
    details: dict[str, Any]
