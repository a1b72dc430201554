"""Accounts, credentials and sessions.

One server-side session row is the truth for every credential: the browser's cookie, the JWT
access token (its `sid` claim) and the refresh token all stop working the moment the session
ends, whatever ended it (logout, timeout, password change, staff revocation, disabling).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession
from zxcvbn import zxcvbn

from app.auth.credentials import csrf_token_for, end_independently, judge, needs_touch
from app.auth.emails import send_password_changed, send_verification
from app.auth.errors import (
    AccountDisabled,
    AccountLocked,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    MfaRequired,
    SessionEnded,
    SessionExpired,
    SessionRevoked,
)
from app.auth.repository import (
    LoginThrottleRepository,
    OneTimeTokenRepository,
    RefreshTokenRepository,
    SessionRepository,
    UserRepository,
)
from app.auth.session_store import AuthSession
from app.core.client import ClientInfo
from app.core.clock import Clock
from app.core.config import RateLimitSettings
from app.core.container import Container
from app.core.crypto import CryptoKit
from app.core.errors import FieldError, InvalidInput
from app.core.ratelimit import RateRule
from app.core.security import new_token, token_digest
from app.models.security import LoginThrottle, OneTimeToken, TokenPurpose
from app.models.session import AuthLevel, EndReason, RefreshToken, SessionMode, UserSession
from app.models.user import StaffRole, User, UserKind
from app.security_events import service as events
from app.security_events.service import EventType

EMAIL_INDEX_CONTEXT = "users.email"
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
# zxcvbn scores 0..4; 3 means "safely unguessable: moderate protection from offline attacks".
PASSWORD_MIN_SCORE = 3
# Soft lockout: from the 5th consecutive failure, wait 30 s, then 60 s, 120 s … at most 1 h.
LOCKOUT_THRESHOLD = 5
LOCKOUT_BASE_SECONDS = 30
LOCKOUT_MAX_SECONDS = 3600
MFA_CHALLENGE_SECONDS = 300

# Ends that were not the user's or staff's choice map to their own codes, so the SPA can say
# "you were signed out after 15 minutes of inactivity".
_END_ERRORS: dict[str, type[SessionRevoked] | type[SessionExpired] | type[SessionEnded]] = {
    EndReason.IDLE_TIMEOUT.value: SessionExpired,
    EndReason.ABSOLUTE_TIMEOUT.value: SessionEnded,
}


# --------------------------------------------------------------------------- validation


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Syntax only (no DNS: registration must not depend on the network)."""
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(
            [FieldError(field=field, code="email_invalid", message=str(exc))]
        ) from exc


def email_index(crypto: CryptoKit, email: str) -> str:
    return crypto.blind_index.digest(email, context=EMAIL_INDEX_CONTEXT)


def validate_new_password(
    password: str, *, user_inputs: list[str], field: str = "password"
) -> None:
    """Length 12-128, and not guessable, judged with the user's own email and name as context."""
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise InvalidInput(
            [
                FieldError(
                    field=field,
                    code="password_length",
                    message=f"Use {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
                )
            ]
        )
    context = [part for value in user_inputs for part in _context_words(value)]
    verdict = zxcvbn(password, user_inputs=context)
    # zxcvbn scores "grace.hopper.example" as strong because separators hide the words; judge
    # the password with its separators removed too and keep the weaker verdict.
    compact = re.sub(r"[\W_]+", "", password)
    if compact and compact != password:
        compact_verdict = zxcvbn(compact, user_inputs=context)
        if compact_verdict["score"] < verdict["score"]:
            verdict = compact_verdict
    if verdict["score"] < PASSWORD_MIN_SCORE or _mostly_personal(compact or password, context):
        feedback = verdict.get("feedback", {})
        hint = feedback.get("warning") or "This password is too easy to guess."
        suggestions = " ".join(feedback.get("suggestions", []))
        raise InvalidInput(
            [
                FieldError(
                    field=field,
                    code="password_too_weak",
                    message=f"{hint} {suggestions}".strip(),
                )
            ]
        )


def _mostly_personal(password: str, context: list[str]) -> bool:
    """True when the password is little more than the user's own name and email parts."""
    remainder = password.lower()
    for word in sorted(set(context), key=len, reverse=True):
        if len(word) >= 3:
            remainder = remainder.replace(word, "")
    return len(re.sub(r"\d", "", remainder)) < 4 and len(remainder) < 8


