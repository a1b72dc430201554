"""/orders: a verified customer orders for themselves, staff with `billing:write` for a named
customer; the server prices every item. Reading goes through one access filter: a customer
sees their own orders (another's is 404), staff with `billing:read` everyone's."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, status

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, PrincipalDep
from app.billing.access import viewer_for
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.customers.admin_service import actor_of
from app.models.order import OrderStatus
from app.orders.repository import OrderFilter
from app.orders.schemas import OrderCreate, OrderOut
from app.orders.service import NewOrderItem, OrderService

router = CapabilityRouter(prefix="/orders", tags=["orders"], responses=problem_responses(401, 403))

Paging = Annotated[PageParams, Depends(page_params)]


async def get_order_service(session: SessionDep, container: ContainerDep) -> OrderService:
    return OrderService(session=session, container=container)


OrderServiceDep = Annotated[OrderService, Depends(get_order_service)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderOut,
    responses=problem_responses(404, 409, 422),
    summary="Place an order (priced on the server) and issue its first invoice",
    description=(
        "A customer whose email (or identity) is verified orders for themselves (403 "
        "`customer_not_verified` before that; naming a `customer_id` is 403). Staff with "
        "`billing:write` order for the `customer_id` they name (required). A suspended or "
        "closed customer cannot order (409 `customer_not_orderable`). Items that cannot be "
        "priced at that cycle and currency are 422 `price_unavailable`, naming each item."
    ),
)
async def place_order(
    body: OrderCreate,
    principal: PrincipalDep,
    orders: OrderServiceDep,
    client: ClientDep,
) -> OrderOut:
    view = await orders.place(
        viewer=viewer_for(principal),
        customer_id=body.customer_id,
        items=[
            NewOrderItem(
                product_id=item.product_id,
                cycle=item.cycle,
                quantity=item.quantity,
                label=item.description,
            )
            for item in body.items
        ],
        currency=body.currency,
        actor=actor_of(principal, client),
        client=client,
    )
    return OrderOut.of(view)


@router.get(
    "",
    response_model=Page[OrderOut],
    responses=problem_responses(400, 422),
    summary="List orders with their items, newest first (own, or everyone's for staff)",
)
async def list_orders(
    principal: PrincipalDep,
    orders: OrderServiceDep,
    page: Paging,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[OrderOut]:
    views, next_cursor = await orders.page(
        viewer=viewer_for(principal),
        search=OrderFilter(status=status_, customer_id=customer_id),
        page=page,
    )
    return Page[OrderOut](items=[OrderOut.of(view) for view in views], next_cursor=next_cursor)


@router.get(
    "/{order_id}",
    response_model=OrderOut,
    responses=problem_responses(404),
    summary="One order with its items and first invoice",
)
async def get_order(
    order_id: uuid.UUID, principal: PrincipalDep, orders: OrderServiceDep
) -> OrderOut:
    return OrderOut.of(await orders.view(order_id, viewer=viewer_for(principal)))


@router.post(
    "/{order_id}/cancel",
    response_model=OrderOut,
    responses=problem_responses(404, 409),
    summary="Cancel an order that has not started (its unpaid invoice is voided)",
    description=(
        "A customer cancels their own `pending` order while nothing is paid on its invoice; "
        "staff with `billing:write` cancel any `pending` or `fraud_review` order. Otherwise "
        "409 `order_not_cancellable`."
    ),
)
async def cancel_order(
    order_id: uuid.UUID, principal: PrincipalDep, orders: OrderServiceDep, client: ClientDep
) -> OrderOut:
    view = await orders.cancel(
        order_id, viewer=viewer_for(principal), actor=actor_of(principal, client)
    )
    return OrderOut.of(view)
