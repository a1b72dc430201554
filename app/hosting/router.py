"""/services: customers' hosting services. A customer reads their own, staff with
`billing:read` everyone's (404 for another customer's); staff with `billing:write` suspend,
unsuspend, terminate and cancel them (audited)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Body, Depends, Query

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, PrincipalDep, require
from app.auth.principal import Principal
from app.billing.access import viewer_for
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.hosting.repository import ServiceFilter
from app.hosting.schemas import ServiceOut, ServiceStatusChange
from app.hosting.service import HostingService, ServiceAction
from app.models.order import ServiceStatus

router = CapabilityRouter(
    prefix="/services", tags=["services"], responses=problem_responses(401, 403)
)

Writer = Annotated[Principal, require("billing:write")]
Paging = Annotated[PageParams, Depends(page_params)]
OptionalReason = Annotated[ServiceStatusChange | None, Body()]


async def get_hosting_service(session: SessionDep, container: ContainerDep) -> HostingService:
    return HostingService(session=session, container=container)


HostingDep = Annotated[HostingService, Depends(get_hosting_service)]


@router.get(
    "",
    response_model=Page[ServiceOut],
    responses=problem_responses(400, 422),
    summary="List hosting services, newest first (a customer's own, or everyone's for staff)",
)
async def list_services(
    principal: PrincipalDep,
    services: HostingDep,
    page: Paging,
    status_: Annotated[ServiceStatus | None, Query(alias="status")] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[ServiceOut]:
    rows, next_cursor = await services.page(
        viewer=viewer_for(principal),
        search=ServiceFilter(status=status_, customer_id=customer_id),
        page=page,
    )
    return Page[ServiceOut](items=[ServiceOut.of(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/{service_id}",
    response_model=ServiceOut,
    responses=problem_responses(404),
    summary="One hosting service",
)
async def get_service(
    service_id: uuid.UUID, principal: PrincipalDep, services: HostingDep
) -> ServiceOut:
    return ServiceOut.of(await services.get(service_id, viewer=viewer_for(principal)))


# The four staff transitions share one shape: a route each (stable paths and operation ids),
# one endpoint body.
TRANSITIONS: tuple[tuple[str, ServiceAction, str], ...] = (
    ("suspend", ServiceAction.SUSPEND, "Suspend an active service"),
    ("unsuspend", ServiceAction.UNSUSPEND, "Reactivate a suspended service"),
    ("terminate", ServiceAction.TERMINATE, "Terminate an active or suspended service (final)"),
    ("cancel", ServiceAction.CANCEL, "Cancel a pending, active or suspended service (final)"),
)


def _transition(action: ServiceAction) -> Callable[..., Awaitable[ServiceOut]]:
    async def change_status(
        service_id: uuid.UUID,
        principal: Writer,
        services: HostingDep,
        client: ClientDep,
        body: OptionalReason = None,
    ) -> ServiceOut:
        service = await services.change_status(
            service_id=service_id,
            action=action,
            principal=principal,
            client=client,
            reason=body.reason if body is not None else None,
        )
        return ServiceOut.of(service)

    return change_status


for verb, action, summary in TRANSITIONS:
    router.add_api_route(
        f"/{{service_id}}/{verb}",
        _transition(action),
        methods=["POST"],
        name=f"{verb}_service",
        response_model=ServiceOut,
        responses=problem_responses(404, 409, 422),
        summary=summary,
    )
