"""Service periods: a cycle of n months starting on a day, ending the day before the next."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from app.models.catalog import CYCLE_MONTHS, BillingCycle


def add_months(day: date, months: int) -> date:
    """Same day n months later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    next_start: date | None  # None: one-time, never renews


def period_for(*, start: date, cycle: BillingCycle | str) -> Period:
    months = CYCLE_MONTHS[BillingCycle(cycle)]
    if months == 0:
        return Period(start=start, end=start, next_start=None)
    next_start = add_months(start, months)
    return Period(start=start, end=next_start - timedelta(days=1), next_start=next_start)
