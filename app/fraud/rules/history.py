"""History rules: the amount against the customer's past, a young account, links to fraud.

`linked_to_fraud` looks for earlier checks of *other* customers that share this check's IP
address, email, phone or payment method (matched through their blind indexes) and whose
customer turned out bad: an order refused as fraud, a check labelled fraud or chargeback, a
chargeback dispute, or an invoice written off. The customer's own earlier checks are left out:
a link is evidence about someone else reaching for the same identity; the customer's own
payment record is the credit check's business. The IP link is left out for private, loopback
and reserved addresses, which many unrelated people share.
"""

from __future__ import annotations

from datetime import timedelta

from app.fraud.rules.base import (
    BOTH_SUBJECTS,
    Hit,
    RuleContext,
    RuleParams,
    RuleSpec,
    fraud_rule,
    int_param,
)

VIA_WORDS = {
    "ip": "IP address",
    "email": "email address",
    "phone": "phone number",
    "payment_method": "payment method",
}
WHY_WORDS = {
    "fraud_order": "an order refused as fraud",
    "fraud_label": "a check confirmed as fraud or chargeback",
    "chargeback": "a chargeback",
    "write_off": "an invoice written off",
}


@fraud_rule(
    RuleSpec(
        code="amount_above_history",
        family="history",
        title="The amount is far above the customer's largest earlier order",
        weight=20,
        params={"factor": 5, "min_orders": 2},
    )
)
async def amount_above_history(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.customer_id is None or inputs.amount is None or inputs.currency is None:
        return None
    factor, min_orders = int_param(params, "factor"), int_param(params, "min_orders")
    history = await context.signals.order_history(
        inputs.customer_id, currency=inputs.currency, exclude_order_id=inputs.order_id
    )
    # Too little history is no baseline (that is what `first_order_amount` is for).
    if history.orders < min_orders or history.largest <= 0:
        return None
    if inputs.amount <= factor * history.largest:
        return None
    return Hit(
        f"The amount is more than {factor} times the customer's largest earlier order"
        f" in {inputs.currency}.",
        {
            "amount": inputs.amount,
            "currency": inputs.currency,
            "largest_earlier": history.largest,
            "earlier_orders": history.orders,
            "factor": factor,
        },
        strength=1.0,
    )


@fraud_rule(
    RuleSpec(
        code="first_order_amount",
        family="history",
        title="The customer's first order is above a threshold",
        weight=20,
        params={"threshold": 50000},
    )
)
async def first_order_amount(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.customer_id is None or inputs.amount is None:
        return None
    # Minor units of the order's currency; staff with JPY-like currencies raise it.
    threshold = int_param(params, "threshold")
    if inputs.amount < threshold:
        return None
    # The first order ever, whatever became of earlier ones and in any currency.
    if await context.signals.has_earlier_order(
        inputs.customer_id, exclude_order_id=inputs.order_id
    ):
        return None
    return Hit(
        f"The customer's first order is {inputs.amount} minor units of {inputs.currency},"
        f" at or above the threshold of {threshold}.",
        {"amount": inputs.amount, "currency": inputs.currency, "threshold": threshold},
    )


@fraud_rule(
    RuleSpec(
        code="new_account",
        family="history",
        title="The account is younger than a set age",
        weight=10,
        params={"min_age_hours": 24},
    )
)
async def new_account(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.account_created_at is None:
        return None
    min_hours = int_param(params, "min_age_hours")
    age = inputs.at - inputs.account_created_at
    if age >= timedelta(hours=min_hours):
        return None
    age_hours = round(max(age.total_seconds(), 0.0) / 3600, 1)
    return Hit(
        f"The account is {age_hours} hours old, younger than {min_hours} hours.",
        {"account_age_hours": age_hours, "min_age_hours": min_hours},
    )


@fraud_rule(
    RuleSpec(
        code="linked_to_fraud",
        family="history",
        title="Shares an IP address, email, phone or payment method with earlier fraud",
        weight=60,
        subjects=BOTH_SUBJECTS,
    )
)
async def linked_to_fraud(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    links = await context.signals.links(
        ip_index=inputs.ip_index if inputs.ip_is_public else None,
        email_index=inputs.email_index,
        phone_index=inputs.phone_index,
        payment_index=inputs.payment_index,
        exclude_customer_id=inputs.customer_id,
    )
    if not links:
        return None
    vias = sorted({link.via for link in links})
    whys = sorted({link.why for link in links})
    return Hit(
        f"Shares its {', '.join(VIA_WORDS[v] for v in vias)} with {len(links)} earlier"
        f" check(s) of other customers with {', '.join(WHY_WORDS[w] for w in whys)}.",
        {
            "links": [
                {"via": link.via, "check_id": str(link.check_id), "why": link.why} for link in links
            ],
            "via": vias,
            "why": whys,
        },
    )
