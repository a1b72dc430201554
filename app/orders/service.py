"""Orders: placing (priced on the server, numbered, checked, invoiced), activation when the
first invoice is paid, cancellation, and the fraud decisions (approve / reject).

Placing an order, in one transaction:

1. the customer is resolved (a customer orders for themselves once their email or identity is
   verified; staff with `billing:write` order for a named customer) and must be orderable;
2. every item is priced from the catalog (`price_for`) — client amounts are never trusted;
3. the order (`ORD-<year>-<n>`, gapless), one pending service per item, the items, and the
   first invoice as a draft (one line per item for its first period, plus a setup-fee line);
4. the registered checks (`app.orders.checks`) run and the strictest outcome is applied;
5. the invoice is issued (numbered); credit or a zero total may pay it at once, which activates
   a `pending` order through the paid hook below. A rejected order's invoice is then voided.

Lock order, as for every money movement: customer row, then invoice row, then order row, so a
payment activating an order and a cancellation of it queue instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, record_change
from app.auth.errors import InsufficientScope
from app.billing.access import BillingViewer
from app.billing.hooks import on_invoice_paid
from app.billing.periods import period_for
from app.billing.service import InvoiceService, NewLine, document_number, sequence_name
from app.catalog.service import PriceUnavailable, price_for
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from app.core.pagination import PageParams
from app.core.sequences import NumberSequenceRepository
from app.customers.service import CustomerService
from app.hosting.service import activate_order_services, cancel_order_services, open_services
from app.models.catalog import BillingCycle, Product, ProductPrice
from app.models.customer import Customer, CustomerStatus, IdentityStatus
from app.models.invoice import Invoice, InvoiceKind, InvoiceStatus
from app.models.order import Order, OrderItem, OrderStatus, Service, ServiceStatus
from app.orders.checks import CheckOutcome, Disposition, OrderCheckContext, run_order_checks
from app.orders.repository import OrderFilter, OrderRepository

ENTITY = "order"
ORDER_PREFIX = "ORD"
USER_AGENT_MAX = 512
LINE_DESCRIPTION_MAX = 300
ORDERING_IDENTITIES = frozenset({IdentityStatus.EMAIL_VERIFIED, IdentityStatus.VERIFIED})
NOT_ORDERING_STATUSES = frozenset({CustomerStatus.SUSPENDED, CustomerStatus.CLOSED})


class CustomerNotVerified(Forbidden):
    code = "customer_not_verified"
    title = "Verify your email address before ordering"


class CustomerNotOrderable(Conflict):
    code = "customer_not_orderable"
    title = "This customer cannot place orders"


class OrderNotCancellable(Conflict):
    code = "order_not_cancellable"
    title = "This order can no longer be cancelled"


class OrderStateConflict(Conflict):
    code = "order_state_conflict"
    title = "The order is not in a state that allows this"


class ItemPriceUnavailable(InvalidInput):
    """`price_unavailable`, naming each item that cannot be priced."""

    code = "price_unavailable"


@dataclass(frozen=True)
class NewOrderItem:
    product_id: uuid.UUID
    cycle: BillingCycle
    quantity: int = 1
    label: str | None = None


@dataclass(frozen=True)
class OrderView:
    order: Order
    items: list[OrderItem]
    invoice_id: uuid.UUID | None


@dataclass(frozen=True)
class _Priced:
    item: NewOrderItem
    product: Product
    price: ProductPrice


def _line_description(priced: _Priced) -> str:
    text = f"{priced.product.name} ({priced.item.cycle.value})"
    if priced.item.label:
        text = f"{text} - {priced.item.label}"
    return text[:LINE_DESCRIPTION_MAX]


def first_invoice_lines(
    priced: Sequence[_Priced], services: Sequence[Service], *, now: datetime
) -> list[NewLine]:
    """Per item: its first period (none for one-time) and, if any, its setup fee."""
    lines: list[NewLine] = []
    today = now.date()
    for entry, service in zip(priced, services, strict=True):
        quantity = entry.item.quantity
        if entry.item.cycle is BillingCycle.ONE_TIME:
            lines.append(
                NewLine(
                    description=_line_description(entry),
                    unit_amount=entry.price.amount,
                    quantity=quantity,
                    service_id=service.id,
                )
            )
        else:
            period = period_for(start=today, cycle=entry.item.cycle)
            lines.append(
                NewLine(
                    description=_line_description(entry),
                    unit_amount=entry.price.amount,
                    quantity=quantity,
                    service_id=service.id,
                    period_start=period.start,
                    period_end=period.end,
                )
            )
        if entry.price.setup_fee > 0:
            lines.append(
                NewLine(
                    description=f"Setup fee: {entry.product.name}"[:LINE_DESCRIPTION_MAX],
                    unit_amount=entry.price.setup_fee,
                    quantity=quantity,
                )
            )
    return lines


class OrderService:
    """Request-scoped: built per request from the session and the container."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.orders = OrderRepository(session)
        self.numbers = NumberSequenceRepository(session)
        self.invoices = InvoiceService(session=session, container=container)
        self.customers = CustomerService(session=session, container=container)

    # ------------------------------------------------------------------ reading

    async def view(self, order_id: uuid.UUID, *, viewer: BillingViewer) -> OrderView:
        """Another customer's order is 404, as if it did not exist."""
        order = await self.orders.get_readable(order_id, viewer=viewer)
        return (await self._views([order]))[0]

    async def page(
        self, *, viewer: BillingViewer, search: OrderFilter, page: PageParams
    ) -> tuple[list[OrderView], str | None]:
        """Three statements whatever the page size: the page, its items, its invoice ids."""
        rows, next_cursor = await self.orders.page(viewer=viewer, search=search, page=page)
        return await self._views(rows), next_cursor

    async def _views(self, orders: Sequence[Order]) -> list[OrderView]:
        ids = [order.id for order in orders]
        items = await self.orders.items_of(ids)
        invoices = await self.orders.invoice_ids_of(ids)
        return [OrderView(order, items[order.id], invoices.get(order.id)) for order in orders]

    # ------------------------------------------------------------------ placing

    async def _orderer(self, viewer: BillingViewer, customer_id: uuid.UUID | None) -> Customer:
        if viewer.is_staff_view:
            if not viewer.can_write:
                raise InsufficientScope("Placing an order for a customer needs `billing:write`.")
            if customer_id is None:
                raise InvalidInput(
                    [
                        FieldError(
                            field="body.customer_id",
                            code="missing",
                            message="Name the customer to order for.",
                        )
                    ]
                )
            customer = await self.customers.get(customer_id)
        else:
            if viewer.user_id is None:  # pragma: no cover - a customer view has a user
                raise InsufficientScope()
            if customer_id is not None:
                raise InsufficientScope(
                    "A customer orders for themselves only: leave out `customer_id`."
                )
            customer = await self.customers.for_user(viewer.user_id)
            if customer.identity_status not in ORDERING_IDENTITIES:
                raise CustomerNotVerified(
                    "Confirm your email address first; then you can place orders."
                )
        if customer.status in NOT_ORDERING_STATUSES or customer.anonymised_at is not None:
            raise CustomerNotOrderable(
                "This customer account cannot place orders.",
                extra={"customer_status": customer.status},
            )
        return customer

    async def _price(self, items: Sequence[NewOrderItem], *, currency: str) -> list[_Priced]:
        priced: list[_Priced] = []
        errors: list[FieldError] = []
        for index, item in enumerate(items):
            try:
                product, price = await price_for(
                    self.session, product_id=item.product_id, cycle=item.cycle, currency=currency
                )
            except PriceUnavailable:
                errors.append(
                    FieldError(
                        field=f"body.items.{index}.product_id",
                        code="price_unavailable",
                        message=(
                            f"This product cannot be ordered {item.cycle.value} in {currency}."
                        ),
                    )
                )
            else:
                priced.append(_Priced(item=item, product=product, price=price))
        if errors:
            raise ItemPriceUnavailable(
                errors, "Some items are not available at that cycle and currency."
            )
        return priced

    async def place(
        self,
        *,
        viewer: BillingViewer,
        customer_id: uuid.UUID | None,
        items: Sequence[NewOrderItem],
        currency: str | None,
        actor: Actor,
        client: ClientInfo,
    ) -> OrderView:
        customer = await self._orderer(viewer, customer_id)
        currency = (currency or customer.currency).upper()
        priced = await self._price(items, currency=currency)
        now = self.clock.now()
        value = await self.numbers.take(sequence_name(prefix=ORDER_PREFIX, year=now.year))
        order = Order(
            number=document_number(prefix=ORDER_PREFIX, year=now.year, value=value),
            customer_id=customer.id,
            placed_by_id=actor.user_id,
            status=OrderStatus.PENDING.value,
            currency=currency,
            total=0,
            client_ip=client.ip,
            user_agent=client.user_agent[:USER_AGENT_MAX] if client.user_agent else None,
            placed_at=now,
            created_at=now,
            updated_at=now,
        )
        await self.orders.add(order)
        services = [
            Service(
                customer_id=customer.id,
                order_id=order.id,
                product_id=entry.product.id,
                description=(entry.item.label or entry.product.name)[:LINE_DESCRIPTION_MAX],
                cycle=entry.item.cycle.value,
                currency=currency,
                quantity=entry.item.quantity,
                recurring_amount=entry.price.amount,
                status=ServiceStatus.PENDING.value,
                next_due_date=None,
                created_at=now,
                updated_at=now,
            )
            for entry in priced
        ]
        await open_services(self.session, services)
        order_items = [
            OrderItem(
                order_id=order.id,
                product_id=entry.product.id,
                cycle=entry.item.cycle.value,
                quantity=entry.item.quantity,
                description=service.description,
                unit_amount=entry.price.amount,
                setup_fee=entry.price.setup_fee,
                service_id=service.id,
            )
            for entry, service in zip(priced, services, strict=True)
        ]
        await self.orders.add_items(order_items)
        draft = await self.invoices.create_draft(
            customer=customer,
            kind=InvoiceKind.ORDER,
            currency=currency,
            lines=first_invoice_lines(priced, services, now=now),
            actor=actor,
            order_id=order.id,
        )
        order.total = draft.total
        await record_change(
            self.session,
            entity_type=ENTITY,
            entity_id=order.id,
            action="placed",
            actor=actor,
            at=now,
            changes={
                "status": (None, order.status),
                "total": (None, order.total),
                "items": (None, len(order_items)),
            },
        )
        outcome = await run_order_checks(
            OrderCheckContext(
                session=self.session,
                clock=self.clock,
                order=order,
                items=order_items,
                services=services,
                invoice=draft,
                customer=customer,
                client_ip=order.client_ip,
                user_agent=order.user_agent,
                placed_by_staff=viewer.is_staff_view,
                container=self.container,
            )
        )
        await self._apply_outcome(order, outcome, actor=actor, at=now)
        invoice = await self.invoices.issue(invoice_id=draft.id, actor=actor)
        order.total = invoice.total
        if outcome.disposition is Disposition.REJECT:
            await self._void_if_unpaid(invoice, actor=actor)
        await self.session.flush()
        return OrderView(order, order_items, invoice.id)

    async def _apply_outcome(
        self, order: Order, outcome: CheckOutcome, *, actor: Actor, at: datetime
    ) -> None:
        if outcome.disposition is Disposition.ACCEPT:
            return
        target = (
            OrderStatus.FRAUD
            if outcome.disposition is Disposition.REJECT
            else OrderStatus.FRAUD_REVIEW
        )
        # Reasons are machine codes; as keys they survive the audit trail's value masking.
        await self._move(
            order,
            to=target,
            action="rejected" if target is OrderStatus.FRAUD else "held_for_review",
            actor=Actor.system(),
            at=at,
            also={f"reason.{reason}": (None, True) for reason in outcome.reasons},
        )
        if target is OrderStatus.FRAUD:
            await cancel_order_services(
                self.session, order_id=order.id, at=at, actor=Actor.system()
            )

    async def _move(
        self,
        order: Order,
        *,
        to: OrderStatus,
        action: str,
        actor: Actor,
        at: datetime,
        also: dict[str, tuple[object, object]] | None = None,
    ) -> None:
        """The one way an order changes status here: stamped, flushed and audited."""
        previous = order.status
        order.status = to.value
        order.updated_at = at
        await self.session.flush()
        await record_change(
            self.session,
            entity_type=ENTITY,
            entity_id=order.id,
            action=action,
            actor=actor,
            at=at,
            changes={"status": (previous, order.status), **(also or {})},
        )

    async def _wind_down(
        self, order: Order, invoice: Invoice | None, *, actor: Actor, at: datetime
    ) -> None:
        """A cancelled or refused order: its unpaid invoice is voided (one with payments stays
        open for a credit note by staff) and its services are cancelled."""
        if invoice is not None:
            await self._void_if_unpaid(invoice, actor=actor)
        await cancel_order_services(self.session, order_id=order.id, at=at, actor=actor)

    async def _void_if_unpaid(self, invoice: Invoice, *, actor: Actor) -> None:
        """An open invoice nobody paid anything on is voided; one with payments stays (it is
        corrected with a credit note by staff)."""
        if invoice.status == InvoiceStatus.OPEN and invoice.amount_paid == 0:
            await self.invoices.void(invoice_id=invoice.id, actor=actor, reason=None)

    # ------------------------------------------------------------------ changing

    async def _lock(self, order: Order) -> tuple[Order, Invoice | None]:
        """Customer, then the order's invoice, then the order (the lock order of payments)."""
        invoice_id = (await self.orders.invoice_ids_of([order.id])).get(order.id)
        invoice: Invoice | None = None
        if invoice_id is not None:
            _, invoice = await self.invoices.lock_for_payment(invoice_id)
        else:  # pragma: no cover - every order is placed with its invoice
            await self.customers.lock(order.customer_id)
        return await self.orders.lock(order.id), invoice

    async def cancel(
        self, order_id: uuid.UUID, *, viewer: BillingViewer, actor: Actor
    ) -> OrderView:
        """A customer cancels their own `pending` order while nothing is paid on its invoice;
        staff with `billing:write` cancel any `pending` or `fraud_review` order. The unpaid
        invoice is voided (a partly paid one stays open for a credit note) and the services
        are cancelled."""
        if viewer.is_staff_view and not viewer.can_write:
            raise InsufficientScope("Cancelling a customer's order needs `billing:write`.")
        order, invoice = await self._lock(await self.orders.get_readable(order_id, viewer=viewer))
        allowed = (
            {OrderStatus.PENDING, OrderStatus.FRAUD_REVIEW}
            if viewer.is_staff_view
            else {OrderStatus.PENDING}
        )
        if order.status not in allowed:
            raise OrderNotCancellable(
                f"A {order.status} order cannot be cancelled.",
                extra={"current_status": order.status},
            )
        if not viewer.is_staff_view and invoice is not None and invoice.amount_paid > 0:
            raise OrderNotCancellable(
                "Something was already paid on this order's invoice; contact us to cancel it.",
                extra={"current_status": order.status},
            )
        now = self.clock.now()
        order.cancelled_at = now
        await self._move(order, to=OrderStatus.CANCELLED, action="cancelled", actor=actor, at=now)
        await self._wind_down(order, invoice, actor=actor, at=now)
        return (await self._views([order]))[0]

    async def approve(self, order_id: uuid.UUID, *, actor: Actor) -> Order:
        """A held order is released: `pending` until paid, or `active` (with its services)
        at once if its invoice is already paid."""
        order, invoice = await self._lock(await self.orders.get_or_raise(order_id))
        if order.status != OrderStatus.FRAUD_REVIEW:
            raise OrderStateConflict(
                f"Only an order held for review can be approved; this one is {order.status}.",
                extra={"current_status": order.status},
            )
        now = self.clock.now()
        if invoice is not None and invoice.status == InvoiceStatus.PAID:
            await activate_order(self.session, order, invoice_id=invoice.id, at=now, actor=actor)
            return order
        await self._move(order, to=OrderStatus.PENDING, action="approved", actor=actor, at=now)
        return order

    async def reject(self, order_id: uuid.UUID, *, actor: Actor) -> Order:
        """A `pending` or held order is fraud: its unpaid invoice is voided (one with payments
        stays for a credit note) and its services are cancelled."""
        order, invoice = await self._lock(await self.orders.get_or_raise(order_id))
        if order.status not in (OrderStatus.PENDING, OrderStatus.FRAUD_REVIEW):
            raise OrderStateConflict(
                f"Only a pending or held order can be rejected; this one is {order.status}.",
                extra={"current_status": order.status},
            )
        now = self.clock.now()
        await self._move(order, to=OrderStatus.FRAUD, action="rejected", actor=actor, at=now)
        await self._wind_down(order, invoice, actor=actor, at=now)
        return order


