"""Every query on hosting services (the `services` table)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from app.billing.access import BillingViewer
from app.core.errors import NotFound
from app.core.pagination import PageParams
from app.core.repository import Repository
from app.models.order import Service, ServiceStatus


class ServiceNotFound(NotFound):
    code = "service_not_found"


@dataclass(frozen=True)
class ServiceFilter:
    status: ServiceStatus | None = None
    customer_id: uuid.UUID | None = None


class ServiceRepository(Repository[Service]):
    model = Service
    not_found = ServiceNotFound

    def readable(self, viewer: BillingViewer) -> Select[Any]:
        statement = select(Service)
        condition = viewer.owns(Service.customer_id)
        return statement if condition is None else statement.where(condition)

    async def get_readable(self, service_id: uuid.UUID, *, viewer: BillingViewer) -> Service:
        statement = self.readable(viewer).where(Service.id == service_id)
        service: Service | None = (await self.session.scalars(statement)).first()
        if service is None:
            raise ServiceNotFound("No such service.")
        return service

    async def page(
        self, *, viewer: BillingViewer, search: ServiceFilter, page: PageParams
    ) -> tuple[Sequence[Service], str | None]:
        statement = self.readable(viewer)
        if search.status is not None:
            statement = statement.where(Service.status == search.status.value)
        if search.customer_id is not None:
            statement = statement.where(Service.customer_id == search.customer_id)
        return await self.paginate(statement, page=page)

    async def of_order_for_update(self, order_id: uuid.UUID) -> list[Service]:
        """An order's services, row-locked, in a stable order (ids are time-ordered)."""
        statement = (
            select(Service)
            .where(Service.order_id == order_id)
            .order_by(Service.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list((await self.session.scalars(statement)).all())

    async def add_all(self, services: Sequence[Service]) -> None:
        self.session.add_all(services)
        await self.session.flush()
