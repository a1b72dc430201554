"""The one place where orders are checked before they are fulfilled (fraud, credit, …).

A check is an async function of an `OrderCheckContext` returning a `CheckOutcome`; it is
registered once, at import time of the module that defines it:

    @register_order_check
    async def too_many_orders_from_ip(context: OrderCheckContext) -> CheckOutcome:
        ...
        return CheckOutcome.review("ip_velocity")

`OrderService.place` runs every registered check in the placing transaction, after the order,
its items, its services and its (draft) invoice exist and before the invoice is issued, and
applies the strictest outcome: `reject` → the order becomes `fraud`, its services are cancelled
and its invoice is voided; `review` → `fraud_review` (paying does not activate it, approval
does); `accept` → it stays `pending`. Checks run before issuing so that a held or rejected
order is never activated by credit or a zero total settling its invoice at issue.

Checks read through `context.session` and must not change the order, its services or its
invoice: the decision is the service's, so it is applied and audited in one place. A check may
add its own evidence rows (the fraud check stores its order-validation record, P5).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import Clock
from app.models.customer import Customer
from app.models.invoice import Invoice
from app.models.order import Order, OrderItem, Service

if TYPE_CHECKING:
    from app.core.container import Container


class Disposition(StrEnum):
    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"


SEVERITY: dict[Disposition, int] = {
    Disposition.ACCEPT: 0,
    Disposition.REVIEW: 1,
    Disposition.REJECT: 2,
}


@dataclass(frozen=True)
class CheckOutcome:
    """What one check (or all of them together) decided, with machine-readable reasons such
    as `ip_velocity` or `credit_limit_exceeded` (no personal data: they are audited)."""

    disposition: Disposition
    reasons: tuple[str, ...] = ()

    @classmethod
    def accept(cls) -> CheckOutcome:
        return cls(Disposition.ACCEPT)

    @classmethod
    def review(cls, *reasons: str) -> CheckOutcome:
        return cls(Disposition.REVIEW, tuple(reasons))

    @classmethod
    def reject(cls, *reasons: str) -> CheckOutcome:
        return cls(Disposition.REJECT, tuple(reasons))


@dataclass(frozen=True)
class OrderCheckContext:
    """Everything a check may look at. The invoice is the order's first invoice as drafted:
    its lines and totals (tax included) are final, its number is assigned right after."""

    session: AsyncSession
    clock: Clock
    order: Order
    items: Sequence[OrderItem]
    services: Sequence[Service]
    invoice: Invoice
    customer: Customer
    client_ip: str | None
    user_agent: str | None
    placed_by_staff: bool = field(default=False)
    container: Container | None = field(default=None)  # settings, crypto, GeoIP for checks


OrderCheck = Callable[[OrderCheckContext], Awaitable[CheckOutcome]]

ORDER_CHECKS: list[OrderCheck] = []


def register_order_check(check: OrderCheck) -> OrderCheck:
    """Add `check` to the checks every new order goes through (once; usable as a decorator)."""
    if check not in ORDER_CHECKS:
        ORDER_CHECKS.append(check)
    return check


def unregister_order_check(check: OrderCheck) -> None:
    if check in ORDER_CHECKS:
        ORDER_CHECKS.remove(check)


def strictest(outcomes: Iterable[CheckOutcome]) -> CheckOutcome:
    """The strictest disposition, with the reasons of every outcome that was not `accept`
    (a review reason stays useful context when another check rejects)."""
    disposition = Disposition.ACCEPT
    reasons: list[str] = []
    for outcome in outcomes:
        if SEVERITY[outcome.disposition] > SEVERITY[disposition]:
            disposition = outcome.disposition
        if outcome.disposition is not Disposition.ACCEPT:
            reasons.extend(reason for reason in outcome.reasons if reason not in reasons)
    return CheckOutcome(disposition, tuple(reasons))


async def run_order_checks(
    context: OrderCheckContext, *, checks: Sequence[OrderCheck] | None = None
) -> CheckOutcome:
    """Run every registered check (in registration order) and combine them."""
    return strictest(
        [await check(context) for check in list(ORDER_CHECKS if checks is None else checks)]
    )
