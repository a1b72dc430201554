"""Second-factor errors, each with a stable code.

A wrong or replayed code is a 400, not a 401: on the signed-in routes a 401 would read as
"your session is gone" to a client, and on the sign-in routes it matches OAuth2's token
endpoint, which answers a bad grant with 400. A challenge that is unknown, used or expired is
a 401: the sign-in has to start again from the password.
"""

from __future__ import annotations

from app.core.errors import Conflict, DomainError, Unauthenticated


class MfaCodeInvalid(DomainError):
    status = 400
    code = "mfa_code_invalid"
    title = "Wrong verification code"


class MfaCodeReplayed(DomainError):
    status = 400
    code = "mfa_code_replayed"
    title = "Verification code already used"


class MfaChallengeInvalid(Unauthenticated):
    code = "mfa_challenge_invalid"
    title = "Sign-in challenge invalid or expired"


class MfaChallengeModeMismatch(DomainError):
    status = 400
    code = "mfa_challenge_mode_mismatch"
    title = "Sign-in challenge belongs to the other sign-in endpoint"


class MfaAlreadyEnabled(Conflict):
    code = "mfa_already_enabled"
    title = "Two-factor authentication is already on"


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"
    title = "Two-factor authentication is off"


class MfaEnrollmentNotStarted(Conflict):
    code = "mfa_enrollment_not_started"
    title = "No authenticator is waiting for confirmation"
