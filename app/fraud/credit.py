"""Credit worthiness (P3, P6): may this customer owe us this much?

Which orders are checked: every order of a customer on account (postpaid) terms, i.e. with a
staff-set `credit_limit`, and every order whose first invoice total is at least
`settings.fraud.credit_check_amount` (prepaid customers included: a large first order is
where an unpaid debt would hurt).

What it looks at, in the customer's currency (the currency of the credit limit; open invoices
in other currencies are not counted):

- the credit limit;
- the outstanding balance: what the customer's open invoices still ask for;
- the overdue balance: the part of it whose due date has passed;
- the payment history: invoices paid after their due date in the last 12 months, and invoices
  ever written off (status `uncollectible`, in any currency);
- the account age.

Rules (each a reason with a stable code, a sentence, its contribution and its evidence):

| code | when | verdict |
| --- | --- | --- |
| `credit_limit_exceeded` | outstanding + this order > credit limit | decline |
| `credit_limit_currency` | on account, the order in another currency than the limit | review |
| `credit_write_offs` | any invoice of the customer was written off | decline |
| `credit_overdue_balance` | an overdue balance > 0 | review |
| `credit_late_payments` | ≥ 2 invoices paid late in the last 12 months | review |
| `credit_new_account` | account younger than 30 days and amount ≥ the threshold | review |

The disposition is the strictest verdict (`approve` when none fired); the score (0..100) is the
sum of the contributions, capped. The check is stored as a `FraudCheck` of kind `credit`
(`FraudService.check_order`), next to the fraud check of the same order.

How the credit disposition moves the order (combined with the fraud outcome, strictest wins):

- `approve` → accept;
- `review` → review (order `fraud_review`, the check waits in the review queue);
- `decline` → reject for a customer on account terms (they would be served before paying, so
  a debt beyond their limit or after a write-off is refused), review for a prepaid order (the
  customer pays before anything is activated, so an analyst decides rather than the rules).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import FraudSettings
from app.fraud.engine import Assessment, Reason
from app.models.customer import Customer
from app.models.fraud import RiskLevel
from app.models.invoice import Invoice, InvoiceStatus
from app.orders.checks import CheckOutcome, Disposition

LATE_PAYMENT_WINDOW = timedelta(days=365)
LATE_PAYMENTS_FOR_REVIEW = 2
NEW_ACCOUNT_AGE = timedelta(days=30)

# Contributions to the 0..100 credit score; the disposition comes from the verdicts.
DECLINE_WEIGHT = 80
OVERDUE_WEIGHT = 50
LATE_PAYMENTS_WEIGHT = 30
NEW_ACCOUNT_WEIGHT = 30
CURRENCY_WEIGHT = 30


class CreditDisposition(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    DECLINE = "decline"


SEVERITY = {
    CreditDisposition.APPROVE: 0,
    CreditDisposition.REVIEW: 1,
    CreditDisposition.DECLINE: 2,
}
RISK = {
    CreditDisposition.APPROVE: RiskLevel.LOW,
    CreditDisposition.REVIEW: RiskLevel.MEDIUM,
    CreditDisposition.DECLINE: RiskLevel.HIGH,
}


@dataclass(frozen=True)
class CreditPosition:
    """What a customer owes and how they have paid, in `currency` minor units."""

    currency: str
    credit_limit: int | None
    outstanding: int
    overdue: int
    late_payments: int  # in the last 12 months
    write_offs: int  # ever

    @property
    def available(self) -> int | None:
        return None if self.credit_limit is None else self.credit_limit - self.outstanding


@dataclass(frozen=True)
class CreditAssessment:
    disposition: CreditDisposition
    score: int
    reasons: tuple[Reason, ...]
    position: CreditPosition
    duration_us: int

    def order_outcome(self, *, on_account: bool) -> CheckOutcome:
        codes = tuple(reason.code for reason in self.reasons)
        if self.disposition is CreditDisposition.APPROVE:
            return CheckOutcome.accept()
        if self.disposition is CreditDisposition.DECLINE and on_account:
            return CheckOutcome.reject(*codes)
        return CheckOutcome.review(*codes)

    def as_assessment(self, settings: FraudSettings) -> Assessment:
        """The shape `FraudService.record` stores (the disposition is passed separately)."""
        mapped = {
            CreditDisposition.APPROVE: Disposition.ACCEPT,
            CreditDisposition.REVIEW: Disposition.REVIEW,
            CreditDisposition.DECLINE: Disposition.REJECT,
        }[self.disposition]
        return Assessment(
            score=self.score,
            risk_level=RISK[self.disposition],
            disposition=mapped,
            reasons=self.reasons,
            ruleset_version=credit_ruleset_version(settings),
            duration_us=self.duration_us,
        )


def credit_ruleset_version(settings: FraudSettings) -> str:
    """The credit rules live in code; what can change them is the amount threshold."""
    described = (
        f"credit:{settings.credit_check_amount}:{LATE_PAYMENTS_FOR_REVIEW}:"
        f"{NEW_ACCOUNT_AGE.days}:{DECLINE_WEIGHT}:{OVERDUE_WEIGHT}:{LATE_PAYMENTS_WEIGHT}:"
        f"{NEW_ACCOUNT_WEIGHT}:{CURRENCY_WEIGHT}"
    )
    return "credit-" + hashlib.sha256(described.encode()).hexdigest()[:9]


def needs_credit_check(*, customer: Customer, amount: int, settings: FraudSettings) -> bool:
    return customer.credit_limit is not None or amount >= settings.credit_check_amount


async def credit_position(
    session: AsyncSession, *, customer: Customer, at: datetime
) -> CreditPosition:
    """Three small aggregate queries on the customer's invoices (indexed by customer)."""
    currency = customer.currency
    due = Invoice.total - Invoice.amount_paid - Invoice.amount_credited
    open_in_currency = (
        Invoice.customer_id == customer.id,
        Invoice.status == InvoiceStatus.OPEN.value,
        Invoice.currency == currency,
    )
    outstanding = await session.scalar(
        select(func.coalesce(func.sum(due), 0)).where(*open_in_currency)
    )
    overdue = await session.scalar(
        select(func.coalesce(func.sum(due), 0)).where(
            *open_in_currency, Invoice.due_date < at.date()
        )
    )
    write_offs = await session.scalar(
        select(func.count()).where(
            Invoice.customer_id == customer.id,
            Invoice.status == InvoiceStatus.UNCOLLECTIBLE.value,
        )
    )
    # Paid late = paid on a day after the due date; compared in Python because a datetime
    # against a date compares differently on SQLite and PostgreSQL. A year of one
    # customer's paid invoices is a short list.
    paid = await session.execute(
        select(Invoice.paid_at, Invoice.due_date).where(
            Invoice.customer_id == customer.id,
            Invoice.status == InvoiceStatus.PAID.value,
            Invoice.paid_at >= at - LATE_PAYMENT_WINDOW,
            Invoice.due_date.is_not(None),
        )
    )
    late = sum(
        1
        for paid_at, due_date in paid.all()
        if paid_at is not None and due_date is not None and paid_at.date() > due_date
    )
    return CreditPosition(
        currency=currency,
        credit_limit=customer.credit_limit,
        outstanding=int(outstanding or 0),
        overdue=int(overdue or 0),
        late_payments=late,
        write_offs=int(write_offs or 0),
    )


