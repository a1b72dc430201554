"""Email verification and password reset (P11): proving control of the address on file.

Every answer here avoids telling a stranger whether an account exists: a reset request for an
unknown address gets the same 202 as one for a customer, after the same throttles and lookups,
and every bad link gets the same 400 `invalid_token`, whether unknown, expired or used.
"""

from __future__ import annotations

from datetime import datetime

from app.auth import emails
from app.auth.errors import EmailAlreadyVerified, InvalidOneTimeToken
from app.auth.repository import OneTimeTokenRepository
from app.auth.service import (
    AuthRateRules,
    AuthService,
    email_index,
    normalize_email,
    validate_new_password,
)
from app.core.client import ClientInfo
from app.core.ratelimit import RateRule
from app.core.security import token_digest
from app.customers import service as customers
from app.models.security import OneTimeToken, TokenPurpose
from app.models.session import EndReason
from app.models.user import User
from app.security_events import service as events
from app.security_events.service import EventType

# A signed-in user asking for verification mail again: enough for typos and spam folders,
# too few to turn the resend button into a mail bomb.
RESEND_VERIFICATION_PER_ACCOUNT = RateRule("verify_email_resend:account", "5/hour")

_INVALID_LINK = "This link is invalid, has expired or was already used; ask for a new one."


async def _valid_token(
    auth: AuthService, presented: str, *, purpose: TokenPurpose, now: datetime
) -> tuple[OneTimeToken, User]:
    """The unused, unexpired token and its active user, or `InvalidOneTimeToken`."""
    row = await OneTimeTokenRepository(auth.session).get_by_hash(
        token_digest(presented), purpose=purpose.value
    )
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise InvalidOneTimeToken(_INVALID_LINK)
    user = await auth.users.get(row.user_id)
    if user is None or not user.is_active:
        raise InvalidOneTimeToken(_INVALID_LINK)
    issued_for = row.data.get("email_index") if row.data else None
    if issued_for is not None and issued_for != user.email_index:
        raise InvalidOneTimeToken(_INVALID_LINK)  # sent to an address the account no longer has
    return row, user


async def _use(auth: AuthService, row: OneTimeToken, *, now: datetime) -> None:
    if not await OneTimeTokenRepository(auth.session).use(row.id, at=now):
        raise InvalidOneTimeToken(_INVALID_LINK)  # a concurrent request used it first


# --------------------------------------------------------------------------- verification


async def verify_email(auth: AuthService, *, token: str, client: ClientInfo) -> None:
    now = auth.clock.now()
    row, user = await _valid_token(auth, token, purpose=TokenPurpose.VERIFY_EMAIL, now=now)
    await _use(auth, row, now=now)
    if customers.is_email_change(row):
        # The link went to a new address (PATCH /me): login and customer record switch to it.
        await customers.apply_email_change(auth, token=row, user=user, client=client, now=now)
        return
    if user.email_verified_at is not None:
        return
    user.email_verified_at = now
    user.updated_at = now
    await events.record(
        auth.session, event_type=EventType.EMAIL_VERIFIED, at=now, client=client, user_id=user.id
    )
    await customers.mark_email_verified(auth.session, user_id=user.id, now=now)


async def resend_verification(auth: AuthService, *, user: User) -> None:
    """A new link; the older ones stop working."""
    if user.email_verified_at is not None:
        raise EmailAlreadyVerified("Your email address is already verified.")
    await auth.throttle(RESEND_VERIFICATION_PER_ACCOUNT, str(user.id))
    await emails.send_verification(
        auth.session, settings=auth.settings, user=user, now=auth.clock.now()
    )


# --------------------------------------------------------------------------- password reset


async def request_password_reset(auth: AuthService, *, email: str, client: ClientInfo) -> None:
    """Mail a reset link if an active account has this address; the caller learns nothing
    either way. Throttled per IP and per address (known or not)."""
    rules = AuthRateRules.from_settings(auth.settings.rate_limit)
    await auth.throttle(rules.password_reset_per_ip, client.ip or "unknown")
    normalized = normalize_email(email, field="body.email")
    index = email_index(auth.crypto, normalized)
    await auth.throttle(rules.password_reset_per_account, index)
    user = await auth.users.get_by_email_index(index)
    now = auth.clock.now()
    mailed = False
    if user is not None and user.is_active:
        await emails.send_password_reset(auth.session, settings=auth.settings, user=user, now=now)
        mailed = True
    await events.record(
        auth.session,
        event_type=EventType.PASSWORD_RESET_REQUESTED,
        at=now,
        client=client,
        user_id=user.id if user else None,
        details={"mailed": mailed},
    )


async def confirm_password_reset(
    auth: AuthService, *, token: str, new_password: str, client: ClientInfo
) -> int:
    """Set the new password, end every session of the account, lift its login lockout.

    The token is used only once the new password is accepted, so a weak one can be corrected
    with the same link. Returns the number of sessions ended.
    """
    now = auth.clock.now()
    row, user = await _valid_token(auth, token, purpose=TokenPurpose.PASSWORD_RESET, now=now)
    validate_new_password(
        new_password,
        user_inputs=[user.email, user.display_name or ""],
        field="body.new_password",
    )
    password_hash = await auth.container.hasher.hash(new_password)
    await _use(auth, row, now=now)
    await OneTimeTokenRepository(auth.session).invalidate_open(
        user.id, purpose=TokenPurpose.PASSWORD_RESET.value, at=now
    )
    user.password_hash = password_hash
    user.password_changed_at = now
    user.updated_at = now
    await auth.throttles.clear(user.email_index)
    await events.record(
        auth.session,
        event_type=EventType.PASSWORD_RESET_COMPLETED,
        at=now,
        client=client,
        user_id=user.id,
    )
    if user.email_verified_at is None:
        # The link reached the inbox and was opened from it: the address is proven.
        user.email_verified_at = now
        await events.record(
            auth.session,
            event_type=EventType.EMAIL_VERIFIED,
            at=now,
            client=client,
            user_id=user.id,
            details={"via": "password_reset"},
        )
        await customers.mark_email_verified(auth.session, user_id=user.id, now=now)
    ended = await auth.end_all_sessions(user.id, reason=EndReason.PASSWORD_RESET, client=client)
    await emails.send_password_changed(
        auth.session, settings=auth.settings, user=user, now=now, how="reset"
    )
    return ended
