"""Queries for staff administration of users (filters over the users table)."""

from __future__ import annotations

from sqlalchemy import Select

from app.auth.repository import UserRepository
from app.models.user import StaffRole, User, UserKind


class UserAdminRepository(UserRepository):
    def filtered(
        self,
        *,
        kind: UserKind | None = None,
        role: StaffRole | None = None,
        is_active: bool | None = None,
    ) -> Select[tuple[User]]:
        statement = self.select()
        if kind is not None:
            statement = statement.where(User.kind == kind.value)
        if role is not None:
            statement = statement.where(User.role == role.value)
        if is_active is not None:
            statement = statement.where(User.is_active.is_(is_active))
        return statement
