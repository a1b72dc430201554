"""Turns a request into a typed `Principal`, or a clear 401/403.

Order of precedence: an `Authorization` header wins and the cookie is then ignored (so no CSRF
check applies to bearer requests); otherwise the session cookie, which for state-changing
methods must come with a matching `X-CSRF-Token` and from an allowed origin.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request, Security
from fastapi.security import SecurityScopes

from app.api.deps import ContainerDep, SessionDep
from app.auth.credentials import CredentialChecker, csrf_token_matches
from app.auth.errors import (
    AuthenticationRequired,
    CsrfFailed,
    InsufficientScope,
    InvalidToken,
    MfaEnrollmentRequired,
)
from app.auth.permissions import scopes_for
from app.auth.principal import AuthMethod, Principal
from app.auth.service import AuthService
from app.core.client import ClientInfo, client_info
from app.core.container import Container
from app.core.cookies import SESSION_COOKIE
from app.core.errors import DomainError
from app.models.session import AuthLevel

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_KEY_PREFIX = "hlk_"


async def get_client(request: Request, container: ContainerDep) -> ClientInfo:
    return client_info(request, trusted_proxies=tuple(container.settings.trusted_proxies))


ClientDep = Annotated[ClientInfo, Depends(get_client)]


async def get_auth_service(session: SessionDep, container: ContainerDep) -> AuthService:
    return AuthService(session=session, container=container)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


def check_origin(request: Request, container: Container) -> None:
    """Refuse cross-site state changes: Origin must be ours or a configured SPA origin."""
    allowed = set(container.settings.allowed_origins)
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None and origin != own and origin not in allowed:
        raise CsrfFailed("This request came from an origin that is not allowed.")
    if request.headers.get("sec-fetch-site") == "cross-site" and origin not in allowed:
        raise CsrfFailed("Cross-site requests are not allowed.")


async def _resolve(request: Request, container: Container) -> Principal:
    client = client_info(request, trusted_proxies=tuple(container.settings.trusted_proxies))
    checker = CredentialChecker(container)
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise InvalidToken("Use 'Authorization: Bearer <token>'.")
        if credential.startswith(API_KEY_PREFIX):
            from app.api_keys.service import authenticate_api_key

            async with container.database.unit_of_work(read_only=True) as session:
                return await authenticate_api_key(
                    session=session, container=container, presented=credential, client=client
                )
        auth_session, user = await checker.from_access_token(credential, client=client)
        return Principal(
            method=AuthMethod.BEARER,
            scopes=scopes_for(kind=user.kind, role=user.role),
            user=user,
            session=auth_session,
        )
    if request.cookies.get(SESSION_COOKIE.name) is None:
        raise AuthenticationRequired()
    token = container.cookies.read(request, SESSION_COOKIE)
    if token is None:
        raise InvalidToken("The session cookie is not valid.")
    auth_session, user = await checker.from_session_token(token, client=client)
    if request.method not in SAFE_METHODS:
        check_origin(request, container)
        presented = request.headers.get("x-csrf-token")
        if not csrf_token_matches(container.crypto, auth_session.id, presented):
            raise CsrfFailed("Missing or wrong X-CSRF-Token header.")
    return Principal(
        method=AuthMethod.COOKIE,
        scopes=scopes_for(kind=user.kind, role=user.role),
        user=user,
        session=auth_session,
    )


def _container_of(request: Request) -> Container:
    # Read directly rather than through a dependency: this runs on every authenticated request.
    return cast(Container, request.app.state.container)


async def current_principal(request: Request, security_scopes: SecurityScopes) -> Principal:
    container = _container_of(request)
    principal = await _resolve(request, container)
    missing = set(security_scopes.scopes) - principal.scopes
    if missing:
        raise InsufficientScope(f"This needs the scope(s): {', '.join(sorted(missing))}.")
    require_staff_mfa(principal, container)
    return principal


def require_staff_mfa(principal: Principal, container: Container) -> None:
    """With `force_staff_mfa` on, a staff session that did not start with a second factor may
    use only the routes that depend on `principal_before_mfa` instead (GET /auth/me,
    POST /auth/logout, the /mfa enrolment routes): everything else is 403
    `mfa_enrollment_required`. Deny by default: a new route is covered without being listed,
    and no path, prefix or operation name has to be kept in sync here. API keys act for no
    person and have no session, so they are not concerned."""
    session = principal.session
    if not container.settings.auth.force_staff_mfa or not principal.is_staff or session is None:
        return
    if session.auth_level == AuthLevel.MFA.value:
        return
    if principal.user is not None and principal.user.mfa_enabled:
        raise MfaEnrollmentRequired("Staff must sign in again with their second factor.")
    raise MfaEnrollmentRequired(
        "Staff must set up two-factor authentication first: POST /api/v1/mfa/totp/enroll."
    )


async def principal_before_mfa(request: Request, security_scopes: SecurityScopes) -> Principal:
    """`current_principal` without the forced staff second factor: only for the routes a staff
    member needs to set one up (see `require_staff_mfa`). Use it through `PreMfaPrincipalDep`."""
    principal = await _resolve(request, _container_of(request))
    missing = set(security_scopes.scopes) - principal.scopes
    if missing:
        raise InsufficientScope(f"This needs the scope(s): {', '.join(sorted(missing))}.")
    return principal


def require(*scopes: str) -> Principal:
    """`principal: Principal = require("users:read")` — documents the scopes in OpenAPI."""
    return Security(current_principal, scopes=list(scopes))  # type: ignore[no-any-return]


PrincipalDep = Annotated[Principal, Security(current_principal)]
PreMfaPrincipalDep = Annotated[Principal, Security(principal_before_mfa)]

__all__ = [
    "AuthServiceDep",
    "ClientDep",
    "DomainError",
    "PreMfaPrincipalDep",
    "PrincipalDep",
    "current_principal",
    "principal_before_mfa",
    "require",
]
