"""Human-readable amounts and tax rates for invoice PDFs and staff exports.

Integer arithmetic only: an amount is integer minor units and its currency's ISO 4217
minor-unit exponent says where the decimal point goes (pycountry does not carry exponents,
so the short lists of exceptions live here). Rates are basis points (1900 = 19 %).

    format_amount(123450, "EUR") == "1,234.50 EUR"
    format_amount(-5, "EUR") == "-0.05 EUR"
    format_amount(1500, "JPY") == "1,500 JPY"
    format_amount(1234567, "KWD") == "1,234.567 KWD"
    format_rate(1900) == "19.00 %"
"""

from __future__ import annotations

# ISO 4217 currencies without minor units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
# ISO 4217 currencies with three decimal places.
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def currency_exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (2 unless listed above)."""
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def format_amount(amount_minor: int, currency: str) -> str:
    """Minor units as "1,234.50 EUR": thousands grouped with ',', '.' before the fraction."""
    exponent = currency_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 10**exponent)
    text = f"{major:,}"
    if exponent:
        text += f".{minor:0{exponent}d}"
    return f"{sign}{text} {currency.upper()}"


def format_rate(rate_bp: int) -> str:
    """Basis points as a percentage with two decimals: 1900 -> "19.00 %", 750 -> "7.50 %"."""
    sign = "-" if rate_bp < 0 else ""
    whole, fraction = divmod(abs(rate_bp), 100)
    return f"{sign}{whole}.{fraction:02d} %"
