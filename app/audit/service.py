"""The audit trail (P10) and the staff data-access log (P13).

Every change to a customer's record lands here with who, when, from where and which fields;
old and new values are masked first (`mask`), so the trail proves that something changed
without becoming a second copy of the personal data it audits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams
from app.core.repository import Repository
from app.models.audit import AuditEntry, DataAccess


class ActorKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    API_KEY = "api_key"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who acted: a signed-in user (customer or staff), an integration's key, or a job."""

    kind: ActorKind
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    ip: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(kind=ActorKind.SYSTEM)


def mask(value: Any) -> Any:
    """Keep the shape, hide the content: `jane@example.com` → `j***@e***.com`,
    `+4930123456` → `+4***56`, `Berlin` → `B***n`. Booleans, numbers and None pass."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if "@" in text:
        local, _, domain = text.partition("@")
        name, dot, tld = domain.rpartition(".")
        masked_domain = f"{name[:1]}***{dot}{tld}" if dot else f"{domain[:1]}***"
        return f"{local[:1]}***@{masked_domain}"
    if len(text) <= 2:
        return "***"
    if len(text) <= 5:
        return f"{text[0]}***"
    return f"{text[:2]}***{text[-2:]}" if text[0] == "+" else f"{text[0]}***{text[-1]}"


def masked_changes(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {
        field: {"old": mask(old), "new": mask(new)}
        for field, (old, new) in changes.items()
        if old != new
    }


async def record_change(
    session: AsyncSession,
    *,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    actor: Actor,
    at: datetime,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
) -> AuditEntry | None:
    """Record within the caller's transaction. An update that changed nothing records nothing."""
    masked = masked_changes(changes or {})
    if changes is not None and not masked and action == "updated":
        return None
    entry = AuditEntry(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_id=actor.user_id,
        actor_kind=actor.kind.value,
        api_key_id=actor.api_key_id,
        ip=actor.ip,
        changes=masked,
        created_at=at,
    )
    session.add(entry)
    return entry


async def record_data_access(
    session: AsyncSession, *, customer_id: uuid.UUID, actor: Actor, purpose: str, at: datetime
) -> None:
    """A staff member or integration opened a customer's personal data (P13)."""
    session.add(
        DataAccess(
            customer_id=customer_id,
            actor_id=actor.user_id,
            api_key_id=actor.api_key_id,
            purpose=purpose,
            ip=actor.ip,
            created_at=at,
        )
    )


class AuditRepository(Repository[AuditEntry]):
    model = AuditEntry

    async def for_entity(
        self, *, entity_type: str, entity_id: uuid.UUID, page: PageParams
    ) -> tuple[Sequence[AuditEntry], str | None]:
        statement = select(AuditEntry).where(
            AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id
        )
        return await self.paginate(statement, page=page)


class DataAccessRepository(Repository[DataAccess]):
    model = DataAccess

    async def listing(
        self,
        *,
        page: PageParams,
        customer_id: uuid.UUID | None = None,
        actor_id: uuid.UUID | None = None,
        api_key_id: uuid.UUID | None = None,
    ) -> tuple[Sequence[DataAccess], str | None]:
        statement = select(DataAccess)
        if customer_id is not None:
            statement = statement.where(DataAccess.customer_id == customer_id)
        if actor_id is not None:
            statement = statement.where(DataAccess.actor_id == actor_id)
        if api_key_id is not None:
            statement = statement.where(DataAccess.api_key_id == api_key_id)
        return await self.paginate(statement, page=page)
