"""Location rules: where the IP, the phone and the payment method say the customer is, against
the billing country they gave, and a staff list of high-risk countries.

Every rule abstains when a side is unknown (a private or unlisted IP, no phone, no billing
country): missing data is not evidence.
"""

from __future__ import annotations

from app.fraud.rules.base import (
    BOTH_SUBJECTS,
    ORDERS_ONLY,
    Hit,
    RuleContext,
    RuleParams,
    RuleSpec,
    fraud_rule,
    list_param,
)


def _mismatch(*, seen: str | None, billing: str | None, what: str, key: str) -> Hit | None:
    if seen is None or billing is None or seen == billing:
        return None
    return Hit(
        f"The {what} country {seen} differs from the billing country {billing}.",
        {key: seen, "billing_country": billing},
    )


@fraud_rule(
    RuleSpec(
        code="ip_country_mismatch",
        family="location",
        title="The IP address's country differs from the billing country",
        weight=25,
        subjects=BOTH_SUBJECTS,
    )
)
async def ip_country_mismatch(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    return _mismatch(
        seen=inputs.ip_country,
        billing=inputs.billing_country,
        what="IP address's",
        key="ip_country",
    )


@fraud_rule(
    RuleSpec(
        code="phone_country_mismatch",
        family="location",
        title="The phone number's country differs from the billing country",
        weight=15,
        subjects=BOTH_SUBJECTS,
    )
)
async def phone_country_mismatch(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    return _mismatch(
        seen=inputs.phone_country,
        billing=inputs.billing_country,
        what="phone number's",
        key="phone_country",
    )


@fraud_rule(
    RuleSpec(
        code="payment_country_mismatch",
        family="location",
        title="The payment method's country differs from the billing country",
        weight=30,
        subjects=ORDERS_ONLY,
    )
)
async def payment_country_mismatch(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    return _mismatch(
        seen=inputs.payment_country,
        billing=inputs.billing_country,
        what="payment method's",
        key="payment_country",
    )


@fraud_rule(
    RuleSpec(
        code="high_risk_country",
        family="location",
        title="The billing country or the IP address's country is on the high-risk list",
        weight=30,
        params={"countries": []},
        subjects=BOTH_SUBJECTS,
    )
)
async def high_risk_country(context: RuleContext, params: RuleParams) -> Hit | None:
    listed = {code.strip().upper() for code in list_param(params, "countries")}
    if not listed:
        return None
    inputs = context.inputs
    found = {
        via: country
        for via, country in (("billing", inputs.billing_country), ("ip", inputs.ip_country))
        if country is not None and country in listed
    }
    if not found:
        return None
    countries = sorted(set(found.values()))
    named = ", ".join(countries)
    return Hit(
        f"The country {named} is on the high-risk list."
        if len(countries) == 1
        else f"The countries {named} are on the high-risk list.",
        {"countries": countries, "via": sorted(found)},
    )