# --------------------------------------------------------------------------- activation


async def activate_order(
    session: AsyncSession, order: Order, *, invoice_id: uuid.UUID, at: datetime, actor: Actor
) -> None:
    """The (locked) order becomes active and its pending services start; each service's next
    renewal is the start of the period after the one its first invoice billed."""
    previous = order.status
    order.status = OrderStatus.ACTIVE.value
    order.activated_at = at
    order.updated_at = at
    next_due = {
        service_id: line.period_end + timedelta(days=1) if line.period_end is not None else None
        for service_id, line in await OrderRepository(session).service_periods(invoice_id)
    }
    await session.flush()
    await record_change(
        session,
        entity_type=ENTITY,
        entity_id=order.id,
        action="activated",
        actor=actor,
        at=at,
        changes={"status": (previous, order.status)},
    )
    await activate_order_services(session, order_id=order.id, next_due=next_due, at=at, actor=actor)


@on_invoice_paid
async def activate_paid_order(session: AsyncSession, invoice: Invoice, at: datetime) -> None:
    """Paying an order's first invoice activates the order if it is `pending`; an order held
    for review waits for approval, a cancelled or rejected one stays as it is."""
    if invoice.kind != InvoiceKind.ORDER or invoice.order_id is None:
        return
    order = await OrderRepository(session).lock(invoice.order_id)
    if order.status != OrderStatus.PENDING:
        return
    await activate_order(session, order, invoice_id=invoice.id, at=at, actor=Actor.system())