def _context_words(value: str) -> list[str]:
    """An email and a name, split so that 'jane.doe@x.com' also rules out 'jane' and 'doe'."""
    if not value:
        return []
    words = [value.lower()]
    for separator in ("@", ".", "-", "_", "+", " "):
        value = value.replace(separator, " ")
    words.extend(part.lower() for part in value.split() if len(part) >= 3)
    return words


# --------------------------------------------------------------------------- throttles


@dataclass(frozen=True)
class AuthRateRules:
    login_per_ip: RateRule
    token_per_ip: RateRule
    login_per_account: RateRule
    register_per_ip: RateRule
    password_reset_per_ip: RateRule
    password_reset_per_account: RateRule
    mfa_per_account: RateRule

    @classmethod
    def from_settings(cls, limits: RateLimitSettings) -> AuthRateRules:
        return cls(
            login_per_ip=RateRule("login:ip", limits.login_per_ip),
            token_per_ip=RateRule("token:ip", limits.token_per_ip),
            login_per_account=RateRule("login:account", limits.login_per_account),
            register_per_ip=RateRule("register:ip", limits.register_per_ip),
            password_reset_per_ip=RateRule("password_reset:ip", limits.password_reset_per_ip),
            password_reset_per_account=RateRule(
                "password_reset:account", limits.password_reset_per_account
            ),
            mfa_per_account=RateRule("mfa:account", limits.mfa_per_account),
        )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class IssuedSession:
    """A new session and the secrets to hand to the client (shown once, never stored)."""

    user: User
    session: UserSession
    session_token: str | None = None  # cookie mode
    csrf_token: str | None = None  # cookie mode
    access_token: str | None = None  # token mode
    access_expires_in: int | None = None
    refresh_token: str | None = None


@dataclass(frozen=True)
class MfaChallenge:
    challenge: str
    expires_in: int


LoginOutcome = IssuedSession | MfaChallenge


# --------------------------------------------------------------------------- accounts


