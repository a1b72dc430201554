"""/customers for staff: find (`customers:read`), open a record (logged, P13), suspend,
reactivate and close (`customers:write`, audited, P10), internal notes, and the admins' view
of the data-access log (`privacy:manage`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, status
from pydantic import AwareDatetime

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, require
from app.auth.principal import Principal
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.customers.admin_schemas import (
    CustomerListItem,
    CustomerStaffOut,
    DataAccessOut,
    NoteCreate,
    NoteOut,
    StatusChange,
)
from app.customers.admin_service import CustomerAdminService, CustomerSearch, StatusAction
from app.models.customer import CustomerStatus, IdentityStatus

router = CapabilityRouter(
    prefix="/customers", tags=["customers"], responses=problem_responses(401, 403)
)

Reader = Annotated[Principal, require("customers:read")]
Writer = Annotated[Principal, require("customers:write")]
PrivacyAdmin = Annotated[Principal, require("privacy:manage")]
Paging = Annotated[PageParams, Depends(page_params)]

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"


async def get_customer_admin_service(
    session: SessionDep, container: ContainerDep
) -> CustomerAdminService:
    return CustomerAdminService(session=session, container=container)


AdminServiceDep = Annotated[CustomerAdminService, Depends(get_customer_admin_service)]


@router.get(
    "",
    response_model=Page[CustomerListItem],
    responses=problem_responses(400, 422),
    summary="Find customers, newest first (no contact details in the listing)",
)
async def list_customers(
    _: Reader,
    customers: AdminServiceDep,
    page: Paging,
    status_: Annotated[CustomerStatus | None, Query(alias="status")] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    identity_status: Annotated[IdentityStatus | None, Query()] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="inclusive")] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
    email: Annotated[
        str | None,
        Query(min_length=1, max_length=320, pattern=NO_CONTROL, description="exact email"),
    ] = None,
    number: Annotated[
        str | None,
        Query(min_length=1, max_length=16, pattern=NO_CONTROL, description="exact, C-000123"),
    ] = None,
    name: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=201,
            pattern=NO_CONTROL,
            description="prefix of 'first last', case-insensitive",
        ),
    ] = None,
) -> Page[CustomerListItem]:
    rows, next_cursor = await customers.list_customers(
        search=CustomerSearch(
            status=status_,
            country=country,
            identity_status=identity_status,
            created_from=created_from,
            created_to=created_to,
            email=email,
            number=number,
            name=name,
        ),
        page=page,
    )
    return Page[CustomerListItem](
        items=[CustomerListItem.of(row) for row in rows], next_cursor=next_cursor
    )


# Declared before `/{customer_id}` so the literal path is matched first.
@router.get(
    "/access-log",
    response_model=Page[DataAccessOut],
    responses=problem_responses(400),
    summary="Who opened which customer's personal data, newest first (admins)",
)
async def list_customer_access_log(
    _: PrivacyAdmin,
    customers: AdminServiceDep,
    page: Paging,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    actor_id: Annotated[uuid.UUID | None, Query(description="the staff member")] = None,
    api_key_id: Annotated[uuid.UUID | None, Query(description="the integration's key")] = None,
) -> Page[DataAccessOut]:
    rows, next_cursor = await customers.access_log_page(
        page=page, customer_id=customer_id, actor_id=actor_id, api_key_id=api_key_id
    )
    return Page[DataAccessOut](
        items=[DataAccessOut.of(row) for row in rows], next_cursor=next_cursor
    )


@router.get(
    "/{customer_id}",
    response_model=CustomerStaffOut,
    responses=problem_responses(404),
    summary="Open one customer's full record (the access is logged)",
)
async def get_customer(
    customer_id: uuid.UUID, principal: Reader, customers: AdminServiceDep, client: ClientDep
) -> CustomerStaffOut:
    customer = await customers.open_customer(
        reader=principal, customer_id=customer_id, client=client
    )
    return CustomerStaffOut.of(customer)


async def _change_status(
    customers: CustomerAdminService,
    principal: Principal,
    client: ClientDep,
    customer_id: uuid.UUID,
    action: StatusAction,
    reason: str | None,
) -> CustomerStaffOut:
    customer = await customers.change_status(
        actor=principal, customer_id=customer_id, action=action, reason=reason, client=client
    )
    return CustomerStaffOut.of(customer)


@router.post(
    "/{customer_id}/suspend",
    response_model=CustomerStaffOut,
    responses=problem_responses(404, 409),
    summary="Suspend an active customer",
)
async def suspend_customer(
    customer_id: uuid.UUID,
    body: StatusChange,
    principal: Writer,
    customers: AdminServiceDep,
    client: ClientDep,
) -> CustomerStaffOut:
    return await _change_status(
        customers, principal, client, customer_id, StatusAction.SUSPEND, body.reason
    )


@router.post(
    "/{customer_id}/reactivate",
    response_model=CustomerStaffOut,
    responses=problem_responses(404, 409),
    summary="Reactivate a suspended customer",
)
async def reactivate_customer(
    customer_id: uuid.UUID, principal: Writer, customers: AdminServiceDep, client: ClientDep
) -> CustomerStaffOut:
    return await _change_status(
        customers, principal, client, customer_id, StatusAction.REACTIVATE, None
    )


@router.post(
    "/{customer_id}/close",
    response_model=CustomerStaffOut,
    responses=problem_responses(404, 409),
    summary="Close a customer (final)",
)
async def close_customer(
    customer_id: uuid.UUID,
    body: StatusChange,
    principal: Writer,
    customers: AdminServiceDep,
    client: ClientDep,
) -> CustomerStaffOut:
    return await _change_status(
        customers, principal, client, customer_id, StatusAction.CLOSE, body.reason
    )


@router.get(
    "/{customer_id}/notes",
    response_model=Page[NoteOut],
    responses=problem_responses(400, 404),
    summary="Internal notes on a customer, newest first (the access is logged)",
)
async def list_customer_notes(
    customer_id: uuid.UUID,
    principal: Reader,
    customers: AdminServiceDep,
    client: ClientDep,
    page: Paging,
) -> Page[NoteOut]:
    rows, next_cursor = await customers.list_notes(
        reader=principal, customer_id=customer_id, page=page, client=client
    )
    return Page[NoteOut](items=[NoteOut.of(row) for row in rows], next_cursor=next_cursor)


@router.post(
    "/{customer_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteOut,
    responses=problem_responses(404),
    summary="Add an internal note (stored encrypted)",
)
async def add_customer_note(
    customer_id: uuid.UUID,
    body: NoteCreate,
    principal: Writer,
    customers: AdminServiceDep,
    client: ClientDep,
) -> NoteOut:
    note = await customers.add_note(
        actor=principal, customer_id=customer_id, body=body.body, client=client
    )
    return NoteOut.of(note)
