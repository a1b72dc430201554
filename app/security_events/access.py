"""Who may read which security events (access control as a query filter), and the record
of staff reading other people's data (P13: "staff access is logged").

A principal with `users:read` (staff, or an API key granted it) reads everyone's events and
may filter by user; anyone else reads only their own: the user filter is forced to their id,
and asking for someone else's gives an empty page rather than a silently different answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.client import ClientInfo
from app.core.errors import FieldError, InvalidInput
from app.core.pagination import PageParams
from app.models.security import SecurityEvent
from app.models.user import User
from app.security_events import service as events
from app.security_events.service import EventType

READ_ALL_SCOPE = "users:read"


def reads_everyone(reader: Principal) -> bool:
    return READ_ALL_SCOPE in reader.scopes


async def record_staff_access(
    session: AsyncSession,
    *,
    reader: Principal,
    at: datetime,
    client: ClientInfo,
    user_id: uuid.UUID | None,
    details: dict[str, Any],
) -> None:
    """Staff (or an integration's key) read personal data: keep who, what and when.

    One identified user → `staff_viewed_user` on that user's trail (they can see it among
    their own events); a listing spanning users → one `staff_listed_users` summary.
    Reading one's own record is not staff access and is not logged.
    """
    if user_id is not None and user_id == reader.user_id:
        return
    if user_id is not None and await session.get(User, user_id) is None:
        # A filter naming no existing user reveals nobody; keep it as a listing, whose
        # details still carry the id that was asked for.
        user_id = None
    await events.record(
        session,
        event_type=EventType.STAFF_VIEWED_USER
        if user_id is not None
        else EventType.STAFF_LISTED_USERS,
        at=at,
        client=client,
        user_id=user_id,
        actor_id=reader.user_id,
        api_key_id=reader.api_key_id,
        details=details,
    )


@dataclass(frozen=True)
class EventFilters:
    user_id: uuid.UUID | None = None
    event_type: EventType | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_details(self) -> dict[str, Any]:
        """The filters as recorded in an access event (ids and times only, no personal data)."""
        values = {
            "user_id": str(self.user_id) if self.user_id else None,
            "event_type": self.event_type.value if self.event_type else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class EventPage:
    items: Sequence[SecurityEvent]
    next_cursor: str | None
    # False: the owner's own view, in which who else acted (and from where) is not shown.
    full_view: bool


def acted_by_someone_else(event: SecurityEvent, owner_id: uuid.UUID | None) -> bool:
    """True for events a staff member or an integration caused on the owner's account: their
    IP address and user agent belong to that actor, not to the owner, and are not shown."""
    return event.api_key_id is not None or (
        event.actor_id is not None and event.actor_id != owner_id
    )


async def read_events(
    session: AsyncSession,
    *,
    reader: Principal,
    filters: EventFilters,
    page: PageParams,
    at: datetime,
    client: ClientInfo,
) -> EventPage:
    if filters.since and filters.until and filters.until <= filters.since:
        raise InvalidInput(
            [
                FieldError(
                    field="query.until",
                    code="until_not_after_since",
                    message="`until` must be later than `since`.",
                )
            ]
        )
    if reads_everyone(reader):
        rows, next_cursor = await events.list_events(
            session,
            page=page,
            user_id=filters.user_id,
            event_type=filters.event_type.value if filters.event_type else None,
            since=filters.since,
            until=filters.until,
        )
        await record_staff_access(
            session,
            reader=reader,
            at=at,
            client=client,
            user_id=filters.user_id,
            details={
                "resource": "security_events",
                "filters": filters.as_details(),
                "count": len(rows),
            },
        )
        return EventPage(items=rows, next_cursor=next_cursor, full_view=True)
    own_id = reader.require_user().id  # an API key without `users:read` reads nothing
    if filters.user_id is not None and filters.user_id != own_id:
        return EventPage(items=[], next_cursor=None, full_view=False)
    rows, next_cursor = await events.list_events(
        session,
        page=page,
        user_id=own_id,
        event_type=filters.event_type.value if filters.event_type else None,
        since=filters.since,
        until=filters.until,
    )
    return EventPage(items=rows, next_cursor=next_cursor, full_view=False)
