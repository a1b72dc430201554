"""The credential check every authenticated request runs: session cookie or access token in,
a live session and its user out, or the precise reason it is not live.

Reads go through the `SessionStore` (one round trip); the rare writes (a last-seen stamp at
most once per touch interval, the end of a timed-out session) are single statements or short
transactions of their own, so a read-only request stays a read.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from app.auth.errors import (
    AuthenticationRequired,
    InvalidToken,
    SessionEnded,
    SessionExpired,
    SessionRevoked,
)
from app.auth.repository import SessionRepository
from app.auth.session_store import AuthSession, AuthUser
from app.core.client import ClientInfo
from app.core.config import SessionSettings
from app.core.container import Container
from app.core.crypto import CryptoKit
from app.core.security import TokenError, token_digest
from app.models.session import EndReason, SessionMode
from app.security_events import service as events
from app.security_events.service import EventType


class SessionTimes(Protocol):
    """What the timeout rules read; both the ORM row and the snapshot have it."""

    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def end_reason(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...


@dataclass(frozen=True)
class Verdict:
    """Why a session is not live: the error to answer, and the end to record if it is new."""

    error: AuthenticationRequired
    end_now: EndReason | None = None


def judge(
    session: SessionTimes, *, user_active: bool, now: datetime, settings: SessionSettings
) -> Verdict | None:
    """The security timeout rules (P23), in one place. None means the session is live."""
    if session.ended_at is not None:
        if session.end_reason == EndReason.IDLE_TIMEOUT.value:
            return Verdict(SessionExpired())
        if session.end_reason == EndReason.ABSOLUTE_TIMEOUT.value:
            return Verdict(SessionEnded())
        return Verdict(SessionRevoked())
    if now >= session.expires_at:
        return Verdict(
            SessionEnded("Your session reached its maximum length; sign in again."),
            end_now=EndReason.ABSOLUTE_TIMEOUT,
        )
    if now - session.last_seen_at >= timedelta(seconds=settings.idle_timeout):
        minutes = settings.idle_timeout // 60
        return Verdict(
            SessionExpired(f"You were signed out after {minutes} minutes of inactivity."),
            end_now=EndReason.IDLE_TIMEOUT,
        )
    if not user_active:
        return Verdict(SessionRevoked("This account is disabled."))
    return None


def needs_touch(session: SessionTimes, *, now: datetime, settings: SessionSettings) -> bool:
    """Write last_seen at most once per touch interval: reads stay reads."""
    return now - session.last_seen_at >= timedelta(seconds=settings.touch_interval)


def csrf_token_for(crypto: CryptoKit, session_id: uuid.UUID) -> str:
    """Bound to the session by HMAC: nothing to store, impossible to guess."""
    return crypto.hmac_hex(str(session_id), purpose="csrf")


def csrf_token_matches(crypto: CryptoKit, session_id: uuid.UUID, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_token_for(crypto, session_id), presented)


async def end_independently(
    container: Container,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    reason: EndReason,
    client: ClientInfo,
) -> None:
    """The request is about to fail with 401; the end of the session must still be kept."""
    now = container.clock.now()
    async with container.database.unit_of_work() as side:
        await SessionRepository(side).end(session_id, reason=reason.value, at=now)
        await events.record(
            side,
            event_type=EventType.SESSION_EXPIRED,
            at=now,
            client=client,
            user_id=user_id,
            session_id=session_id,
            details={"reason": reason.value},
        )


class CredentialChecker:
    def __init__(self, container: Container) -> None:
        self.container = container

    async def from_session_token(
        self, token: str, *, client: ClientInfo
    ) -> tuple[AuthSession, AuthUser]:
        found = await self.container.session_store.find_by_token_hash(token_digest(token))
        if found is None or found[0].mode != SessionMode.COOKIE.value:
            raise InvalidToken("The session is not known.")
        return await self._live(found, client=client)

    async def from_access_token(
        self, token: str, *, client: ClientInfo
    ) -> tuple[AuthSession, AuthUser]:
        try:
            claims = self.container.tokens.decode(token, now=self.container.clock.now())
            session_id = uuid.UUID(str(claims["sid"]))
        except (TokenError, ValueError) as exc:
            raise InvalidToken("The access token is not valid.") from exc
        found = await self.container.session_store.find_by_id(session_id)
        if found is None or str(found[0].user_id) != str(claims["sub"]):
            raise InvalidToken("The access token is not valid.")
        return await self._live(found, client=client)

    async def _live(
        self, found: tuple[AuthSession, AuthUser], *, client: ClientInfo
    ) -> tuple[AuthSession, AuthUser]:
        session, user = found
        now = self.container.clock.now()
        settings = self.container.settings.session
        verdict = judge(session, user_active=user.is_active, now=now, settings=settings)
        if verdict is not None:
            if verdict.end_now is not None:
                await end_independently(
                    self.container,
                    session_id=session.id,
                    user_id=session.user_id,
                    reason=verdict.end_now,
                    client=client,
                )
            raise verdict.error
        if needs_touch(session, now=now, settings=settings):
            await self.container.session_store.touch(session.id, at=now)
        return session, user
