"""Customers' hosting services: reading them (own or, for staff, everyone's), staff status
changes (audited, P10), and the order side's opening, activation and cancellation.

Status machine (`POST /services/{id}/…`):

    pending ──activate (order paid)──▶ active ◀──unsuspend── suspended
       │                               │  └────suspend────▶     │
       └────────cancel─────────────────┴──cancel/terminate──────┘──▶ cancelled / terminated

`terminated` and `cancelled` are final; both stamp `ended_at`. A reason given by staff may name
people, so it is kept as an encrypted internal note on the customer, not in the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, record_change
from app.auth.principal import Principal
from app.billing.access import BillingViewer
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.errors import Conflict
from app.core.pagination import PageParams
from app.customers.admin_service import CustomerAdminService, actor_of
from app.hosting.repository import ServiceFilter, ServiceRepository
from app.models.order import Service, ServiceStatus

ENTITY = "service"


class ServiceStateConflict(Conflict):
    code = "service_state_conflict"
    title = "The service is not in a state that allows this"


class ServiceAction(StrEnum):
    SUSPEND = "suspended"
    UNSUSPEND = "unsuspended"
    TERMINATE = "terminated"
    CANCEL = "cancelled"


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[ServiceAction, tuple[frozenset[ServiceStatus], ServiceStatus]] = {
    ServiceAction.SUSPEND: (frozenset({ServiceStatus.ACTIVE}), ServiceStatus.SUSPENDED),
    ServiceAction.UNSUSPEND: (frozenset({ServiceStatus.SUSPENDED}), ServiceStatus.ACTIVE),
    ServiceAction.TERMINATE: (
        frozenset({ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED}),
        ServiceStatus.TERMINATED,
    ),
    ServiceAction.CANCEL: (
        frozenset({ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED}),
        ServiceStatus.CANCELLED,
    ),
}
FINAL = frozenset({ServiceStatus.TERMINATED, ServiceStatus.CANCELLED})


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


class HostingService:
    """Request-scoped: built per request from the session and the container."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.services = ServiceRepository(session)

    # ------------------------------------------------------------------ reading

    async def get(self, service_id: uuid.UUID, *, viewer: BillingViewer) -> Service:
        """Another customer's service is 404, as if it did not exist."""
        return await self.services.get_readable(service_id, viewer=viewer)

    async def page(
        self, *, viewer: BillingViewer, search: ServiceFilter, page: PageParams
    ) -> tuple[Sequence[Service], str | None]:
        """Newest first; one statement whatever the page size."""
        return await self.services.page(viewer=viewer, search=search, page=page)

    # ------------------------------------------------------------------ staff changes

    async def change_status(
        self,
        *,
        service_id: uuid.UUID,
        action: ServiceAction,
        principal: Principal,
        client: ClientInfo,
        reason: str | None,
    ) -> Service:
        service = await self.services.lock(service_id)
        allowed_from, target = TRANSITIONS[action]
        current = ServiceStatus(service.status)
        if current not in allowed_from:
            raise ServiceStateConflict(
                f"A {current.value} service cannot be {action.value}.",
                extra={"current_status": current.value},
            )
        now = self.clock.now()
        changes: dict[str, tuple[object, object]] = {"status": (current.value, target.value)}
        service.status = target.value
        if action is ServiceAction.SUSPEND:
            service.suspended_at = now
            changes["suspended_at"] = (None, now.isoformat())
        elif action is ServiceAction.UNSUSPEND:
            changes["suspended_at"] = (_iso(service.suspended_at), None)
            service.suspended_at = None
        else:
            service.ended_at = now
            changes["ended_at"] = (None, now.isoformat())
        service.updated_at = now
        await self.session.flush()
        await record_change(
            self.session,
            entity_type=ENTITY,
            entity_id=service.id,
            action=action.value,
            actor=actor_of(principal, client),
            at=now,
            changes=changes,
        )
        if reason:
            await CustomerAdminService(session=self.session, container=self.container).add_note(
                actor=principal,
                customer_id=service.customer_id,
                body=f"[service {action.value}: {service.description}] {reason}",
                client=client,
            )
        return service


# --------------------------------------------------------------------------- for orders


async def open_services(session: AsyncSession, services: Sequence[Service]) -> None:
    """Store an order's new (pending) services."""
    await ServiceRepository(session).add_all(services)


async def activate_order_services(
    session: AsyncSession,
    *,
    order_id: uuid.UUID,
    next_due: Mapping[uuid.UUID, date | None],
    at: datetime,
    actor: Actor,
) -> list[Service]:
    """An order's pending services start: active from `at`, next renewal on `next_due` of
    each (None for one-time services). Services already moved on are left alone."""
    started: list[Service] = []
    for service in await ServiceRepository(session).of_order_for_update(order_id):
        if service.status != ServiceStatus.PENDING:
            continue
        service.status = ServiceStatus.ACTIVE.value
        service.activated_at = at
        service.next_due_date = next_due.get(service.id)
        service.updated_at = at
        started.append(service)
        await record_change(
            session,
            entity_type=ENTITY,
            entity_id=service.id,
            action="activated",
            actor=actor,
            at=at,
            changes={
                "status": (ServiceStatus.PENDING.value, ServiceStatus.ACTIVE.value),
                "next_due_date": (None, _iso(service.next_due_date)),
            },
        )
    await session.flush()
    return started


async def cancel_order_services(
    session: AsyncSession, *, order_id: uuid.UUID, at: datetime, actor: Actor
) -> list[Service]:
    """An order's services that have not ended are cancelled with it."""
    ended: list[Service] = []
    for service in await ServiceRepository(session).of_order_for_update(order_id):
        if ServiceStatus(service.status) in FINAL:
            continue
        previous = service.status
        service.status = ServiceStatus.CANCELLED.value
        service.ended_at = at
        service.updated_at = at
        ended.append(service)
        await record_change(
            session,
            entity_type=ENTITY,
            entity_id=service.id,
            action=ServiceAction.CANCEL.value,
            actor=actor,
            at=at,
            changes={"status": (previous, ServiceStatus.CANCELLED.value)},
        )
    await session.flush()
    return ended
