"""/users: staff administration of accounts. Reading needs `users:read` and is logged (P13);
changes need `users:write` (admins) and a person to answer for them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, status

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, require
from app.auth.principal import Principal
from app.auth.schemas import SessionsEnded
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.models.user import StaffRole, UserKind
from app.users.schemas import StaffCreate, UserAdminOut
from app.users.service import UserFilters, UsersService

router = CapabilityRouter(prefix="/users", tags=["users"], responses=problem_responses(401, 403))

Reader = Annotated[Principal, require("users:read")]
Writer = Annotated[Principal, require("users:write")]


async def get_users_service(session: SessionDep, container: ContainerDep) -> UsersService:
    return UsersService(session=session, container=container)


UsersServiceDep = Annotated[UsersService, Depends(get_users_service)]


@router.get(
    "",
    response_model=Page[UserAdminOut],
    responses=problem_responses(400),
    summary="List users, newest first (the access is logged)",
)
async def list_users(
    principal: Reader,
    users: UsersServiceDep,
    client: ClientDep,
    page: Annotated[PageParams, Depends(page_params)],
    kind: Annotated[UserKind | None, Query()] = None,
    role: Annotated[StaffRole | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> Page[UserAdminOut]:
    rows, next_cursor = await users.list_users(
        reader=principal,
        filters=UserFilters(kind=kind, role=role, is_active=is_active),
        page=page,
        client=client,
    )
    return Page[UserAdminOut](items=[UserAdminOut.of(row) for row in rows], next_cursor=next_cursor)


@router.post(
    "/staff",
    status_code=status.HTTP_201_CREATED,
    response_model=UserAdminOut,
    responses=problem_responses(409),
    summary="Create a staff account with a role",
)
async def create_staff_user(
    body: StaffCreate, principal: Writer, users: UsersServiceDep, client: ClientDep
) -> UserAdminOut:
    user = await users.create_staff(
        actor=principal.require_user(),
        email=body.email,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        client=client,
    )
    return UserAdminOut.of(user)


@router.get(
    "/{user_id}",
    response_model=UserAdminOut,
    responses=problem_responses(404),
    summary="One user's account (the access is logged)",
)
async def get_user(
    user_id: uuid.UUID, principal: Reader, users: UsersServiceDep, client: ClientDep
) -> UserAdminOut:
    return UserAdminOut.of(await users.get_user(reader=principal, user_id=user_id, client=client))


@router.post(
    "/{user_id}/disable",
    response_model=UserAdminOut,
    responses=problem_responses(404, 409),
    summary="Disable a user: every session ends at once, sign-in is refused",
)
async def disable_user(
    user_id: uuid.UUID, principal: Writer, users: UsersServiceDep, client: ClientDep
) -> UserAdminOut:
    user = await users.disable_user(actor=principal.require_user(), user_id=user_id, client=client)
    return UserAdminOut.of(user)


@router.post(
    "/{user_id}/enable",
    response_model=UserAdminOut,
    responses=problem_responses(404),
    summary="Re-enable a disabled user (they sign in again)",
)
async def enable_user(
    user_id: uuid.UUID, principal: Writer, users: UsersServiceDep, client: ClientDep
) -> UserAdminOut:
    user = await users.enable_user(actor=principal.require_user(), user_id=user_id, client=client)
    return UserAdminOut.of(user)


@router.delete(
    "/{user_id}/sessions",
    response_model=SessionsEnded,
    responses=problem_responses(404),
    summary="End every session of a user",
)
async def end_user_sessions(
    user_id: uuid.UUID, principal: Writer, users: UsersServiceDep, client: ClientDep
) -> SessionsEnded:
    ended = await users.end_sessions(actor=principal.require_user(), user_id=user_id, client=client)
    return SessionsEnded(sessions_ended=ended)
