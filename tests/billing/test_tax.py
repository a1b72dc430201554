"""Tax on invoices: integer money with half-up rounding per line, the staff-managed rate of
the buyer's country or region, the EU reverse charge, and tax-exempt customers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.billing.money import divide_half_up, line_amounts, rate_percent
from app.billing.tax import EXEMPT_NOTE, REVERSE_CHARGE_NOTE, TaxDecision, decide_tax
from app.core.container import Container
from tests.billing.helpers import billing_customer, issued_invoice, make_tax_rate, staff

# --------------------------------------------------------------------------- money.py


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (1909500, 10_000, 191),  # 190.95 → 191
        (1909499, 10_000, 191),  # 190.9499 → 191
        (1904999, 10_000, 190),  # 190.4999 → 190
        (1905000, 10_000, 191),  # 190.5 → 191 (half up)
        (5000, 10_000, 1),  # 0.5 → 1
        (4999, 10_000, 0),
        (0, 10_000, 0),
        (-5000, 10_000, -1),  # half away from zero
        (-4999, 10_000, 0),
        (10**20 + 5, 10, 10**19 + 1),  # no float precision loss
    ],
)
def test_divide_half_up(numerator: int, denominator: int, expected: int) -> None:
    assert divide_half_up(numerator, denominator) == expected


def test_divide_half_up_needs_a_positive_denominator() -> None:
    with pytest.raises(ValueError, match="positive"):
        divide_half_up(1, 0)


@pytest.mark.parametrize(
    ("quantity", "unit", "rate", "net", "tax"),
    [
        (1, 1005, 1900, 1005, 191),  # 190.95
        (1, 1, 5000, 1, 1),  # 0.5
        (3, 333, 1900, 999, 190),  # 189.81
        (2, 1000, 0, 2000, 0),
        (10_000, 10**9, 1900, 10**13, 19 * 10**11),
    ],
)
def test_line_amounts(quantity: int, unit: int, rate: int, net: int, tax: int) -> None:
    amounts = line_amounts(quantity=quantity, unit_amount=unit, tax_rate_bp=rate)
    assert (amounts.net, amounts.tax, amounts.total) == (net, tax, net + tax)
    assert isinstance(amounts.tax, int)


@pytest.mark.parametrize(
    ("rate", "text"), [(1900, "19.00"), (725, "7.25"), (0, "0.00"), (5, "0.05"), (10000, "100.00")]
)
def test_rate_percent(rate: int, text: str) -> None:
    assert rate_percent(rate) == text


# --------------------------------------------------------------------------- tax.py


def _decide(**overrides: Any) -> TaxDecision:
    values: dict[str, Any] = {
        "seller_country": "DE",
        "buyer_country": "FR",
        "vat_id": None,
        "tax_exempt": False,
        "configured_rate_bp": 2000,
    }
    values.update(overrides)
    return decide_tax(**values)


def test_consumer_pays_the_configured_rate() -> None:
    assert _decide() == TaxDecision(rate_bp=2000)
    assert _decide(configured_rate_bp=None) == TaxDecision(rate_bp=0)


def test_eu_business_in_another_member_state_gets_the_reverse_charge() -> None:
    decision = _decide(vat_id="FR40303265045")
    assert decision == TaxDecision(rate_bp=0, reverse_charge=True, note=REVERSE_CHARGE_NOTE)


@pytest.mark.parametrize(
    "overrides",
    [
        {"vat_id": "FR40303265046"},  # wrong check digits
        {"vat_id": "DE136695976"},  # a valid id of another country than the buyer's
        {"buyer_country": "DE", "vat_id": "DE136695976", "configured_rate_bp": 1900},  # domestic
        {"buyer_country": "US", "vat_id": "FR40303265045"},  # buyer outside the EU
        {"seller_country": "GB", "vat_id": "FR40303265045"},  # seller outside the EU
        {"vat_id": ""},
    ],
)
def test_no_reverse_charge_otherwise(overrides: dict[str, Any]) -> None:
    decision = _decide(**overrides)
    assert decision.reverse_charge is False
    assert decision.rate_bp == overrides.get("configured_rate_bp", 2000)


def test_greek_vat_ids_use_the_el_prefix() -> None:
    decision = _decide(buyer_country="GR", vat_id="EL094259216")
    assert decision.reverse_charge is True


def test_tax_exempt_customer_pays_nothing_whatever_the_rest() -> None:
    for vat_id in (None, "FR40303265045"):
        assert _decide(tax_exempt=True, vat_id=vat_id) == TaxDecision(rate_bp=0, note=EXEMPT_NOTE)


# --------------------------------------------------------------------------- on invoices


async def test_de_rate_applied_per_line_with_half_up_rounding(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="DE", rate_bp=1900)
    customer = await billing_customer(client, container)  # DE consumer
    billing = await staff(client, container)
    invoice = await issued_invoice(
        client,
        billing,
        customer.customer_id,
        lines=[
            {"description": "Server", "unit_amount": 1005},
            {"description": "Domains", "quantity": 3, "unit_amount": 333},
        ],
    )
    lines = invoice["lines"]
    assert [(line["net_amount"], line["tax_amount"], line["total"]) for line in lines] == [
        (1005, 191, 1196),
        (999, 190, 1189),
    ]
    assert {(line["tax_rate_bp"], line["tax_rate_percent"]) for line in lines} == {(1900, "19.00")}
    # Totals are sums of the rounded lines (tax on the sum, 377.46, would round to 377).
    assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == (2004, 381, 2385)
    assert invoice["reverse_charge"] is False
    assert invoice["tax_note"] is None


async def test_half_a_minor_unit_rounds_up(client: httpx.AsyncClient, container: Container) -> None:
    await make_tax_rate(container, country="AT", rate_bp=5000)
    customer = await billing_customer(client, container, country="AT")
    billing = await staff(client, container)
    invoice = await issued_invoice(
        client, billing, customer.customer_id, lines=[{"description": "Tiny", "unit_amount": 1}]
    )
    assert (invoice["tax_total"], invoice["total"]) == (1, 2)


async def test_region_rate_is_preferred_over_country_rate(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="ES", rate_bp=2100)
    await make_tax_rate(container, country="ES", region="ES-CN", rate_bp=700)
    canary = await billing_customer(client, container, country="ES", region="ES-CN")
    madrid = await billing_customer(client, container, country="ES", region="ES-M")
    billing = await staff(client, container)
    canary_invoice = await issued_invoice(client, billing, canary.customer_id)
    madrid_invoice = await issued_invoice(client, billing, madrid.customer_id)
    assert canary_invoice["lines"][0]["tax_rate_bp"] == 700
    assert canary_invoice["tax_total"] == 70
    assert madrid_invoice["lines"][0]["tax_rate_bp"] == 2100
    assert madrid_invoice["tax_total"] == 210


async def test_eu_business_with_valid_vat_id_gets_reverse_charge(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="FR", rate_bp=2000)
    business = await billing_customer(
        client, container, country="FR", company="Exemple SARL", vat_id="FR40303265045"
    )
    billing = await staff(client, container)
    invoice = await issued_invoice(client, billing, business.customer_id)
    assert invoice["reverse_charge"] is True
    assert invoice["tax_note"] == REVERSE_CHARGE_NOTE
    assert invoice["lines"][0]["tax_rate_bp"] == 0
    assert (invoice["tax_total"], invoice["total"]) == (0, 1000)
    assert invoice["buyer"]["vat_id"] == "FR40303265045"


async def test_same_customer_without_vat_id_pays_the_french_rate(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="FR", rate_bp=2000)
    business = await billing_customer(
        client, container, country="FR", company="Exemple SARL", vat_id=None
    )
    billing = await staff(client, container)
    invoice = await issued_invoice(client, billing, business.customer_id)
    assert invoice["reverse_charge"] is False
    assert invoice["tax_note"] is None
    assert (invoice["lines"][0]["tax_rate_bp"], invoice["tax_total"]) == (2000, 200)


async def test_tax_exempt_customer_is_not_taxed(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="DE", rate_bp=1900)
    exempt = await billing_customer(client, container, tax_exempt=True)
    billing = await staff(client, container)
    invoice = await issued_invoice(client, billing, exempt.customer_id)
    assert (invoice["tax_total"], invoice["tax_note"]) == (0, EXEMPT_NOTE)


async def test_domestic_business_pays_domestic_tax(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_tax_rate(container, country="DE", rate_bp=1900)
    business = await billing_customer(
        client, container, company="Beispiel GmbH", vat_id="DE136695976"
    )
    billing = await staff(client, container)
    invoice = await issued_invoice(client, billing, business.customer_id)
    assert invoice["reverse_charge"] is False
    assert (invoice["lines"][0]["tax_rate_bp"], invoice["tax_total"]) == (1900, 190)


async def test_issue_applies_the_rules_in_force_at_issue(
    client: httpx.AsyncClient, container: Container
) -> None:
    """A draft shows today's rate; issuing recomputes with the customer's details then."""
    await make_tax_rate(container, country="FR", rate_bp=2000)
    customer = await billing_customer(client, container, country="FR", company="Exemple SARL")
    billing = await staff(client, container)
    response = await client.post(
        "/api/v1/invoices",
        json={
            "customer_id": str(customer.customer_id),
            "lines": [{"description": "Hosting", "unit_amount": 1000}],
        },
        headers=billing.headers,
    )
    draft = response.json()
    assert draft["tax_total"] == 200
    changed = await client.patch(
        f"/api/v1/customers/{customer.customer_id}",
        json={"vat_id": "FR40303265045"},
        headers=billing.headers,
    )
    assert changed.status_code == 200, changed.text
    issued = await client.post(f"/api/v1/invoices/{draft['id']}/issue", headers=billing.headers)
    assert issued.json()["reverse_charge"] is True
    assert (issued.json()["tax_total"], issued.json()["total"]) == (0, 1000)
