"""Plain factory functions that build rows through the same services the API uses."""

from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import create_staff_user
from app.core.container import Container
from app.models.user import StaffRole, User

_counter = itertools.count(1)

# A fixed pre-computed hash keeps factories fast; login tests hash real passwords.
PLACEHOLDER_HASH = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$5Vp0pE2tGJx0CjWcY7o8yQ"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}@example.com"


async def make_staff(
    session: AsyncSession,
    container: Container,
    *,
    email: str | None = None,
    role: StaffRole = StaffRole.ADMIN,
    password_hash: str = PLACEHOLDER_HASH,
) -> User:
    return await create_staff_user(
        session=session,
        crypto=container.crypto,
        clock=container.clock,
        email=email or unique_email("staff"),
        password_hash=password_hash,
        role=role,
    )
