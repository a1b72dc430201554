"""Queries for second factors: the TOTP step on users, recovery codes, login challenges.

Every "use once" write is a compare-and-set (`UPDATE … WHERE <still unused>`), and the caller
checks that exactly one row changed: two concurrent requests presenting the same code or the
same challenge cannot both succeed, on SQLite or PostgreSQL, without any explicit lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult

from app.auth.repository import OneTimeTokenRepository, UserRepository
from app.core.repository import Repository
from app.models.security import OneTimeToken, RecoveryCode
from app.models.user import User


def _changed(result: object) -> int:
    if isinstance(result, CursorResult):
        return int(result.rowcount)
    raise TypeError("an UPDATE or DELETE returns a CursorResult")


class MfaUserRepository(UserRepository):
    async def advance_totp_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Store `step` as the last accepted one, only if it is newer than the stored one."""
        result = await self.session.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1


class RecoveryCodeRepository(Repository[RecoveryCode]):
    model = RecoveryCode

    async def find(self, user_id: uuid.UUID, code_hash: str) -> RecoveryCode | None:
        statement = select(RecoveryCode).where(
            RecoveryCode.user_id == user_id, RecoveryCode.code_hash == code_hash
        )
        return (await self.session.scalars(statement)).first()

    async def consume(self, code_id: uuid.UUID, *, at: datetime) -> bool:
        result = await self.session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.id == code_id, RecoveryCode.used_at.is_(None))
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    async def count_unused(self, user_id: uuid.UUID) -> int:
        statement = select(func.count()).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def delete_for_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(RecoveryCode)
            .where(RecoveryCode.user_id == user_id)
            .execution_options(synchronize_session=False)
        )

    async def replace_for_user(
        self, user_id: uuid.UUID, code_hashes: Sequence[str], *, at: datetime
    ) -> None:
        await self.delete_for_user(user_id)
        self.session.add_all(
            RecoveryCode(user_id=user_id, code_hash=code_hash, created_at=at)
            for code_hash in code_hashes
        )
        await self.session.flush()


class MfaChallengeRepository(OneTimeTokenRepository):
    async def consume(self, token_id: uuid.UUID, *, at: datetime) -> bool:
        result = await self.session.execute(
            update(OneTimeToken)
            .where(OneTimeToken.id == token_id, OneTimeToken.used_at.is_(None))
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1
