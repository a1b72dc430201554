"""Staff administration of users: read (logged, P13), disable/enable, end sessions, and
create staff accounts. Every change records who made it (actor_id = the staff member)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.auth.service import AuthService, create_staff_user, normalize_email, validate_new_password
from app.auth.session_store import AuthUser
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.errors import Conflict
from app.core.pagination import PageParams
from app.models.session import EndReason
from app.models.user import StaffRole, User, UserKind
from app.security_events import service as events
from app.security_events.access import record_staff_access
from app.security_events.service import EventType
from app.users.repository import UserAdminRepository


class CannotDisableSelf(Conflict):
    code = "cannot_disable_self"
    title = "You cannot disable your own account"


@dataclass(frozen=True)
class UserFilters:
    kind: UserKind | None = None
    role: StaffRole | None = None
    is_active: bool | None = None

    def as_details(self) -> dict[str, str | bool]:
        values: dict[str, str | bool | None] = {
            "kind": self.kind.value if self.kind else None,
            "role": self.role.value if self.role else None,
            "is_active": self.is_active,
        }
        return {key: value for key, value in values.items() if value is not None}


class UsersService:
    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.users = UserAdminRepository(session)

    # ------------------------------------------------------------------ reading (logged)

    async def list_users(
        self, *, reader: Principal, filters: UserFilters, page: PageParams, client: ClientInfo
    ) -> tuple[Sequence[User], str | None]:
        statement = self.users.filtered(
            kind=filters.kind, role=filters.role, is_active=filters.is_active
        )
        rows, next_cursor = await self.users.paginate(statement, page=page)
        await record_staff_access(
            self.session,
            reader=reader,
            at=self.clock.now(),
            client=client,
            user_id=None,
            details={
                "resource": "users",
                "filters": filters.as_details(),
                "count": len(rows),
                # Whose records were shown, so "who saw my data" has an answer.
                "user_ids": [str(row.id) for row in rows],
            },
        )
        return rows, next_cursor

    async def get_user(self, *, reader: Principal, user_id: uuid.UUID, client: ClientInfo) -> User:
        user = await self.users.get_or_raise(user_id)
        await record_staff_access(
            self.session,
            reader=reader,
            at=self.clock.now(),
            client=client,
            user_id=user.id,
            details={"resource": "user"},
        )
        return user

    # ------------------------------------------------------------------ changes

    async def disable_user(
        self, *, actor: AuthUser, user_id: uuid.UUID, client: ClientInfo
    ) -> User:
        """Ends every session at once; idempotent (a disabled user is left as it is)."""
        if user_id == actor.id:
            raise CannotDisableSelf("An administrator cannot disable their own account.")
        user = await self.users.get_or_raise(user_id)
        if not user.is_active:
            return user
        now = self.clock.now()
        user.is_active = False
        user.disabled_at = now
        user.updated_at = now
        await self.users.add(user)
        ended = await AuthService(session=self.session, container=self.container).end_all_sessions(
            user.id, reason=EndReason.USER_DISABLED, client=client, actor_id=actor.id
        )
        await events.record(
            self.session,
            event_type=EventType.USER_DISABLED,
            at=now,
            client=client,
            user_id=user.id,
            actor_id=actor.id,
            details={"sessions_ended": ended},
        )
        return user

    async def enable_user(self, *, actor: AuthUser, user_id: uuid.UUID, client: ClientInfo) -> User:
        """Idempotent. Sessions ended by disabling stay ended: the user signs in again."""
        user = await self.users.get_or_raise(user_id)
        if user.is_active:
            return user
        now = self.clock.now()
        user.is_active = True
        user.disabled_at = None
        user.updated_at = now
        await self.users.add(user)
        await events.record(
            self.session,
            event_type=EventType.USER_ENABLED,
            at=now,
            client=client,
            user_id=user.id,
            actor_id=actor.id,
        )
        return user

    async def end_sessions(self, *, actor: AuthUser, user_id: uuid.UUID, client: ClientInfo) -> int:
        user = await self.users.get_or_raise(user_id)
        return await AuthService(session=self.session, container=self.container).end_all_sessions(
            user.id, reason=EndReason.REVOKED_BY_STAFF, client=client, actor_id=actor.id
        )

    async def create_staff(
        self,
        *,
        actor: AuthUser,
        email: str,
        password: str,
        role: StaffRole,
        display_name: str | None,
        client: ClientInfo,
    ) -> User:
        normalized = normalize_email(email, field="body.email")
        validate_new_password(
            password, user_inputs=[normalized, display_name or ""], field="body.password"
        )
        password_hash = await self.container.hasher.hash(password)
        user = await create_staff_user(
            session=self.session,
            crypto=self.container.crypto,
            clock=self.clock,
            email=normalized,
            password_hash=password_hash,
            role=role,
            display_name=display_name,
        )
        await events.record(
            self.session,
            event_type=EventType.REGISTERED,
            at=self.clock.now(),
            client=client,
            user_id=user.id,
            actor_id=actor.id,
            details={"kind": UserKind.STAFF.value, "role": role.value},
        )
        return user
