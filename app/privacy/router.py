"""/privacy, /me/consents, /me/welcome, /welcome, /me/export, /me/erasure-request.

Public routes (the cookie registry, the anonymous consent, the welcome greeting) work the same
with cookies disabled (P21): no cookie means the defaults, never an error.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, PrincipalDep, check_origin, require
from app.auth.principal import Principal
from app.core.cookies import (
    CONSENT_COOKIE,
    CONSENT_COOKIE_MAX_AGE,
    REGISTRY,
    WELCOME_COOKIE,
    WELCOME_COOKIE_MAX_AGE,
)
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.models.privacy import ConsentRecord, ErasureRequest
from app.privacy import schemas
from app.privacy.service import (
    GENERIC_GREETING,
    ConsentState,
    PrivacyService,
    VisitorConsent,
    default_choices,
)

PUBLIC: dict[str, Any] = {"security": []}  # an explicit, visible exception to "authenticated"

router = CapabilityRouter(tags=["privacy"], responses=problem_responses(401, 403))
Manager = Annotated[Principal, require("privacy:manage")]


async def get_privacy_service(session: SessionDep, container: ContainerDep) -> PrivacyService:
    return PrivacyService(session=session, container=container)


PrivacyServiceDep = Annotated[PrivacyService, Depends(get_privacy_service)]


def _consent_event(row: ConsentRecord) -> schemas.ConsentEventOut:
    return schemas.ConsentEventOut(
        kind=row.kind,
        granted=row.granted,
        policy_version=row.policy_version,
        source=row.source,
        ip=row.ip,
        created_at=row.created_at,
    )


def _my_consents(state: ConsentState, policy_version: str) -> schemas.MyConsentsOut:
    return schemas.MyConsentsOut(
        current=schemas.ConsentChoices(**state.choices),
        policy_version=policy_version,
        history=[_consent_event(row) for row in state.history],
    )


def _erasure_out(row: ErasureRequest) -> schemas.ErasureRequestOut:
    return schemas.ErasureRequestOut(
        id=row.id,
        customer_id=row.customer_id,
        status=row.status,
        reason=row.reason,
        requested_at=row.requested_at,
        reviewed_by_id=row.reviewed_by_id,
        reviewed_at=row.reviewed_at,
        review_note=row.review_note,
        completed_at=row.completed_at,
    )


# --------------------------------------------------------------------------- cookies (public)


@router.get(
    "/privacy/cookies",
    response_model=list[schemas.CookieOut],
    openapi_extra=PUBLIC,
    summary="Every cookie the service may set: purpose, category, lifetime, encryption",
)
async def list_cookies() -> list[schemas.CookieOut]:
    return [schemas.CookieOut.of(spec) for spec in REGISTRY]


@router.get(
    "/privacy/consent",
    response_model=schemas.VisitorConsentOut,
    openapi_extra=PUBLIC,
    summary="The visitor's choices from the consent cookie (defaults without one)",
)
async def get_visitor_consent(
    request: Request, container: ContainerDep
) -> schemas.VisitorConsentOut:
    stored = VisitorConsent.loads(container.cookies.read(request, CONSENT_COOKIE))
    return schemas.VisitorConsentOut(
        current=schemas.ConsentChoices(**(stored.choices if stored else default_choices())),
        policy_version=container.settings.privacy_policy_version,
        stored=stored is not None,
    )


@router.put(
    "/privacy/consent",
    response_model=schemas.VisitorConsentOut,
    responses=problem_responses(422),
    openapi_extra=PUBLIC,
    summary="Record an anonymous visitor's choices in the sealed consent cookie",
)
async def put_visitor_consent(
    body: schemas.ConsentChoices,
    request: Request,
    response: Response,
    container: ContainerDep,
    privacy: PrivacyServiceDep,
    client: ClientDep,
) -> schemas.VisitorConsentOut:
    check_origin(request, container)  # no session to bind a CSRF token to: check the origin
    existing = VisitorConsent.loads(container.cookies.read(request, CONSENT_COOKIE))
    stored = await privacy.set_visitor_consent(existing, choices=body.model_dump(), client=client)
    container.cookies.set(response, CONSENT_COOKIE, stored.dumps(), max_age=CONSENT_COOKIE_MAX_AGE)
    return schemas.VisitorConsentOut(
        current=schemas.ConsentChoices(**stored.choices),
        policy_version=stored.policy_version,
        stored=True,
    )


# --------------------------------------------------------------------------- my consents


@router.get(
    "/me/consents",
    response_model=schemas.MyConsentsOut,
    responses=problem_responses(404),
    summary="My consents in force and their history",
)
async def get_my_consents(
    principal: PrincipalDep, privacy: PrivacyServiceDep, container: ContainerDep
) -> schemas.MyConsentsOut:
    state = await privacy.my_consents(principal.require_user().id)
    return _my_consents(state, container.settings.privacy_policy_version)


@router.put(
    "/me/consents",
    response_model=schemas.MyConsentsOut,
    responses=problem_responses(404, 422),
    summary="Grant or withdraw my consents (each change is recorded)",
)
async def put_my_consents(
    body: schemas.ConsentChoices,
    principal: PrincipalDep,
    privacy: PrivacyServiceDep,
    container: ContainerDep,
    client: ClientDep,
) -> schemas.MyConsentsOut:
    state = await privacy.set_my_consents(
        principal.require_user().id, choices=body.model_dump(), client=client
    )
    return _my_consents(state, container.settings.privacy_policy_version)


# --------------------------------------------------------------------------- welcome cookie


@router.get(
    "/me/welcome",
    response_model=schemas.WelcomeOut,
    responses=problem_responses(404),
    summary="Whether a welcome cookie is enabled for me",
)
async def get_my_welcome(principal: PrincipalDep, privacy: PrivacyServiceDep) -> schemas.WelcomeOut:
    token = await privacy.welcome_status(principal.require_user().id)
    return schemas.WelcomeOut(enabled=token is not None, expires_at=token and token.expires_at)


@router.post(
    "/me/welcome",
    response_model=schemas.WelcomeOut,
    responses=problem_responses(404),
    summary="Opt in to the persistent welcome cookie on this browser",
)
async def enable_welcome(
    principal: PrincipalDep,
    privacy: PrivacyServiceDep,
    container: ContainerDep,
    response: Response,
) -> schemas.WelcomeOut:
    secret, token = await privacy.opt_in_welcome(principal.require_user().id)
    container.cookies.set(response, WELCOME_COOKIE, secret, max_age=WELCOME_COOKIE_MAX_AGE)
    return schemas.WelcomeOut(enabled=True, expires_at=token.expires_at)


@router.delete(
    "/me/welcome",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Opt out: revoke every welcome cookie of mine and clear this browser's",
)
async def disable_welcome(
    principal: PrincipalDep, privacy: PrivacyServiceDep, container: ContainerDep
) -> Response:
    await privacy.opt_out_welcome(principal.require_user().id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    container.cookies.clear(response, WELCOME_COOKIE)
    return response


@router.get(
    "/welcome",
    response_model=schemas.Greeting,
    openapi_extra=PUBLIC,
    summary="A personal greeting for a valid welcome cookie, a generic one otherwise",
)
async def welcome(
    request: Request, response: Response, container: ContainerDep, privacy: PrivacyServiceDep
) -> schemas.Greeting:
    present = WELCOME_COOKIE.name in request.cookies
    greeting = await privacy.greeting_for(container.cookies.read(request, WELCOME_COOKIE))
    if greeting is None:
        if present:
            container.cookies.clear(response, WELCOME_COOKIE)
        return schemas.Greeting(greeting=GENERIC_GREETING)
    return schemas.Greeting(greeting=greeting)


# --------------------------------------------------------------------------- export


@router.get(
    "/me/export",
    response_model=dict[str, Any],
    responses=problem_responses(404),
    summary="Download everything held about me as one JSON document",
)
async def export_my_data(principal: PrincipalDep, privacy: PrivacyServiceDep) -> JSONResponse:
    document = await privacy.export(principal.require_user().id)
    return JSONResponse(
        jsonable_encoder(document),
        headers={
            "Content-Disposition": 'attachment; filename="hostledger-export.json"',
            "Cache-Control": "no-store",
        },
    )


# --------------------------------------------------------------------------- erasure


@router.post(
    "/me/erasure-request",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ErasureRequestOut,
    responses=problem_responses(404, 409),
    summary="Ask for my personal data to be erased (staff review it)",
)
async def request_erasure(
    body: schemas.ErasureRequestIn,
    principal: PrincipalDep,
    privacy: PrivacyServiceDep,
    client: ClientDep,
) -> schemas.ErasureRequestOut:
    row = await privacy.request_erasure(
        principal.require_user().id, reason=body.reason, client=client
    )
    return _erasure_out(row)


@router.get(
    "/privacy/erasure-requests",
    response_model=Page[schemas.ErasureRequestOut],
    responses=problem_responses(400),
    summary="Erasure requests to review, newest first (the access is logged)",
)
async def list_erasure_requests(
    principal: Manager,
    privacy: PrivacyServiceDep,
    client: ClientDep,
    page: Annotated[PageParams, Depends(page_params)],
    status_filter: Annotated[
        str | None,
        Query(alias="status", pattern="^(pending|approved|rejected|completed)$"),
    ] = None,
) -> Page[schemas.ErasureRequestOut]:
    rows, next_cursor = await privacy.list_requests(
        reviewer=principal.require_user().id, status=status_filter, page=page, client=client
    )
    return Page[schemas.ErasureRequestOut](
        items=[_erasure_out(row) for row in rows], next_cursor=next_cursor
    )


@router.post(
    "/privacy/erasure-requests/{request_id}/approve",
    response_model=schemas.ErasureRequestOut,
    responses=problem_responses(404, 409, 422),
    summary="Approve: anonymise the customer at once, disable the login, end sessions",
)
async def approve_erasure(
    request_id: uuid.UUID,
    body: schemas.ReviewIn,
    principal: Manager,
    privacy: PrivacyServiceDep,
    client: ClientDep,
) -> schemas.ErasureRequestOut:
    row = await privacy.approve(
        request_id, reviewer=principal.require_user().id, note=body.note, client=client
    )
    return _erasure_out(row)


@router.post(
    "/privacy/erasure-requests/{request_id}/reject",
    response_model=schemas.ErasureRequestOut,
    responses=problem_responses(404, 409, 422),
    summary="Reject an erasure request with a note",
)
async def reject_erasure(
    request_id: uuid.UUID,
    body: schemas.ReviewIn,
    principal: Manager,
    privacy: PrivacyServiceDep,
    client: ClientDep,
) -> schemas.ErasureRequestOut:
    row = await privacy.reject(
        request_id, reviewer=principal.require_user().id, note=body.note, client=client
    )
    return _erasure_out(row)
