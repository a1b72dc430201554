"""/api-keys: admins create, list and revoke integration keys (scope `api_keys:manage`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, status

from app.api.deps import ContainerDep, SessionDep
from app.api_keys import service
from app.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from app.auth.dependencies import ClientDep, require
from app.auth.principal import Principal
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter

router = CapabilityRouter(
    prefix="/api-keys", tags=["api-keys"], responses=problem_responses(401, 403)
)

Manager = Annotated[Principal, require("api_keys:manage")]
PageDep = Annotated[PageParams, Depends(page_params)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Create an API key (the full key is shown in this response only)",
)
async def create_api_key(
    body: ApiKeyCreate,
    principal: Manager,
    session: SessionDep,
    container: ContainerDep,
    client: ClientDep,
) -> ApiKeyCreated:
    created = await service.create_api_key(
        session=session,
        container=container,
        creator=principal.require_user(),
        creator_scopes=principal.scopes,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        client=client,
    )
    out = ApiKeyOut.model_validate(created.key)
    return ApiKeyCreated(**out.model_dump(), key=created.full_key)


@router.get(
    "",
    response_model=Page[ApiKeyOut],
    responses=problem_responses(400),
    summary="List API keys, newest first (never their secrets)",
)
async def list_api_keys(principal: Manager, session: SessionDep, page: PageDep) -> Page[ApiKeyOut]:
    rows, next_cursor = await service.list_api_keys(session=session, page=page)
    return Page[ApiKeyOut](
        items=[ApiKeyOut.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Revoke an API key (it stops working at once)",
)
async def revoke_api_key(
    key_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    container: ContainerDep,
    client: ClientDep,
) -> None:
    await service.revoke_api_key(
        session=session,
        container=container,
        actor=principal.require_user(),
        key_id=key_id,
        client=client,
    )
