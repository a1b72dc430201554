"""Queries for users, sessions, refresh tokens, one-time tokens and login throttles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.core.errors import NotFound
from app.core.repository import Repository
from app.models.security import LoginThrottle, OneTimeToken
from app.models.session import RefreshToken, UserSession
from app.models.user import User


class UserNotFound(NotFound):
    code = "user_not_found"


class SessionNotFound(NotFound):
    code = "session_not_found"


class UserRepository(Repository[User]):
    model = User
    not_found = UserNotFound

    async def get_by_email_index(self, email_index: str) -> User | None:
        result = await self.session.scalars(select(User).where(User.email_index == email_index))
        return result.first()


# The two statements every authenticated request runs, built once: their cache keys are
# memoised on the objects, so a request pays neither construction nor key generation.
_SESSION_WITH_USER_BY_TOKEN = (
    select(UserSession)
    .options(joinedload(UserSession.user))
    .where(UserSession.token_hash == bindparam("token_hash"))
)
_SESSION_WITH_USER_BY_ID = (
    select(UserSession)
    .options(joinedload(UserSession.user))
    .where(UserSession.id == bindparam("session_id"))
)


class SessionRepository(Repository[UserSession]):
    model = UserSession
    not_found = SessionNotFound

    async def get_with_user_by_token_hash(self, token_hash: str) -> UserSession | None:
        result = await self.session.scalars(_SESSION_WITH_USER_BY_TOKEN, {"token_hash": token_hash})
        return result.first()

    async def get_with_user(self, session_id: uuid.UUID) -> UserSession | None:
        result = await self.session.scalars(_SESSION_WITH_USER_BY_ID, {"session_id": session_id})
        return result.first()

    async def list_open_for_user(self, user_id: uuid.UUID) -> Sequence[UserSession]:
        statement = (
            select(UserSession)
            .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
            .order_by(UserSession.id.desc())
        )
        return (await self.session.scalars(statement)).all()

    async def end_open_for_user(
        self,
        user_id: uuid.UUID,
        *,
        reason: str,
        at: datetime,
        keep: uuid.UUID | None = None,
    ) -> int:
        statement = (
            update(UserSession)
            .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
            .execution_options(synchronize_session=False)
        )
        if keep is not None:
            statement = statement.where(UserSession.id != keep)
        result = await self.session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def end(self, session_id: uuid.UUID, *, reason: str, at: datetime) -> None:
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
            .execution_options(synchronize_session=False)
        )


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        return (await self.session.scalars(statement)).first()


class OneTimeTokenRepository(Repository[OneTimeToken]):
    model = OneTimeToken

    async def get_by_hash(self, token_hash: str, *, purpose: str) -> OneTimeToken | None:
        statement = select(OneTimeToken).where(
            OneTimeToken.token_hash == token_hash, OneTimeToken.purpose == purpose
        )
        return (await self.session.scalars(statement)).first()

    async def use(self, token_id: uuid.UUID, *, at: datetime) -> bool:
        """Mark used if still unused, atomically: of two concurrent uses only one wins."""
        result = await self.session.execute(
            update(OneTimeToken)
            .where(OneTimeToken.id == token_id, OneTimeToken.used_at.is_(None))
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def invalidate_open(self, user_id: uuid.UUID, *, purpose: str, at: datetime) -> None:
        await self.session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.user_id == user_id,
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
            )
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )


class LoginThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, email_index: str) -> LoginThrottle | None:
        return await self.session.get(LoginThrottle, email_index)

    async def get_for_update(self, email_index: str) -> LoginThrottle | None:
        statement = (
            select(LoginThrottle).where(LoginThrottle.email_index == email_index).with_for_update()
        )
        return (await self.session.scalars(statement)).first()

    def add(self, throttle: LoginThrottle) -> None:
        self.session.add(throttle)

    async def clear(self, email_index: str) -> None:
        await self.session.execute(
            delete(LoginThrottle).where(LoginThrottle.email_index == email_index)
        )