async def create_user(
    *,
    session: AsyncSession,
    crypto: CryptoKit,
    clock: Clock,
    email: str,
    password_hash: str,
    kind: UserKind,
    role: StaffRole | None = None,
    display_name: str | None = None,
    email_verified: bool = False,
) -> User:
    users = UserRepository(session)
    normalized = normalize_email(email)
    index = email_index(crypto, normalized)
    if await users.get_by_email_index(index) is not None:
        raise EmailTaken("An account with this email already exists.")
    now = clock.now()
    user = User(
        email=normalized,
        email_index=index,
        password_hash=password_hash,
        kind=kind.value,
        role=role.value if role else None,
        display_name=display_name,
        is_active=True,
        email_verified_at=now if email_verified else None,
        password_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    return await users.add(user)


async def create_staff_user(
    *,
    session: AsyncSession,
    crypto: CryptoKit,
    clock: Clock,
    email: str,
    password_hash: str,
    role: StaffRole,
    display_name: str | None = None,
) -> User:
    return await create_user(
        session=session,
        crypto=crypto,
        clock=clock,
        email=email,
        password_hash=password_hash,
        kind=UserKind.STAFF,
        role=role,
        display_name=display_name,
        email_verified=True,
    )


class AuthService:
    """The request-scoped face of authentication: built per request from the container."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.settings = container.settings
        self.clock = container.clock
        self.crypto = container.crypto
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)
        self.throttles = LoginThrottleRepository(session)
        self._rules = AuthRateRules.from_settings(container.settings.rate_limit)

    async def throttle(self, rule: RateRule, identifier: str) -> None:
        """Per-IP and per-account throttles (429 with Retry-After). Identifiers are IPs and
        blind indexes, never raw emails."""
        await self.container.rate_limiter.hit(rule, identifier)

    # ------------------------------------------------------------------ registration

    async def register(
        self,
        *,
        email: str,
        password: str,
        first_name: str,
        last_name: str,
        client: ClientInfo,
        extra_errors: Sequence[FieldError] = (),
        screen: Callable[[], Awaitable[None]] | None = None,
    ) -> User:
        """`extra_errors`: the caller's own findings on other fields (the customer's contact
        details), reported in one answer together with the email and password errors (P1).
        `screen` runs once the input is valid, before anything is written, inside the
        credential gate (so a burst of registrations cannot hold every database connection
        while it waits for a hashing slot); it refuses by raising."""
        errors = list(extra_errors)
        try:
            normalized = normalize_email(email)
        except InvalidInput as exc:
            errors.extend(exc.errors)
            normalized = email
        try:
            validate_new_password(password, user_inputs=[normalized, first_name, last_name])
        except InvalidInput as exc:
            errors.extend(exc.errors)
        if errors:
            raise InvalidInput(errors)
        async with self.container.credential_gate.slot():
            await self.throttle(self._rules.register_per_ip, client.ip or "unknown")
            if screen is not None:
                await screen()
            password_hash = await self.container.hasher.hash(password)
        user = await create_user(
            session=self.session,
            crypto=self.crypto,
            clock=self.clock,
            email=normalized,
            password_hash=password_hash,
            kind=UserKind.CUSTOMER,
            display_name=f"{first_name} {last_name}".strip(),
        )
        await events.record(
            self.session,
            event_type=EventType.REGISTERED,
            at=self.clock.now(),
            client=client,
            user_id=user.id,
        )
        await send_verification(
            self.session, settings=self.settings, user=user, now=self.clock.now()
        )
        return user

    # ------------------------------------------------------------------ login

    async def login(
        self,
        *,
        email: str,
        password: str,
        mode: SessionMode,
        remember: bool,
        client: ClientInfo,
    ) -> LoginOutcome:
        # Everything that touches the database happens inside the gate (see ConcurrencyGate).
        async with self.container.credential_gate.slot():
            ip_rule = (
                self._rules.login_per_ip if mode is SessionMode.COOKIE else self._rules.token_per_ip
            )
            await self.throttle(ip_rule, client.ip or "unknown")
            await self.throttle(self._rules.login_per_account, email_index(self.crypto, email))
            user = await self.authenticate_password(email=email, password=password, client=client)
            if user.mfa_enabled:
                return await self._mfa_challenge(
                    user=user, mode=mode, remember=remember, client=client
                )
            return await self.start_session(
                user=user,
                mode=mode,
                auth_level=AuthLevel.PASSWORD,
                remember=remember,
                client=client,
            )

    async def _mfa_challenge(
        self, *, user: User, mode: SessionMode, remember: bool, client: ClientInfo
    ) -> MfaChallenge:
        """The password was right; the session starts only once the second factor is too."""
        now = self.clock.now()
        secret = new_token(32)
        await OneTimeTokenRepository(self.session).add(
            OneTimeToken(
                user_id=user.id,
                purpose=TokenPurpose.MFA_CHALLENGE.value,
                token_hash=token_digest(secret),
                created_at=now,
                expires_at=now + timedelta(seconds=MFA_CHALLENGE_SECONDS),
                data={"mode": mode.value, "remember": remember},
            )
        )
        await events.record(
            self.session,
            event_type=EventType.LOGIN_MFA_REQUIRED,
            at=now,
            client=client,
            user_id=user.id,
        )
        return MfaChallenge(challenge=secret, expires_in=MFA_CHALLENGE_SECONDS)

    @staticmethod
    def mfa_required_error(challenge: MfaChallenge) -> MfaRequired:
        return MfaRequired(
            "Enter the code from your authenticator app.",
            extra={"mfa_challenge": challenge.challenge, "mfa_expires_in": challenge.expires_in},
        )

    async def authenticate_password(self, *, email: str, password: str, client: ClientInfo) -> User:
        """Check a password with constant behaviour for unknown accounts, and soft lockout."""
        index = email_index(self.crypto, email)
        now = self.clock.now()
        throttle = await self.throttles.get(index)
        if throttle is not None and throttle.locked_until and throttle.locked_until > now:
            retry_after = int((throttle.locked_until - now).total_seconds()) + 1
            raise AccountLocked(retry_after=retry_after)
        user = await self.users.get_by_email_index(index)
        valid, new_hash = await self.container.hasher.verify_and_update(
            password, user.password_hash if user else None
        )
        if not valid or user is None:
            await self._record_failed_login(index=index, user=user, client=client)
            raise InvalidCredentials()
        if not user.is_active:
            raise AccountDisabled("This account is disabled; contact support.")
        if throttle is not None:
            await self.throttles.clear(index)
        if new_hash is not None:
            user.password_hash = new_hash  # parameters rose since it was hashed
        return user

    async def _record_failed_login(
        self, *, index: str, user: User | None, client: ClientInfo
    ) -> None:
        """Kept even though the request fails: its own transaction."""
        now = self.clock.now()
        locked = False
        async with self.container.database.unit_of_work() as side:
            throttles = LoginThrottleRepository(side)
            throttle = await throttles.get_for_update(index)
            if throttle is None:
                throttle = LoginThrottle(
                    email_index=index, consecutive_failures=0, locked_until=None, updated_at=now
                )
                throttles.add(throttle)
            throttle.consecutive_failures += 1
            throttle.updated_at = now
            over = throttle.consecutive_failures - LOCKOUT_THRESHOLD
            if over >= 0:
                seconds = min(LOCKOUT_BASE_SECONDS * 2**over, LOCKOUT_MAX_SECONDS)
                throttle.locked_until = now + timedelta(seconds=seconds)
                locked = True
            await events.record(
                side,
                event_type=EventType.LOGIN_FAILED,
                at=now,
                client=client,
                user_id=user.id if user else None,
                details={"consecutive_failures": throttle.consecutive_failures},
            )
            if locked and user is not None:
                await events.record(
                    side,
                    event_type=EventType.ACCOUNT_LOCKED,
                    at=now,
                    client=client,
                    user_id=user.id,
                    details={
                        "until": throttle.locked_until.isoformat()
                        if throttle.locked_until
                        else None
                    },
                )

    async def start_session(
        self,
        *,
        user: User,
        mode: SessionMode,
        auth_level: AuthLevel,
        remember: bool,
        client: ClientInfo,
    ) -> IssuedSession:
        now = self.clock.now()
        secret = new_token(32)
        row = UserSession(
            user_id=user.id,
            token_hash=token_digest(secret),
            mode=mode.value,
            auth_level=auth_level.value,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=self.settings.session.absolute_timeout),
            ip=client.ip,
            user_agent=client.user_agent,
            remember=remember,
        )
        row.user = user
        await self.sessions.add(row)
        await events.record(
            self.session,
            event_type=EventType.LOGIN_SUCCEEDED,
            at=now,
            client=client,
            user_id=user.id,
            session_id=row.id,
            details={"mode": mode.value, "auth_level": auth_level.value},
        )
        if mode is SessionMode.COOKIE:
            return IssuedSession(
                user=user,
                session=row,
                session_token=secret,
                csrf_token=self.csrf_token_for(row.id),
            )
        access_token, expires_in = self._access_token(row)
        refresh = await self._issue_refresh_token(row)
        return IssuedSession(
            user=user,
            session=row,
            access_token=access_token,
            access_expires_in=expires_in,
            refresh_token=refresh,
        )

    def _access_token(self, row: UserSession) -> tuple[str, int]:
        return self.container.tokens.encode(
            subject=str(row.user_id), session_id=str(row.id), now=self.clock.now()
        )

    async def _issue_refresh_token(self, row: UserSession) -> str:
        secret = new_token(32)
        await self.refresh_tokens.add(
            RefreshToken(
                session_id=row.id, token_hash=token_digest(secret), created_at=self.clock.now()
            )
        )
        return secret

    def csrf_token_for(self, session_id: uuid.UUID) -> str:
        return csrf_token_for(self.crypto, session_id)

    async def _check_and_touch(self, row: UserSession, *, client: ClientInfo) -> UserSession:
        """The per-request rules (`credentials.judge`) applied to an ORM row (refresh)."""
        now = self.clock.now()
        settings = self.settings.session
        verdict = judge(row, user_active=row.user.is_active, now=now, settings=settings)
        if verdict is not None:
            if verdict.end_now is not None:
                await end_independently(
                    self.container,
                    session_id=row.id,
                    user_id=row.user_id,
                    reason=verdict.end_now,
                    client=client,
                )
            raise verdict.error
        if needs_touch(row, now=now, settings=settings):
            row.last_seen_at = now
        return row

    # ------------------------------------------------------------------ refresh

    async def refresh(self, *, refresh_token: str, client: ClientInfo) -> IssuedSession:
        stored = await self.refresh_tokens.get_by_hash(token_digest(refresh_token))
        if stored is None:
            raise InvalidToken("The refresh token is not valid.")
        row = await self.sessions.get_with_user(stored.session_id)
        if row is None:
            raise InvalidToken("The refresh token is not valid.")
        if stored.used_at is not None:
            # A rotated token came back: someone holds a copy. End the whole session.
            now = self.clock.now()
            async with self.container.database.unit_of_work() as side:
                await SessionRepository(side).end(
                    row.id, reason=EndReason.REFRESH_REUSE.value, at=now
                )
                await events.record(
                    side,
                    event_type=EventType.REFRESH_REUSE_DETECTED,
                    at=now,
                    client=client,
                    user_id=row.user_id,
                    session_id=row.id,
                )
            raise SessionRevoked("This refresh token was already used; the session is ended.")
        row = await self._check_and_touch(row, client=client)
        stored.used_at = self.clock.now()
        row.last_seen_at = self.clock.now()
        access_token, expires_in = self._access_token(row)
        new_refresh = await self._issue_refresh_token(row)
        return IssuedSession(
            user=row.user,
            session=row,
            access_token=access_token,
            access_expires_in=expires_in,
            refresh_token=new_refresh,
        )

    # ------------------------------------------------------------------ ending sessions

    async def end_session(
        self,
        row: UserSession | AuthSession,
        *,
        reason: EndReason,
        client: ClientInfo,
        actor_id: uuid.UUID | None = None,
    ) -> None:
        now = self.clock.now()
        await self.sessions.end(row.id, reason=reason.value, at=now)
        await events.record(
            self.session,
            event_type=EventType.LOGOUT
            if reason is EndReason.LOGOUT
            else EventType.SESSION_REVOKED,
            at=now,
            client=client,
            user_id=row.user_id,
            actor_id=actor_id,
            session_id=row.id,
            details={"reason": reason.value},
        )

    async def end_all_sessions(
        self,
        user_id: uuid.UUID,
        *,
        reason: EndReason,
        client: ClientInfo,
        keep: uuid.UUID | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> int:
        now = self.clock.now()
        ended = await self.sessions.end_open_for_user(
            user_id, reason=reason.value, at=now, keep=keep
        )
        await events.record(
            self.session,
            event_type=EventType.LOGOUT_ALL
            if reason is EndReason.LOGOUT_ALL
            else EventType.SESSION_REVOKED,
            at=now,
            client=client,
            user_id=user_id,
            actor_id=actor_id,
            details={"reason": reason.value, "sessions_ended": ended},
        )
        return ended

    async def list_sessions(self, user_id: uuid.UUID) -> list[UserSession]:
        now = self.clock.now()
        idle = timedelta(seconds=self.settings.session.idle_timeout)
        return [
            row
            for row in await self.sessions.list_open_for_user(user_id)
            if row.expires_at > now and now - row.last_seen_at < idle
        ]

    async def revoke_own_session(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID, client: ClientInfo
    ) -> None:
        row = await self.sessions.get(session_id)
        if row is None or row.user_id != user_id or row.ended_at is not None:
            raise self.sessions.not_found("No such session.")
        await self.end_session(row, reason=EndReason.REVOKED_BY_USER, client=client)

    # ------------------------------------------------------------------ passwords

    async def change_password(
        self,
        *,
        user: User,
        current_session_id: uuid.UUID | None,
        current_password: str,
        new_password: str,
        client: ClientInfo,
    ) -> int:
        valid, _ = await self.container.hasher.verify_and_update(
            current_password, user.password_hash
        )
        if not valid:
            raise InvalidInput(
                [
                    FieldError(
                        field="body.current_password",
                        code="password_incorrect",
                        message="The current password is not correct.",
                    )
                ]
            )
        validate_new_password(
            new_password,
            user_inputs=[user.email, user.display_name or ""],
            field="body.new_password",
        )
        user.password_hash = await self.container.hasher.hash(new_password)
        now = self.clock.now()
        user.password_changed_at = now
        user.updated_at = now
        await events.record(
            self.session,
            event_type=EventType.PASSWORD_CHANGED,
            at=now,
            client=client,
            user_id=user.id,
            session_id=current_session_id,
        )
        await send_password_changed(
            self.session, settings=self.settings, user=user, now=now, how="changed"
        )
        return await self.end_all_sessions(
            user.id, reason=EndReason.PASSWORD_CHANGED, client=client, keep=current_session_id
        )
