"""/auth: registration, cookie and token login, refresh, sessions, password change."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Form, Request, Response, status
from fastapi.responses import JSONResponse

from app.api.deps import ContainerDep
from app.auth import recovery, schemas
from app.auth.dependencies import (
    AuthServiceDep,
    ClientDep,
    PreMfaPrincipalDep,
    PrincipalDep,
    check_origin,
)
from app.auth.errors import AuthenticationRequired
from app.auth.principal import Principal
from app.auth.service import IssuedSession, MfaChallenge
from app.auth.session_store import AuthSession, AuthUser
from app.core.container import Container
from app.core.cookies import CSRF_COOKIE, SESSION_COOKIE
from app.core.errors import domain_error_response, problem_responses
from app.core.routing import CapabilityRouter
from app.customers.service import CustomerService
from app.models.session import AuthLevel, EndReason, SessionMode, UserSession
from app.models.user import User

PUBLIC: dict[str, Any] = {"security": []}  # an explicit, visible exception to "authenticated"

router = CapabilityRouter(prefix="/auth", tags=["auth"], responses=problem_responses(401, 403, 429))


# --------------------------------------------------------------------------- presentation


def user_out(user: User | AuthUser) -> schemas.UserOut:
    return schemas.UserOut(
        id=user.id,
        email=user.email,
        kind=user.kind,
        role=user.role,
        display_name=user.display_name,
        email_verified=user.email_verified_at is not None,
        mfa_enabled=user.mfa_enabled,
        created_at=user.created_at,
    )


def session_out(
    row: UserSession | AuthSession, *, idle_timeout: int, current_id: uuid.UUID | None
) -> schemas.SessionOut:
    idle_expiry = min(row.last_seen_at + timedelta(seconds=idle_timeout), row.expires_at)
    return schemas.SessionOut(
        id=row.id,
        mode=row.mode,
        auth_level=row.auth_level,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        idle_expires_at=idle_expiry,
        ip=row.ip,
        user_agent=row.user_agent,
        current=row.id == current_id,
    )


def set_session_cookies(response: Response, issued: IssuedSession, container: Container) -> None:
    if issued.session_token is None or issued.csrf_token is None:
        raise ValueError("a cookie login issues a session token and a CSRF token")
    # A browser-session cookie unless "remember me": then persistent up to the absolute timeout.
    max_age = container.settings.session.absolute_timeout if issued.session.remember else None
    container.cookies.set(response, SESSION_COOKIE, issued.session_token, max_age=max_age)
    container.cookies.set(response, CSRF_COOKIE, issued.csrf_token, max_age=max_age)


def clear_session_cookies(response: Response, container: Container) -> None:
    container.cookies.clear(response, SESSION_COOKIE)
    container.cookies.clear(response, CSRF_COOKIE)


def login_response(
    outcome: IssuedSession | MfaChallenge, *, response: Response, container: Container
) -> schemas.LoginResponse:
    if isinstance(outcome, MfaChallenge):
        return schemas.LoginResponse(
            status="mfa_required",
            mfa_challenge=outcome.challenge,
            mfa_expires_in=outcome.expires_in,
        )
    set_session_cookies(response, outcome, container)
    return schemas.LoginResponse(
        status="authenticated",
        user=user_out(outcome.user),
        session=session_out(
            outcome.session,
            idle_timeout=container.settings.session.idle_timeout,
            current_id=outcome.session.id,
        ),
        csrf_token=outcome.csrf_token,
    )


def token_response(issued: IssuedSession) -> schemas.TokenResponse:
    if not (issued.access_token and issued.refresh_token and issued.access_expires_in):
        raise ValueError("a token login issues an access token and a refresh token")
    return schemas.TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.access_expires_in,
        refresh_token=issued.refresh_token,
    )


# --------------------------------------------------------------------------- who am I


# First in this router: FastAPI tries a router's routes in order, and this is the route signed-in
# clients call most (the SPA on every page load), so it should not pay for the ones below.
@router.get("/me", response_model=schemas.MeResponse, summary="Who am I")
async def me(principal: PreMfaPrincipalDep, request: Request) -> Response:
    # The hottest authenticated route: the model is built (and so validated) once and
    # serialised directly, instead of FastAPI validating the returned model a second time.
    container: Container = request.app.state.container
    body = schemas.MeResponse(
        user=user_out(principal.user) if principal.user else None,
        method=principal.method.value,
        scopes=sorted(principal.scopes),
        session=session_out(
            principal.session,
            idle_timeout=container.settings.session.idle_timeout,
            current_id=principal.session.id,
        )
        if principal.session
        else None,
        api_key_id=principal.api_key_id,
    )
    return Response(body.model_dump_json(), media_type="application/json")


# --------------------------------------------------------------------------- public routes


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.UserOut,
    responses=problem_responses(409, 422),
    openapi_extra=PUBLIC,
    summary="Create a customer account and its customer record",
)
async def register(
    body: schemas.RegisterRequest, auth: AuthServiceDep, client: ClientDep
) -> schemas.UserOut:
    # The account and its customer record (P1) are created together, in this transaction.
    customers = CustomerService(session=auth.session, container=auth.container)
    user, _customer = await customers.register(
        auth=auth, email=body.email, password=body.password, contact=body.contact(), client=client
    )
    return user_out(user)


@router.post(
    "/login",
    response_model=schemas.LoginResponse,
    openapi_extra=PUBLIC,
    summary="Sign in with a cookie session (browser SPA)",
)
async def login(
    body: schemas.LoginRequest,
    request: Request,
    response: Response,
    auth: AuthServiceDep,
    container: ContainerDep,
    client: ClientDep,
) -> schemas.LoginResponse:
    check_origin(request, container)  # no login CSRF from foreign pages
    outcome = await auth.login(
        email=body.email,
        password=body.password,
        mode=SessionMode.COOKIE,
        remember=body.remember,
        client=client,
    )
    return login_response(outcome, response=response, container=container)


@router.post(
    "/token",
    response_model=schemas.TokenResponse,
    openapi_extra=PUBLIC,
    summary="OAuth2 password grant: JWT access token and refresh token (curl, Postman, Swagger)",
)
async def token(
    username: Annotated[str, Form(min_length=1, max_length=320)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    request: Request,
    auth: AuthServiceDep,
    client: ClientDep,
) -> schemas.TokenResponse | JSONResponse:
    outcome = await auth.login(
        email=username,
        password=password,
        mode=SessionMode.TOKEN,
        remember=False,
        client=client,
    )
    if isinstance(outcome, MfaChallenge):
        # Answered, not raised: raising would roll back the challenge just stored.
        return domain_error_response(request, auth.mfa_required_error(outcome))
    return token_response(outcome)


@router.post(
    "/refresh",
    response_model=schemas.TokenResponse,
    openapi_extra=PUBLIC,
    summary="Rotate the refresh token; a reused one ends the session",
)
async def refresh(
    body: schemas.RefreshRequest, auth: AuthServiceDep, client: ClientDep
) -> schemas.TokenResponse:
    return token_response(await auth.refresh(refresh_token=body.refresh_token, client=client))


# --------------------------------------------------------------------------- signed in


def _session_of(principal: Principal) -> AuthSession:
    if principal.session is None:
        raise AuthenticationRequired("This needs a signed-in session, not an API key.")
    return principal.session


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
async def logout(
    principal: PreMfaPrincipalDep,
    response: Response,
    auth: AuthServiceDep,
    container: ContainerDep,
    client: ClientDep,
) -> None:
    await auth.end_session(_session_of(principal), reason=EndReason.LOGOUT, client=client)
    clear_session_cookies(response, container)


@router.post(
    "/logout-all",
    response_model=schemas.SessionsEnded,
    summary="End every session of mine, this one included",
)
async def logout_all(
    principal: PrincipalDep,
    response: Response,
    auth: AuthServiceDep,
    container: ContainerDep,
    client: ClientDep,
) -> schemas.SessionsEnded:
    user = principal.require_user()
    ended = await auth.end_all_sessions(user.id, reason=EndReason.LOGOUT_ALL, client=client)
    clear_session_cookies(response, container)
    return schemas.SessionsEnded(sessions_ended=ended)


@router.get("/sessions", response_model=schemas.SessionList, summary="My open sessions")
async def list_sessions(
    principal: PrincipalDep, auth: AuthServiceDep, container: ContainerDep
) -> schemas.SessionList:
    user = principal.require_user()
    current_id = principal.session.id if principal.session else None
    rows = await auth.list_sessions(user.id)
    idle = container.settings.session.idle_timeout
    return schemas.SessionList(
        items=[session_out(row, idle_timeout=idle, current_id=current_id) for row in rows]
    )


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="End one of my sessions",
)
async def revoke_session(
    session_id: uuid.UUID, principal: PrincipalDep, auth: AuthServiceDep, client: ClientDep
) -> None:
    user = principal.require_user()
    await auth.revoke_own_session(user_id=user.id, session_id=session_id, client=client)


@router.post(
    "/password",
    response_model=schemas.SessionsEnded,
    summary="Change my password (ends my other sessions)",
)
async def change_password(
    body: schemas.PasswordChangeRequest,
    principal: PrincipalDep,
    auth: AuthServiceDep,
    client: ClientDep,
) -> schemas.SessionsEnded:
    user = await auth.users.get_or_raise(principal.require_user().id)
    ended = await auth.change_password(
        user=user,
        current_session_id=principal.session.id if principal.session else None,
        current_password=body.current_password,
        new_password=body.new_password,
        client=client,
    )
    return schemas.SessionsEnded(sessions_ended=ended)


# --------------------------------------------------------------------------- email and recovery

RESET_ACCEPTED = (
    "If an account uses this address, a link to reset its password is on its way. "
    "It works once, within 30 minutes."
)


@router.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400),
    openapi_extra=PUBLIC,
    summary="Confirm my email address with the token from the emailed link",
)
async def verify_email(
    body: schemas.VerifyEmailRequest, auth: AuthServiceDep, client: ClientDep
) -> None:
    await recovery.verify_email(auth, token=body.token, client=client)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.Accepted,
    responses=problem_responses(409),
    summary="Send me a new verification link (earlier links stop working)",
)
async def resend_verification(principal: PrincipalDep, auth: AuthServiceDep) -> schemas.Accepted:
    user = await auth.users.get_or_raise(principal.require_user().id)
    await recovery.resend_verification(auth, user=user)
    return schemas.Accepted(detail="A new verification link is on its way.")


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.Accepted,
    openapi_extra=PUBLIC,
    summary="Ask for a password reset link (the same answer whether or not the account exists)",
)
async def request_password_reset(
    body: schemas.PasswordResetRequest, auth: AuthServiceDep, client: ClientDep
) -> schemas.Accepted:
    await recovery.request_password_reset(auth, email=body.email, client=client)
    return schemas.Accepted(detail=RESET_ACCEPTED)


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400),
    openapi_extra=PUBLIC,
    summary="Set a new password with the token from the emailed link (ends every session)",
)
async def confirm_password_reset(
    body: schemas.PasswordResetConfirm,
    response: Response,
    auth: AuthServiceDep,
    container: ContainerDep,
    client: ClientDep,
) -> None:
    await recovery.confirm_password_reset(
        auth, token=body.token, new_password=body.new_password, client=client
    )
    clear_session_cookies(response, container)  # this browser's session, if any, has ended


__all__ = ["AuthLevel", "router"]
