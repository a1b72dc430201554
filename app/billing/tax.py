"""Which tax an invoice applies to a buyer.

- A tax-exempt customer pays no tax.
- An EU business (a valid VAT id) in another EU member state than the seller gets the reverse
  charge: 0 % with the legal note on the invoice (Council Directive 2006/112/EC, art. 196).
- Otherwise the staff-managed rate of the buyer's country (and region, where one is set)
  applies; no rate configured means 0 %.
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

# EU member states as python-stdnum knows them, without Northern Ireland's XI prefix (its
# buyers are in GB, outside the EU's VAT area for services).
EU_MEMBER_STATES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) - {"XI"}

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient "
    "(Article 196, Council Directive 2006/112/EC)."
)
EXEMPT_NOTE = "Tax exempt customer: no tax charged."


@dataclass(frozen=True)
class TaxDecision:
    rate_bp: int
    reverse_charge: bool = False
    note: str | None = None


def _vat_country(vat_id: str) -> str | None:
    try:
        compact = eu_vat.validate(vat_id)
    except ValidationError:
        return None
    prefix = compact[:2].upper()
    return "GR" if prefix == "EL" else prefix


def is_reverse_charge(*, seller_country: str, buyer_country: str, vat_id: str | None) -> bool:
    if not vat_id or seller_country not in EU_MEMBER_STATES:
        return False
    if buyer_country not in EU_MEMBER_STATES or buyer_country == seller_country:
        return False
    return _vat_country(vat_id) == buyer_country


def decide_tax(
    *,
    seller_country: str,
    buyer_country: str,
    vat_id: str | None,
    tax_exempt: bool,
    configured_rate_bp: int | None,
) -> TaxDecision:
    if tax_exempt:
        return TaxDecision(rate_bp=0, note=EXEMPT_NOTE)
    if is_reverse_charge(seller_country=seller_country, buyer_country=buyer_country, vat_id=vat_id):
        return TaxDecision(rate_bp=0, reverse_charge=True, note=REVERSE_CHARGE_NOTE)
    return TaxDecision(rate_bp=configured_rate_bp or 0)
