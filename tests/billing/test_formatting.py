"""Amounts and rates as printed on invoices: integer arithmetic, ISO 4217 minor units."""

from __future__ import annotations

import pytest

from app.billing.formatting import currency_exponent, format_amount, format_rate


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (123450, "EUR", "1,234.50 EUR"),
        (0, "EUR", "0.00 EUR"),
        (5, "EUR", "0.05 EUR"),
        (-5, "EUR", "-0.05 EUR"),
        (-123450, "EUR", "-1,234.50 EUR"),
        (100, "usd", "1.00 USD"),
        (123456789012, "GBP", "1,234,567,890.12 GBP"),
        (1500, "JPY", "1,500 JPY"),
        (-1500, "JPY", "-1,500 JPY"),
        (7, "KRW", "7 KRW"),
        (1234567, "KWD", "1,234.567 KWD"),
        (5, "BHD", "0.005 BHD"),
        (-1001, "TND", "-1.001 TND"),
        # Far beyond float precision: still exact.
        (10**18 + 1, "EUR", "10,000,000,000,000,000.01 EUR"),
    ],
)
def test_format_amount(amount: int, currency: str, expected: str) -> None:
    assert format_amount(amount, currency) == expected


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("EUR", 2), ("CHF", 2), ("JPY", 0), ("ISK", 0), ("XPF", 0), ("OMR", 3), ("jod", 3)],
)
def test_currency_exponent(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("rate_bp", "expected"),
    [(1900, "19.00 %"), (700, "7.00 %"), (750, "7.50 %"), (5, "0.05 %"), (0, "0.00 %")],
)
def test_format_rate(rate_bp: int, expected: str) -> None:
    assert format_rate(rate_bp) == expected


def test_format_rate_negative() -> None:
    assert format_rate(-250) == "-2.50 %"
