"""GET /auth/events: the security event log, readable as a query filter (see access.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query
from pydantic import AwareDatetime

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, PrincipalDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.models.security import SecurityEvent
from app.security_events.access import EventFilters, acted_by_someone_else, read_events
from app.security_events.schemas import SecurityEventOut
from app.security_events.service import EventType

router = CapabilityRouter(
    prefix="/auth", tags=["security-events"], responses=problem_responses(401, 403)
)


def event_out(
    event: SecurityEvent, *, full_view: bool, owner_id: uuid.UUID | None
) -> SecurityEventOut:
    hide_origin = not full_view and acted_by_someone_else(event, owner_id)
    return SecurityEventOut(
        id=event.id,
        event_type=event.event_type,
        created_at=event.created_at,
        user_id=event.user_id,
        actor_id=event.actor_id if full_view else None,
        api_key_id=event.api_key_id if full_view else None,
        session_id=event.session_id,
        ip=None if hide_origin else event.ip,
        user_agent=None if hide_origin else event.user_agent,
        details=dict(event.details or {}),
    )


@router.get(
    "/events",
    response_model=Page[SecurityEventOut],
    responses=problem_responses(400),
    summary="Security events, newest first: your own, or everyone's with `users:read`",
)
async def list_events(
    principal: PrincipalDep,
    session: SessionDep,
    container: ContainerDep,
    client: ClientDep,
    page: Annotated[PageParams, Depends(page_params)],
    user_id: Annotated[
        uuid.UUID | None,
        Query(description="with `users:read`: one user's events; otherwise only your own id"),
    ] = None,
    event_type: Annotated[EventType | None, Query()] = None,
    since: Annotated[AwareDatetime | None, Query(description="inclusive")] = None,
    until: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
) -> Page[SecurityEventOut]:
    result = await read_events(
        session,
        reader=principal,
        filters=EventFilters(user_id=user_id, event_type=event_type, since=since, until=until),
        page=page,
        at=container.clock.now(),
        client=client,
    )
    return Page[SecurityEventOut](
        items=[
            event_out(row, full_view=result.full_view, owner_id=principal.user_id)
            for row in result.items
        ],
        next_cursor=result.next_cursor,
    )
