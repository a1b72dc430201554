"""/fraud/blocklist and /fraud/networks: `fraud:read` to read, `fraud:write` to change.

Every change is audited. Blocklisted values reject an order or registration outright; network
lists (anonymiser and hosting ranges) add their rules' weight to the score.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response, status

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, require
from app.auth.principal import Principal
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.customers.admin_service import actor_of
from app.fraud.lists_schemas import (
    BlocklistEntryIn,
    BlocklistEntryOut,
    NetworkImportIn,
    NetworkImportReportOut,
    NetworkListOut,
    NetworkRangeOut,
)
from app.fraud.lists_service import BlocklistService, NetworkListService
from app.models.fraud import BlockKind, NetworkList

router = CapabilityRouter(prefix="/fraud", tags=["fraud"], responses=problem_responses(401, 403))

Reader = Annotated[Principal, require("fraud:read")]
Writer = Annotated[Principal, require("fraud:write")]
Paging = Annotated[PageParams, Depends(page_params)]


async def get_blocklist_service(session: SessionDep, container: ContainerDep) -> BlocklistService:
    return BlocklistService(session=session, container=container)


async def get_network_list_service(
    session: SessionDep, container: ContainerDep
) -> NetworkListService:
    return NetworkListService(session=session, container=container)


BlocklistDep = Annotated[BlocklistService, Depends(get_blocklist_service)]
NetworkListsDep = Annotated[NetworkListService, Depends(get_network_list_service)]


# --------------------------------------------------------------------------- blocklist


@router.get(
    "/blocklist",
    response_model=Page[BlocklistEntryOut],
    responses=problem_responses(400, 422),
    summary="Blocklist entries, newest first (emails and phones masked)",
)
async def list_blocklist(
    _: Reader,
    blocklist: BlocklistDep,
    page: Paging,
    kind: Annotated[BlockKind | None, Query(description="only entries of this kind")] = None,
) -> Page[BlocklistEntryOut]:
    rows, next_cursor = await blocklist.page(kind=kind, page=page)
    return Page[BlocklistEntryOut](
        items=[BlocklistEntryOut.of(row) for row in rows], next_cursor=next_cursor
    )


@router.post(
    "/blocklist",
    status_code=status.HTTP_201_CREATED,
    response_model=BlocklistEntryOut,
    responses=problem_responses(409, 422),
    summary="Block an IP or CIDR range, email, email domain, phone number or country",
    description=(
        "Orders and registrations that match an active entry are rejected outright. An invalid "
        "value is 422 naming `body.value`; a value already on the list is 409 "
        "`blocklist_entry_exists`."
    ),
)
async def add_blocklist_entry(
    body: BlocklistEntryIn, principal: Writer, client: ClientDep, blocklist: BlocklistDep
) -> BlocklistEntryOut:
    entry = await blocklist.add(
        actor=actor_of(principal, client),
        kind=body.kind,
        value=body.value,
        note=body.note,
        expires_at=body.expires_at,
    )
    return BlocklistEntryOut.of(entry)


@router.delete(
    "/blocklist/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 422),
    summary="Remove a blocklist entry",
)
async def delete_blocklist_entry(
    entry_id: uuid.UUID, principal: Writer, client: ClientDep, blocklist: BlocklistDep
) -> Response:
    await blocklist.remove(actor=actor_of(principal, client), entry_id=entry_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- network lists


@router.post(
    "/networks/{list_name}/import",
    response_model=NetworkImportReportOut,
    responses=problem_responses(413, 422),
    summary="Import CIDR ranges into the anonymiser or hosting list",
    description=(
        "At most 50,000 entries per request, within the request body limit "
        "(`HOSTLEDGER_MAX_BODY_BYTES`, 1 MiB by default: 413 beyond it). Invalid entries are "
        "reported by position and "
        "skipped; entries repeated in the body or already in the list are counted as "
        "duplicates. With `replace`, the list's current ranges are removed first."
    ),
)
async def import_network_list(
    list_name: NetworkList,
    body: NetworkImportIn,
    principal: Writer,
    client: ClientDep,
    networks: NetworkListsDep,
) -> NetworkImportReportOut:
    report = await networks.import_ranges(
        actor=actor_of(principal, client),
        list_name=list_name,
        cidrs=body.cidrs,
        source=body.source,
        replace=body.replace,
    )
    return NetworkImportReportOut.of(report)


@router.get(
    "/networks/{list_name}",
    response_model=NetworkListOut,
    responses=problem_responses(400, 422),
    summary="How many ranges a network list holds, and a page of them (newest first)",
)
async def get_network_list(
    list_name: NetworkList, _: Reader, networks: NetworkListsDep, page: Paging
) -> NetworkListOut:
    count, rows, next_cursor = await networks.page(list_name=list_name, page=page)
    return NetworkListOut(
        list_name=list_name,
        count=count,
        items=[NetworkRangeOut.model_validate(row) for row in rows],
        next_cursor=next_cursor,
    )


@router.delete(
    "/networks/{list_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(422),
    summary="Remove every range of a network list",
)
async def clear_network_list(
    list_name: NetworkList, principal: Writer, client: ClientDep, networks: NetworkListsDep
) -> Response:
    await networks.clear(actor=actor_of(principal, client), list_name=list_name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
