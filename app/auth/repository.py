"""Queries for users."""

from __future__ import annotations

from sqlalchemy import select

from app.core.errors import NotFound
from app.core.repository import Repository
from app.models.user import User


class UserNotFound(NotFound):
    code = "user_not_found"


class UserRepository(Repository[User]):
    model = User
    not_found = UserNotFound

    async def get_by_email_index(self, email_index: str) -> User | None:
        result = await self.session.scalars(select(User).where(User.email_index == email_index))
        return result.first()
