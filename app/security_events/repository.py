"""Queries for the security event log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select

from app.core.repository import Repository
from app.models.security import SecurityEvent


class SecurityEventRepository(Repository[SecurityEvent]):
    model = SecurityEvent

    def filtered(
        self,
        *,
        user_id: uuid.UUID | None = None,
        event_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Select[tuple[SecurityEvent]]:
        statement = self.select()
        if user_id is not None:
            statement = statement.where(SecurityEvent.user_id == user_id)
        if event_type is not None:
            statement = statement.where(SecurityEvent.event_type == event_type)
        if since is not None:
            statement = statement.where(SecurityEvent.created_at >= since)
        if until is not None:
            statement = statement.where(SecurityEvent.created_at < until)
        return statement
