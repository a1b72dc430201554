"""Every query on orders and their items (and the link to each order's first invoice)."""

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
from app.models.invoice import Invoice, InvoiceKind, InvoiceLine
from app.models.order import Order, OrderItem, OrderStatus


class OrderNotFound(NotFound):
    code = "order_not_found"


@dataclass(frozen=True)
class OrderFilter:
    status: OrderStatus | None = None
    customer_id: uuid.UUID | None = None


class OrderRepository(Repository[Order]):
    model = Order
    not_found = OrderNotFound

    def readable(self, viewer: BillingViewer) -> Select[Any]:
        statement = select(Order)
        condition = viewer.owns(Order.customer_id)
        return statement if condition is None else statement.where(condition)

    async def get_readable(self, order_id: uuid.UUID, *, viewer: BillingViewer) -> Order:
        statement = self.readable(viewer).where(Order.id == order_id)
        order: Order | None = (await self.session.scalars(statement)).first()
        if order is None:
            raise OrderNotFound("No such order.")
        return order

    async def page(
        self, *, viewer: BillingViewer, search: OrderFilter, page: PageParams
    ) -> tuple[Sequence[Order], str | None]:
        """Newest first; for a customer it walks `ix_orders_customer_id_id` backwards."""
        statement = self.readable(viewer)
        if search.status is not None:
            statement = statement.where(Order.status == search.status.value)
        if search.customer_id is not None:
            statement = statement.where(Order.customer_id == search.customer_id)
        return await self.paginate(statement, page=page)

    async def add_items(self, items: Sequence[OrderItem]) -> None:
        self.session.add_all(items)
        await self.session.flush()

    async def items_of(self, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[OrderItem]]:
        """The items of many orders in one IN query (none for an empty list)."""
        found: dict[uuid.UUID, list[OrderItem]] = {order_id: [] for order_id in order_ids}
        if not order_ids:
            return found
        statement = (
            select(OrderItem).where(OrderItem.order_id.in_(order_ids)).order_by(OrderItem.id)
        )
        for item in (await self.session.scalars(statement)).all():
            found[item.order_id].append(item)
        return found

    async def invoice_ids_of(self, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """Each order's first invoice (kind `order`), in one IN query."""
        if not order_ids:
            return {}
        statement = select(Invoice.order_id, Invoice.id).where(
            Invoice.order_id.in_(order_ids), Invoice.kind == InvoiceKind.ORDER.value
        )
        return {
            order_id: invoice_id
            for order_id, invoice_id in (await self.session.execute(statement)).all()
            if order_id is not None
        }

    async def service_periods(self, invoice_id: uuid.UUID) -> list[tuple[uuid.UUID, InvoiceLine]]:
        """The service lines of an invoice: which period of which service it bills."""
        statement = (
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id, InvoiceLine.service_id.is_not(None))
            .order_by(InvoiceLine.position)
        )
        return [
            (line.service_id, line)
            for line in (await self.session.scalars(statement)).all()
            if line.service_id is not None
        ]
