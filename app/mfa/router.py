"""/mfa: enrol, confirm, disable and manage the second factor (signed in), and
/auth/login/mfa, /auth/token/mfa: complete a sign-in that a password started (public)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security

from app.api.deps import ContainerDep, SessionDep
from app.auth import schemas as auth_schemas
from app.auth.dependencies import (
    ClientDep,
    check_origin,
    current_principal,
    principal_before_mfa,
)
from app.auth.principal import Principal
from app.auth.router import login_response, token_response
from app.core.errors import problem_responses
from app.core.routing import CapabilityRouter
from app.mfa import schemas
from app.mfa.service import MfaService
from app.models.session import SessionMode

PUBLIC: dict[str, Any] = {"security": []}  # an explicit, visible exception to "authenticated"
NO_STORE = "no-store"


async def get_mfa_service(session: SessionDep, container: ContainerDep) -> MfaService:
    return MfaService(session=session, container=container)


MfaServiceDep = Annotated[MfaService, Depends(get_mfa_service)]
# Reachable by staff whose session has no second factor yet, when force_staff_mfa is on.
EnrolmentPrincipal = Annotated[Principal, Security(principal_before_mfa, scopes=["me"])]
# Changing an enabled factor goes through the normal gate.
ManagingPrincipal = Annotated[Principal, Security(current_principal, scopes=["me"])]

mfa_router = CapabilityRouter(
    prefix="/mfa", tags=["mfa"], responses=problem_responses(400, 401, 403, 409, 429)
)
login_router = CapabilityRouter(
    prefix="/auth", tags=["auth"], responses=problem_responses(400, 401, 403, 429)
)


# --------------------------------------------------------------------------- /mfa


@mfa_router.get("", response_model=schemas.MfaStatusResponse, summary="My second factor")
async def get_status(
    principal: EnrolmentPrincipal, mfa: MfaServiceDep
) -> schemas.MfaStatusResponse:
    state = await mfa.status(await mfa.users.get_or_raise(principal.require_user().id))
    return schemas.MfaStatusResponse(
        enabled=state.enabled,
        enabled_at=state.enabled_at,
        pending=state.pending,
        recovery_codes_remaining=state.recovery_codes_remaining,
    )


@mfa_router.post(
    "/totp/enroll",
    response_model=schemas.TotpEnrollResponse,
    summary="Start TOTP enrolment: a new secret to scan (password required)",
)
async def enroll_totp(
    body: schemas.ReauthRequest,
    principal: EnrolmentPrincipal,
    mfa: MfaServiceDep,
    response: Response,
) -> schemas.TotpEnrollResponse:
    enrollment = await mfa.enroll_totp(
        await mfa.users.get_or_raise(principal.require_user().id), password=body.password
    )
    response.headers["Cache-Control"] = NO_STORE
    return schemas.TotpEnrollResponse(
        secret=enrollment.secret,
        otpauth_uri=enrollment.otpauth_uri,
        qr_svg=enrollment.qr_svg,
    )


@mfa_router.post(
    "/totp/confirm",
    response_model=schemas.TotpConfirmResponse,
    summary="Confirm TOTP with a first code; returns recovery codes once",
    description=(
        "Turns the second factor on. Other sessions are kept and none is upgraded, this one "
        "included: sign in again (password, then code) for a session at the `mfa` level."
    ),
)
async def confirm_totp(
    body: schemas.TotpConfirmRequest,
    principal: EnrolmentPrincipal,
    mfa: MfaServiceDep,
    client: ClientDep,
    response: Response,
) -> schemas.TotpConfirmResponse:
    enabled = await mfa.confirm_totp(
        await mfa.users.get_or_raise(principal.require_user().id),
        code=body.code,
        client=client,
        session_id=principal.session.id if principal.session else None,
    )
    response.headers["Cache-Control"] = NO_STORE
    return schemas.TotpConfirmResponse(
        enabled_at=enabled.enabled_at, recovery_codes=enabled.recovery_codes
    )


@mfa_router.post(
    "/totp/disable",
    response_model=auth_schemas.SessionsEnded,
    summary="Turn TOTP off (password and a code); ends my other sessions",
)
async def disable_totp(
    body: schemas.SecondFactorReauthRequest,
    principal: ManagingPrincipal,
    mfa: MfaServiceDep,
    client: ClientDep,
) -> auth_schemas.SessionsEnded:
    ended = await mfa.disable_totp(
        await mfa.users.get_or_raise(principal.require_user().id),
        password=body.password,
        code=body.code,
        client=client,
        session_id=principal.session.id if principal.session else None,
    )
    return auth_schemas.SessionsEnded(sessions_ended=ended)


@mfa_router.post(
    "/recovery-codes/regenerate",
    response_model=schemas.RecoveryCodes,
    summary="Replace my recovery codes (password and a code)",
)
async def regenerate_recovery_codes(
    body: schemas.SecondFactorReauthRequest,
    principal: ManagingPrincipal,
    mfa: MfaServiceDep,
    client: ClientDep,
    response: Response,
) -> schemas.RecoveryCodes:
    codes = await mfa.regenerate_recovery_codes(
        await mfa.users.get_or_raise(principal.require_user().id),
        password=body.password,
        code=body.code,
        client=client,
        session_id=principal.session.id if principal.session else None,
    )
    response.headers["Cache-Control"] = NO_STORE
    return schemas.RecoveryCodes(recovery_codes=codes)


# --------------------------------------------------------------------------- /auth/…/mfa


@login_router.post(
    "/login/mfa",
    response_model=auth_schemas.LoginResponse,
    openapi_extra=PUBLIC,
    summary="Complete a cookie sign-in with the second factor",
)
async def login_mfa(
    body: schemas.MfaLoginRequest,
    request: Request,
    response: Response,
    mfa: MfaServiceDep,
    container: ContainerDep,
    client: ClientDep,
) -> auth_schemas.LoginResponse:
    check_origin(request, container)  # no login CSRF from foreign pages, as /auth/login
    issued = await mfa.complete_login(
        challenge=body.challenge,
        mode=SessionMode.COOKIE,
        code=body.code,
        recovery_code=body.recovery_code,
        client=client,
    )
    return login_response(issued, response=response, container=container)


@login_router.post(
    "/token/mfa",
    response_model=auth_schemas.TokenResponse,
    openapi_extra=PUBLIC,
    summary="Complete a token sign-in with the second factor",
)
async def token_mfa(
    body: schemas.MfaLoginRequest, mfa: MfaServiceDep, client: ClientDep
) -> auth_schemas.TokenResponse:
    issued = await mfa.complete_login(
        challenge=body.challenge,
        mode=SessionMode.TOKEN,
        code=body.code,
        recovery_code=body.recovery_code,
        client=client,
    )
    return token_response(issued)