def _verdicts(
    *,
    position: CreditPosition,
    customer: Customer,
    amount: int,
    currency: str,
    at: datetime,
    settings: FraudSettings,
) -> list[tuple[CreditDisposition, Reason]]:
    found: list[tuple[CreditDisposition, Reason]] = []
    money = {"currency": position.currency}
    if position.credit_limit is not None:
        if currency.upper() != position.currency:
            found.append(
                (
                    CreditDisposition.REVIEW,
                    Reason(
                        "credit_limit_currency",
                        "The order is in another currency than the customer's credit limit.",
                        CURRENCY_WEIGHT,
                        {"order_currency": currency.upper(), **money},
                    ),
                )
            )
        elif position.outstanding + amount > position.credit_limit:
            found.append(
                (
                    CreditDisposition.DECLINE,
                    Reason(
                        "credit_limit_exceeded",
                        "The outstanding balance plus this order exceeds the credit limit.",
                        DECLINE_WEIGHT,
                        {
                            "credit_limit": position.credit_limit,
                            "outstanding": position.outstanding,
                            "amount": amount,
                            **money,
                        },
                    ),
                )
            )
    if position.write_offs > 0:
        found.append(
            (
                CreditDisposition.DECLINE,
                Reason(
                    "credit_write_offs",
                    "Invoices of this customer were written off as uncollectible.",
                    DECLINE_WEIGHT,
                    {"written_off_invoices": position.write_offs},
                ),
            )
        )
    if position.overdue > 0:
        found.append(
            (
                CreditDisposition.REVIEW,
                Reason(
                    "credit_overdue_balance",
                    "The customer has invoices past their due date.",
                    OVERDUE_WEIGHT,
                    {"overdue": position.overdue, **money},
                ),
            )
        )
    if position.late_payments >= LATE_PAYMENTS_FOR_REVIEW:
        found.append(
            (
                CreditDisposition.REVIEW,
                Reason(
                    "credit_late_payments",
                    "The customer paid several invoices late in the last 12 months.",
                    LATE_PAYMENTS_WEIGHT,
                    {"late_payments": position.late_payments, "months": 12},
                ),
            )
        )
    age = at - customer.created_at
    if age < NEW_ACCOUNT_AGE and amount >= settings.credit_check_amount:
        found.append(
            (
                CreditDisposition.REVIEW,
                Reason(
                    "credit_new_account",
                    "A large order from an account younger than 30 days.",
                    NEW_ACCOUNT_WEIGHT,
                    {
                        "account_age_days": age.days,
                        "amount": amount,
                        "threshold": settings.credit_check_amount,
                        "currency": currency.upper(),
                    },
                ),
            )
        )
    return found


async def assess_credit(
    session: AsyncSession,
    *,
    customer: Customer,
    amount: int,
    currency: str,
    at: datetime,
    settings: FraudSettings,
) -> CreditAssessment:
    started = time.perf_counter()
    position = await credit_position(session, customer=customer, at=at)
    verdicts = _verdicts(
        position=position,
        customer=customer,
        amount=amount,
        currency=currency,
        at=at,
        settings=settings,
    )
    disposition = CreditDisposition.APPROVE
    for verdict, _ in verdicts:
        if SEVERITY[verdict] > SEVERITY[disposition]:
            disposition = verdict
    reasons = sorted((reason for _, reason in verdicts), key=lambda reason: -reason.contribution)
    return CreditAssessment(
        disposition=disposition,
        score=min(100, sum(reason.contribution for reason in reasons)),
        reasons=tuple(reasons),
        position=position,
        duration_us=int((time.perf_counter() - started) * 1_000_000),
    )
