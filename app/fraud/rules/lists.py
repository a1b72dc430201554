"""List rules: imported anonymiser and hosting ranges, and the staff blocklists.

A blocklist hit rejects outright whatever the score (`outright=True`). Values are matched
through the same blind indexes the list service stores (`blocklist_value_index`), so neither
side keeps an email or phone number in clear; evidence names the entry, never the value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from app.fraud.lists_service import (
    blocklist_value_index,
    domain_and_parents,
    normalise_phone,
)
from app.fraud.rules.base import BOTH_SUBJECTS, Hit, RuleContext, RuleParams, RuleSpec, fraud_rule
from app.models.fraud import BlockKind, BlocklistEntry, NetworkList

BLOCKLIST_WEIGHT = 100


async def _network_hit(context: RuleContext, list_name: NetworkList, what: str) -> Hit | None:
    inputs = context.inputs
    # Private and loopback addresses are shared by many customers behind one network.
    if inputs.ip is None or not inputs.ip_is_public:
        return None
    found = await context.signals.network_of(inputs.ip, list_name=list_name.value)
    if found is None:
        return None
    evidence: dict[str, str] = {"list": list_name.value, "cidr": found.cidr}
    if found.source:
        evidence["source"] = found.source
    return Hit(f"The IP address is in a known {what} range ({found.cidr}).", evidence)


@fraud_rule(
    RuleSpec(
        code="anonymizer_ip",
        family="lists",
        title="The IP address is in an imported anonymiser range (VPN, proxy, Tor exit)",
        weight=35,
        subjects=BOTH_SUBJECTS,
    )
)
async def anonymizer_ip(context: RuleContext, params: RuleParams) -> Hit | None:
    return await _network_hit(context, NetworkList.ANONYMIZER, "anonymiser (VPN, proxy or Tor)")


@fraud_rule(
    RuleSpec(
        code="hosting_ip",
        family="lists",
        title="The IP address is in an imported hosting or data-centre range",
        weight=20,
        subjects=BOTH_SUBJECTS,
    )
)
async def hosting_ip(context: RuleContext, params: RuleParams) -> Hit | None:
    return await _network_hit(context, NetworkList.HOSTING, "hosting or data-centre")


def _entry_evidence(entry: BlocklistEntry, **more: str) -> dict[str, str]:
    return {"entry_id": str(entry.id), "kind": entry.kind, **more}


@fraud_rule(
    RuleSpec(
        code="blocklist_ip",
        family="lists",
        title="The IP address is on the blocklist (an address or a CIDR range)",
        weight=BLOCKLIST_WEIGHT,
        subjects=BOTH_SUBJECTS,
        outright=True,
    )
)
async def blocklist_ip(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.ip is None:
        return None
    entry = await context.signals.blocked_ip(inputs.ip, at=inputs.at)
    if entry is None:
        return None
    # A range entry is named by its CIDR; a single-address entry would be the address itself.
    network = ipaddress.ip_network(entry.display, strict=False)
    ranged = network.prefixlen < network.max_prefixlen
    evidence = _entry_evidence(entry, cidr=entry.display) if ranged else _entry_evidence(entry)
    return Hit("The IP address is on the blocklist.", evidence)


@fraud_rule(
    RuleSpec(
        code="blocklist_email",
        family="lists",
        title="The email address is on the blocklist",
        weight=BLOCKLIST_WEIGHT,
        subjects=BOTH_SUBJECTS,
        outright=True,
    )
)
async def blocklist_email(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.email_index is None:
        return None
    entry = await context.signals.blocked_values(
        kind=BlockKind.EMAIL, value_indexes=[inputs.email_index], at=inputs.at
    )
    if entry is None:
        return None
    return Hit("The email address is on the blocklist.", _entry_evidence(entry))


@fraud_rule(
    RuleSpec(
        code="blocklist_email_domain",
        family="lists",
        title="The email domain (or a parent domain) is on the blocklist",
        weight=BLOCKLIST_WEIGHT,
        subjects=BOTH_SUBJECTS,
        outright=True,
    )
)
async def blocklist_email_domain(context: RuleContext, params: RuleParams) -> Hit | None:
    domain_name = context.inputs.email_domain
    if domain_name is None:
        return None
    found = await _first_blocked(
        context, BlockKind.EMAIL_DOMAIN, domain_and_parents(domain_name.lower().rstrip("."))
    )
    if found is None:
        return None
    entry, domain = found
    return Hit(
        f"The email domain {domain} is on the blocklist.",
        _entry_evidence(entry, email_domain=domain),
    )


@fraud_rule(
    RuleSpec(
        code="blocklist_phone",
        family="lists",
        title="The phone number is on the blocklist",
        weight=BLOCKLIST_WEIGHT,
        subjects=BOTH_SUBJECTS,
        outright=True,
    )
)
async def blocklist_phone(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    if inputs.phone is None:
        return None
    phone = normalise_phone(inputs.phone, default_region=inputs.billing_country)
    found = await _first_blocked(context, BlockKind.PHONE, [phone] if phone else [])
    if found is None:
        return None
    return Hit("The phone number is on the blocklist.", _entry_evidence(found[0]))


@fraud_rule(
    RuleSpec(
        code="blocklist_country",
        family="lists",
        title="The billing country or the IP address's country is on the blocklist",
        weight=BLOCKLIST_WEIGHT,
        subjects=BOTH_SUBJECTS,
        outright=True,
    )
)
async def blocklist_country(context: RuleContext, params: RuleParams) -> Hit | None:
    inputs = context.inputs
    sides = {
        via: country
        for via, country in (("billing", inputs.billing_country), ("ip", inputs.ip_country))
        if country is not None
    }
    found = await _first_blocked(context, BlockKind.COUNTRY, sorted(set(sides.values())))
    if found is None:
        return None
    entry, country = found
    via = sorted(name for name, value in sides.items() if value == country)
    return Hit(
        f"The country {country} is on the blocklist.",
        {**_entry_evidence(entry), "country": country, "via": via},
    )


async def _first_blocked(
    context: RuleContext, kind: BlockKind, values: Iterable[str]
) -> tuple[BlocklistEntry, str] | None:
    """The first active blocklist entry of `kind` among `values` (by their blind index),
    with the value it matched; None when no value is given or none is listed."""
    candidates = {
        blocklist_value_index(context.signals.crypto, kind=kind, value=value): value
        for value in values
    }
    if not candidates:
        return None
    entry = await context.signals.blocked_values(
        kind=kind, value_indexes=list(candidates), at=context.inputs.at
    )
    return (entry, candidates[entry.value_index]) if entry is not None else None
