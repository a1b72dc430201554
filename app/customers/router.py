"""The member area (`/me`, P13, P14) and staff changes to customer records (`/customers`).

Every route needs a signed-in principal (the security login, P13); customers reach only their
own record, found through their account, never by an id they could change.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, status

from app.api.deps import ContainerDep, SessionDep
from app.audit.service import Actor, record_data_access
from app.auth.dependencies import ClientDep, PrincipalDep, require
from app.auth.principal import Principal
from app.core.client import ClientInfo
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.customers.admin_schemas import CustomerStaffOut
from app.customers.schemas import (
    ActivityOut,
    CustomerOut,
    IdentityVerifyRequest,
    MePatch,
    ProspectCreate,
    StaffPatch,
)
from app.customers.service import STAFF_FIELDS, CustomerService, actor_for
from app.models.customer import Customer

me_router = CapabilityRouter(tags=["me"], responses=problem_responses(401, 403))
router = CapabilityRouter(
    prefix="/customers", tags=["customers"], responses=problem_responses(401, 403)
)

Writer = Annotated[Principal, require("customers:write")]


async def get_customer_service(session: SessionDep, container: ContainerDep) -> CustomerService:
    return CustomerService(session=session, container=container)


CustomerServiceDep = Annotated[CustomerService, Depends(get_customer_service)]


def customer_out(customer: Customer, *, pending_email: str | None = None) -> CustomerOut:
    out = CustomerOut.model_validate(customer)
    out.pending_email = pending_email
    return out


def _actor(principal: Principal, client: ClientInfo) -> Actor:
    return actor_for(
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        is_staff=principal.is_staff,
        ip=client.ip,
    )


# --------------------------------------------------------------------------- member area


@me_router.get(
    "/me",
    response_model=CustomerOut,
    responses=problem_responses(404),
    summary="My customer record",
)
async def get_my_record(principal: PrincipalDep, customers: CustomerServiceDep) -> CustomerOut:
    user = principal.require_user()
    return customer_out(await customers.for_user(user.id))


@me_router.patch(
    "/me",
    response_model=CustomerOut,
    responses=problem_responses(404, 409, 422),
    summary="Change my data (a new email needs my password and its own verification)",
)
async def update_my_record(
    body: MePatch, principal: PrincipalDep, customers: CustomerServiceDep, client: ClientDep
) -> CustomerOut:
    user = principal.require_user()
    customer = await customers.for_user(user.id)
    pending = await customers.update(
        customer,
        values=body.changes(),
        actor=_actor(principal, client),
        current_password=body.current_password,
    )
    return customer_out(customer, pending_email=pending)


@me_router.get(
    "/me/activity",
    response_model=Page[ActivityOut],
    responses=problem_responses(400, 404),
    summary="The changes made to my record, newest first (values masked)",
)
async def my_activity(
    principal: PrincipalDep,
    customers: CustomerServiceDep,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[ActivityOut]:
    user = principal.require_user()
    customer = await customers.for_user(user.id)
    rows, next_cursor = await customers.activity(customer, page=page)
    return Page[ActivityOut](
        items=[ActivityOut.model_validate(row) for row in rows], next_cursor=next_cursor
    )


# --------------------------------------------------------------------------- staff


@router.post(
    "/prospects",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerOut,
    responses=problem_responses(409, 422),
    summary="Record a prospect (lead) with contact details and where it came from",
)
async def create_prospect(
    body: ProspectCreate, principal: Writer, customers: CustomerServiceDep, client: ClientDep
) -> CustomerOut:
    contact = body.model_dump(exclude={"source"}, exclude_none=True)
    customer = await customers.create_prospect(
        contact=contact, source=body.source, actor=_actor(principal, client)
    )
    return customer_out(customer)


@router.patch(
    "/{customer_id}",
    response_model=CustomerStaffOut,
    responses=problem_responses(404, 409, 422),
    summary="Change a customer's record (audited; an email change applies at once)",
)
async def update_customer(
    customer_id: uuid.UUID,
    body: StaffPatch,
    principal: Writer,
    customers: CustomerServiceDep,
    client: ClientDep,
) -> CustomerStaffOut:
    actor = _actor(principal, client)
    customer = await customers.get(customer_id)
    await customers.update(customer, values=body.changes(), actor=actor, allowed=STAFF_FIELDS)
    # The answer shows the record's personal data: the opening is logged (P13).
    await record_data_access(
        customers.session,
        customer_id=customer.id,
        actor=actor,
        purpose="customers.update",
        at=customers.clock.now(),
    )
    return CustomerStaffOut.of(customer)


@router.post(
    "/{customer_id}/identity/verify",
    response_model=CustomerStaffOut,
    responses=problem_responses(404, 422),
    summary="Mark the customer's identity as verified by staff, with a note saying how",
)
async def verify_customer_identity(
    customer_id: uuid.UUID,
    body: IdentityVerifyRequest,
    principal: Writer,
    customers: CustomerServiceDep,
    client: ClientDep,
) -> CustomerStaffOut:
    customer = await customers.verify_identity(
        customer_id, note=body.note, actor=_actor(principal, client)
    )
    return CustomerStaffOut.of(customer)
