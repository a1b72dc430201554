"""Authentication and authorisation errors, each with a stable code."""

from __future__ import annotations

from typing import ClassVar

from app.core.cookies import CSRF_COOKIE, SESSION_COOKIE
from app.core.errors import Conflict, DomainError, Forbidden, RateLimited, Unauthenticated

_CHALLENGE = 'Bearer realm="hostledger"'


class AuthenticationRequired(Unauthenticated):
    """No credential at all, or one that does not parse. Clears stale cookies."""

    code = "not_authenticated"
    title = "Authentication required"
    clear_cookies: ClassVar[tuple[str, ...]] = (SESSION_COOKIE.name, CSRF_COOKIE.name)

    def __init__(self, detail: str | None = None) -> None:
        error = ', error="invalid_token"' if self.code != "not_authenticated" else ""
        super().__init__(
            detail or "Sign in to continue.", headers={"WWW-Authenticate": _CHALLENGE + error}
        )


class InvalidToken(AuthenticationRequired):
    code = "invalid_token"
    title = "Invalid credential"


class SessionExpired(AuthenticationRequired):
    code = "session_expired"
    title = "Session expired"


class SessionEnded(AuthenticationRequired):
    code = "session_ended"
    title = "Session ended"


class SessionRevoked(AuthenticationRequired):
    code = "session_revoked"
    title = "Session revoked"


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title = "Wrong email or password"

    def __init__(self) -> None:
        super().__init__(
            "The email or password is not correct.",
            headers={"WWW-Authenticate": _CHALLENGE},
        )


class MfaRequired(Unauthenticated):
    """The password was right; the `mfa_challenge` in the body completes the sign-in."""

    code = "mfa_required"
    title = "Second factor required"


class AccountLocked(RateLimited):
    code = "account_locked"
    title = "Too many failed sign-ins"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "CSRF check failed"


class InsufficientScope(Forbidden):
    code = "insufficient_scope"
    title = "Not allowed"


class MfaEnrollmentRequired(Forbidden):
    code = "mfa_enrollment_required"
    title = "Two-factor authentication required"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Email already registered"


class EmailAlreadyVerified(Conflict):
    code = "email_already_verified"
    title = "Email already verified"


class InvalidOneTimeToken(DomainError):
    status = 400
    code = "invalid_token"
    title = "Invalid or expired link"


class AccountDisabled(Forbidden):
    code = "account_disabled"
    title = "Account disabled"
