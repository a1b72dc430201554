"""Second-factor authentication: enrolment, verification, recovery codes, login completion.

Choices worth knowing:

- A code is accepted once: the matched time step is stored in `users.totp_last_step` with a
  compare-and-set, and only a later step is accepted afterwards (so, of the ±1 step drift
  window, a code can never be used twice, not even by two concurrent requests).
- Failures (wrong code, replayed code) are recorded in a transaction of their own, because the
  request then fails and rolls back. Nothing is written in the request's transaction before a
  factor is verified, so on SQLite the independent write never waits for the request's lock.
- Enabling MFA keeps the user's other sessions as they are and upgrades none of them, the
  current one included: `auth_level` says how a session *started*, and the only way to an
  MFA-level session is the sign-in ceremony (password, then code). The current session already
  proved the password (re-entered at enrol) and the code (at confirm), so ending the others
  would add nothing they could not get back with the same password; the user can still end
  them with /auth/logout-all or DELETE /auth/sessions/{id}.
- Disabling MFA ends every other session (`mfa_changed`): whoever turns the factor off from a
  stolen session must not keep the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.errors import AccountDisabled
from app.auth.service import AuthRateRules, AuthService, IssuedSession
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.errors import FieldError, InvalidInput
from app.core.security import token_digest
from app.mfa import totp
from app.mfa.errors import (
    MfaAlreadyEnabled,
    MfaChallengeInvalid,
    MfaChallengeModeMismatch,
    MfaCodeInvalid,
    MfaCodeReplayed,
    MfaEnrollmentNotStarted,
    MfaNotEnabled,
)
from app.mfa.repository import MfaChallengeRepository, MfaUserRepository, RecoveryCodeRepository
from app.models.security import TokenPurpose
from app.models.session import AuthLevel, EndReason, SessionMode
from app.models.user import User
from app.security_events import service as events
from app.security_events.service import EventType


class SecondFactor(StrEnum):
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


class Purpose(StrEnum):
    """What a code was presented for (kept in the event details)."""

    LOGIN = "login"
    CONFIRM = "confirm"
    DISABLE = "disable"
    REGENERATE = "regenerate"


@dataclass(frozen=True)
class TotpEnrollment:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class MfaStatus:
    enabled: bool
    enabled_at: datetime | None
    pending: bool
    recovery_codes_remaining: int


@dataclass(frozen=True)
class MfaEnabled:
    enabled_at: datetime
    recovery_codes: list[str]


class MfaService:
    """Request-scoped, like `AuthService`, which it uses for throttles and sessions."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.auth = AuthService(session=session, container=container)
        self.users = MfaUserRepository(session)
        self.recovery_codes = RecoveryCodeRepository(session)
        self.challenges = MfaChallengeRepository(session)
        self._rule = AuthRateRules.from_settings(container.settings.rate_limit).mfa_per_account

    # ------------------------------------------------------------------ status and enrolment

    async def status(self, user: User) -> MfaStatus:
        remaining = await self.recovery_codes.count_unused(user.id) if user.mfa_enabled else 0
        return MfaStatus(
            enabled=user.mfa_enabled,
            enabled_at=user.totp_enabled_at,
            pending=user.totp_secret is not None and not user.mfa_enabled,
            recovery_codes_remaining=remaining,
        )

    async def enroll_totp(self, user: User, *, password: str) -> TotpEnrollment:
        """A new pending secret (replacing any earlier pending one); P11 re-authentication."""
        if user.mfa_enabled:
            raise MfaAlreadyEnabled(
                "Turn two-factor authentication off before enrolling another authenticator."
            )
        await self._throttle(user.id)
        await self._check_password(user, password)
        secret = totp.new_secret()
        user.totp_secret = secret  # encrypted at rest by the column type
        user.totp_last_step = None
        user.updated_at = self.clock.now()
        uri = totp.provisioning_uri(secret, account_name=user.email)
        # Rendering the QR code takes some milliseconds of CPU: off the event loop.
        svg = await anyio.to_thread.run_sync(totp.qr_svg, uri)
        return TotpEnrollment(secret=secret, otpauth_uri=uri, qr_svg=svg)

    async def confirm_totp(
        self, user: User, *, code: str, client: ClientInfo, session_id: UUID | None
    ) -> MfaEnabled:
        if user.mfa_enabled:
            raise MfaAlreadyEnabled("Two-factor authentication is already on.")
        if user.totp_secret is None:
            raise MfaEnrollmentNotStarted("Start with POST /api/v1/mfa/totp/enroll.")
        await self._throttle(user.id)
        await self._verify_totp(
            user, code, purpose=Purpose.CONFIRM, client=client, session_id=session_id
        )
        now = self.clock.now()
        user.totp_enabled_at = now
        user.updated_at = now
        codes = await self._issue_recovery_codes(user)
        await events.record(
            self.session,
            event_type=EventType.MFA_ENABLED,
            at=now,
            client=client,
            user_id=user.id,
            session_id=session_id,
            details={"method": SecondFactor.TOTP.value},
        )
        return MfaEnabled(enabled_at=now, recovery_codes=codes)

    async def disable_totp(
        self,
        user: User,
        *,
        password: str,
        code: str,
        client: ClientInfo,
        session_id: UUID | None,
    ) -> int:
        """Password and a code (TOTP or recovery); ends every other session of the user."""
        if not user.mfa_enabled:
            raise MfaNotEnabled("Two-factor authentication is not on.")
        await self._throttle(user.id)
        await self._check_password(user, password)
        method = await self._verify_any_code(
            user, code, purpose=Purpose.DISABLE, client=client, session_id=session_id
        )
        now = self.clock.now()
        user.totp_secret = None
        user.totp_enabled_at = None
        user.totp_last_step = None
        user.updated_at = now
        await self.recovery_codes.delete_for_user(user.id)
        await self.challenges.invalidate_open(
            user.id, purpose=TokenPurpose.MFA_CHALLENGE.value, at=now
        )
        await events.record(
            self.session,
            event_type=EventType.MFA_DISABLED,
            at=now,
            client=client,
            user_id=user.id,
            session_id=session_id,
            details={"verified_with": method.value},
        )
        return await self.auth.end_all_sessions(
            user.id, reason=EndReason.MFA_CHANGED, client=client, keep=session_id
        )

    async def regenerate_recovery_codes(
        self,
        user: User,
        *,
        password: str,
        code: str,
        client: ClientInfo,
        session_id: UUID | None,
    ) -> list[str]:
        """A new set of ten; every earlier code, used or not, stops working."""
        if not user.mfa_enabled:
            raise MfaNotEnabled("Two-factor authentication is not on.")
        await self._throttle(user.id)
        await self._check_password(user, password)
        method = await self._verify_any_code(
            user, code, purpose=Purpose.REGENERATE, client=client, session_id=session_id
        )
        codes = await self._issue_recovery_codes(user)
        await events.record(
            self.session,
            event_type=EventType.RECOVERY_CODES_REGENERATED,
            at=self.clock.now(),
            client=client,
            user_id=user.id,
            session_id=session_id,
            details={"verified_with": method.value},
        )
        return codes

    # ------------------------------------------------------------------ login completion

    async def complete_login(
        self,
        *,
        challenge: str,
        mode: SessionMode,
        code: str | None,
        recovery_code: str | None,
        client: ClientInfo,
    ) -> IssuedSession:
        """Turn the challenge `AuthService.login` issued into an MFA-level session."""
        now = self.clock.now()
        row = await self.challenges.get_by_hash(
            token_digest(challenge), purpose=TokenPurpose.MFA_CHALLENGE.value
        )
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise MfaChallengeInvalid(
                "This sign-in expired or was already completed; sign in again."
            )
        challenge_mode = row.data.get("mode")
        if challenge_mode != mode.value:
            token_mode = challenge_mode == SessionMode.TOKEN.value
            endpoint = "/auth/token/mfa" if token_mode else "/auth/login/mfa"
            raise MfaChallengeModeMismatch(f"Complete this sign-in at {endpoint}.")
        await self._throttle(row.user_id)
        user = await self.users.get(row.user_id)
        changed = user.password_changed_at if user is not None else None
        if user is None or not user.mfa_enabled or (changed and changed > row.created_at):
            # MFA was turned off, or the password changed, since the password was checked.
            raise MfaChallengeInvalid("This sign-in is no longer valid; sign in again.")
        if not user.is_active:
            raise AccountDisabled("This account is disabled; contact support.")
        if code is not None:
            await self._verify_totp(
                user, code, purpose=Purpose.LOGIN, client=client, session_id=None
            )
        elif recovery_code is not None:
            await self._verify_recovery_code(
                user, recovery_code, purpose=Purpose.LOGIN, client=client, session_id=None
            )
        else:
            raise MfaCodeInvalid("Give a code from the app or a recovery code.")
        if not await self.challenges.consume(row.id, at=now):
            raise MfaChallengeInvalid("This sign-in was already completed; sign in again.")
        return await self.auth.start_session(
            user=user,
            mode=mode,
            auth_level=AuthLevel.MFA,
            remember=bool(row.data.get("remember")) and mode is SessionMode.COOKIE,
            client=client,
        )

    # ------------------------------------------------------------------ verification

    async def _throttle(self, user_id: UUID) -> None:
        """Every attempt that checks a secret counts, per account, across all MFA routes."""
        await self.auth.throttle(self._rule, f"user:{user_id}")

    async def _check_password(self, user: User, password: str) -> None:
        valid, new_hash = await self.container.hasher.verify_and_update(
            password, user.password_hash
        )
        if not valid:
            raise InvalidInput(
                [
                    FieldError(
                        field="body.password",
                        code="password_incorrect",
                        message="The password is not correct.",
                    )
                ]
            )
        if new_hash is not None:
            user.password_hash = new_hash

    async def _verify_any_code(
        self,
        user: User,
        code: str,
        *,
        purpose: Purpose,
        client: ClientInfo,
        session_id: UUID | None,
    ) -> SecondFactor:
        """One field for either factor (disable, regenerate): six digits are a TOTP code,
        anything else is read as a recovery code."""
        if totp.looks_like_totp_code(code):
            await self._verify_totp(
                user, code, purpose=purpose, client=client, session_id=session_id
            )
            return SecondFactor.TOTP
        await self._verify_recovery_code(
            user, code, purpose=purpose, client=client, session_id=session_id
        )
        return SecondFactor.RECOVERY_CODE

    async def _verify_totp(
        self,
        user: User,
        code: str,
        *,
        purpose: Purpose,
        client: ClientInfo,
        session_id: UUID | None,
    ) -> None:
        secret = user.totp_secret
        match = (
            totp.match_totp(secret, code, now=self.clock.now())
            if secret is not None and totp.looks_like_totp_code(code)
            else totp.TotpMatch(steps=())
        )
        step = match.fresh_step(user.totp_last_step)
        if step is None:
            await self._record_failure(
                user.id,
                replayed=match.matched,
                method=SecondFactor.TOTP,
                purpose=purpose,
                client=client,
                session_id=session_id,
            )
            if match.matched:
                raise MfaCodeReplayed("This code was already used; wait for the next one.")
            raise MfaCodeInvalid("The code is not correct.")
        if not await self.users.advance_totp_step(user.id, step):
            # A concurrent request accepted this step first (PostgreSQL; on SQLite the loser
            # fails on its stale snapshot before it gets here).
            await self._record_failure(
                user.id,
                replayed=True,
                method=SecondFactor.TOTP,
                purpose=purpose,
                client=client,
                session_id=session_id,
            )
            raise MfaCodeReplayed("This code was already used; wait for the next one.")
        set_committed_value(user, "totp_last_step", step)

    async def _verify_recovery_code(
        self,
        user: User,
        code: str,
        *,
        purpose: Purpose,
        client: ClientInfo,
        session_id: UUID | None,
    ) -> None:
        digest = totp.recovery_code_digest(self.container.crypto.blind_index, code)
        row = await self.recovery_codes.find(user.id, digest)
        now = self.clock.now()
        if (
            row is None
            or row.used_at is not None
            or not await self.recovery_codes.consume(row.id, at=now)
        ):
            replayed = row is not None
            await self._record_failure(
                user.id,
                replayed=replayed,
                method=SecondFactor.RECOVERY_CODE,
                purpose=purpose,
                client=client,
                session_id=session_id,
            )
            if replayed:
                raise MfaCodeReplayed("This recovery code was already used.")
            raise MfaCodeInvalid("The recovery code is not correct.")
        remaining = await self.recovery_codes.count_unused(user.id)
        await events.record(
            self.session,
            event_type=EventType.RECOVERY_CODE_USED,
            at=now,
            client=client,
            user_id=user.id,
            session_id=session_id,
            details={"purpose": purpose.value, "remaining": remaining},
        )

    async def _record_failure(
        self,
        user_id: UUID,
        *,
        replayed: bool,
        method: SecondFactor,
        purpose: Purpose,
        client: ClientInfo,
        session_id: UUID | None,
    ) -> None:
        """Kept although the request fails: a transaction of its own."""
        await events.record_independently(
            self.container.database,
            event_type=EventType.MFA_REPLAY_REJECTED if replayed else EventType.MFA_FAILED,
            at=self.clock.now(),
            client=client,
            user_id=user_id,
            session_id=session_id,
            details={"method": method.value, "purpose": purpose.value},
        )

    async def _issue_recovery_codes(self, user: User) -> list[str]:
        codes = totp.new_recovery_codes()
        blind_index = self.container.crypto.blind_index
        await self.recovery_codes.replace_for_user(
            user.id,
            [totp.recovery_code_digest(blind_index, code) for code in codes],
            at=self.clock.now(),
        )
        return codes
