"""Integer money arithmetic. Amounts are minor units; rates are basis points (1900 = 19 %).

Rounding rule (documented on every invoice API): each line is computed on its own —
net = quantity * unit amount (exact), tax = net * rate / 10000 rounded half away from zero
to the minor unit — and the invoice totals are the sums of the rounded lines.
"""

from __future__ import annotations

from dataclasses import dataclass

BASIS_POINTS = 10_000
MAX_AMOUNT = 10**12  # far beyond any hosting invoice, far below 64-bit overflow


def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


@dataclass(frozen=True)
class LineAmounts:
    net: int
    tax: int

    @property
    def total(self) -> int:
        return self.net + self.tax


def line_amounts(*, quantity: int, unit_amount: int, tax_rate_bp: int) -> LineAmounts:
    net = quantity * unit_amount
    return LineAmounts(net=net, tax=divide_half_up(net * tax_rate_bp, BASIS_POINTS))


def rate_percent(rate_bp: int) -> str:
    """1900 -> "19.00"."""
    whole, fraction = divmod(rate_bp, 100)
    return f"{whole}.{fraction:02d}"
