"""Velocity rules: many orders, registrations or failed sign-ins in a short time.

Windows end at the moment checked (`inputs.at`) and count earlier activity only: the order
being checked is excluded, and so is an account's own registration. Limits are "more than
max": with the defaults, the fifth order from one IP within the hour fires (four earlier
orders exceed three). `orders_per_email` counts orders placed under the same email (the blind
index on their validation records) by *other* customer records: the customer's own orders are
`orders_per_customer`'s, so the two never count the same order. IP-based rules
abstain for private, loopback and reserved addresses (`inputs.ip_is_public`): offices, NAT and
test clients share them, so a count on them says nothing about one buyer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.fraud.rules.base import (
    BOTH_SUBJECTS,
    FraudInputs,
    Hit,
    RuleContext,
    RuleParams,
    RuleSpec,
    fraud_rule,
    int_param,
)
from app.security_events.service import EventType

HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
ORDER_LIMITS = {"max_1h": 3, "max_24h": 10}


def _public_ip(inputs: FraudInputs) -> str | None:
    return inputs.ip if inputs.ip and inputs.ip_is_public else None


def _order_velocity_hit(counts: tuple[int, ...], params: RuleParams, *, what: str) -> Hit | None:
    """`counts` = (last hour, last 24 hours); fires when either exceeds its maximum."""
    last_hour, last_day = counts
    max_1h, max_24h = int_param(params, "max_1h"), int_param(params, "max_24h")
    exceeded = [
        window
        for window, count, limit in (("1h", last_hour, max_1h), ("24h", last_day, max_24h))
        if count > limit
    ]
    if not exceeded:
        return None
    evidence: dict[str, Any] = {
        "orders_1h": last_hour,
        "orders_24h": last_day,
        "max_1h": max_1h,
        "max_24h": max_24h,
        "exceeded": exceeded,
    }
    return Hit(
        f"{last_hour} earlier orders {what} in the last hour and {last_day} in the last"
        f" 24 hours (limits {max_1h} and {max_24h}).",
        evidence,
    )


@fraud_rule(
    RuleSpec(
        code="orders_per_ip",
        family="velocity",
        title="Many orders from the same IP address in 1 hour or 24 hours",
        weight=25,
        params=dict(ORDER_LIMITS),
    )
)
async def orders_per_ip(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    ip = _public_ip(inputs)
    if ip is None:
        return None
    counts = await context.signals.order_counts(
        ip=ip,
        windows=(inputs.at - HOUR, inputs.at - DAY),
        until=inputs.at,
        exclude_order_id=inputs.order_id,
    )
    return _order_velocity_hit(counts, params, what="from this IP address")


@fraud_rule(
    RuleSpec(
        code="orders_per_email",
        family="velocity",
        title="Many orders under the same email address by other customer records (1 h, 24 h)",
        weight=20,
        params=dict(ORDER_LIMITS),
    )
)
async def orders_per_email(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.email_index is None:
        return None
    counts = await context.signals.order_counts(
        email_index=inputs.email_index,
        windows=(inputs.at - HOUR, inputs.at - DAY),
        until=inputs.at,
        exclude_order_id=inputs.order_id,
        exclude_customer_id=inputs.customer_id,
    )
    return _order_velocity_hit(
        counts, params, what="under this email address by other customer records"
    )


@fraud_rule(
    RuleSpec(
        code="orders_per_customer",
        family="velocity",
        title="Many orders by the same customer in 1 hour or 24 hours",
        weight=20,
        params=dict(ORDER_LIMITS),
    )
)
async def orders_per_customer(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.customer_id is None:
        return None
    counts = await context.signals.order_counts(
        customer_id=inputs.customer_id,
        windows=(inputs.at - HOUR, inputs.at - DAY),
        until=inputs.at,
        exclude_order_id=inputs.order_id,
    )
    return _order_velocity_hit(counts, params, what="by this customer")


@fraud_rule(
    RuleSpec(
        code="registrations_per_ip",
        family="velocity",
        title="Many accounts registered from the same IP address in 24 hours",
        weight=25,
        params={"max_24h": 3},
        subjects=BOTH_SUBJECTS,
    )
)
async def registrations_per_ip(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    ip = _public_ip(inputs)
    if ip is None:
        return None
    limit = int_param(params, "max_24h")
    count = await context.signals.other_events_from_ip(
        ip,
        event_type=EventType.REGISTERED.value,
        since=inputs.at - DAY,
        until=inputs.at,
        exclude_user_id=inputs.user_id,
    )
    if count <= limit:
        return None
    return Hit(
        f"{count} other accounts were registered from this IP address in the last 24 hours"
        f" (limit {limit}).",
        {"registrations_24h": count, "max_24h": limit},
    )


@fraud_rule(
    RuleSpec(
        code="failed_logins",
        family="velocity",
        title="Many failed sign-ins on the account in 24 hours",
        weight=20,
        params={"max_24h": 5},
        subjects=BOTH_SUBJECTS,
    )
)
async def failed_logins(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.user_id is None:
        return None
    limit = int_param(params, "max_24h")
    count = await context.signals.events_of_user_between(
        inputs.user_id,
        event_type=EventType.LOGIN_FAILED.value,
        since=inputs.at - DAY,
        until=inputs.at,
    )
    if count <= limit:
        return None
    return Hit(
        f"{count} failed sign-ins on this account in the last 24 hours (limit {limit}).",
        {"failed_logins_24h": count, "max_24h": limit},
    )
