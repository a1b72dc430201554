"""Erasure: blockers that refuse it (unpaid invoices, open disputes) and the anonymisation.

Billing registers its blocker here when it arrives (`register_erasure_blocker`): a function
that returns a reason the customer can read, or None. Invoices and payments then keep their
own billing snapshot for `Settings.billing.retention_years`; this module only overwrites the
customer's record and the account.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict
from app.models.customer import Customer, CustomerStatus

ErasureBlocker = Callable[[AsyncSession, Customer], Awaitable[str | None]]

# Filled by capabilities that hold obligations (billing: unpaid invoices, open disputes).
ERASURE_BLOCKERS: list[ErasureBlocker] = []

ERASED_NAME = "Erased"
CUSTOMER_EMAIL_INDEX_CONTEXT = "customers.email"


class ErasureBlocked(Conflict):
    code = "erasure_blocked"
    title = "Erasure is not possible yet"


def register_erasure_blocker(blocker: ErasureBlocker) -> ErasureBlocker:
    if blocker not in ERASURE_BLOCKERS:
        ERASURE_BLOCKERS.append(blocker)
    return blocker


async def blocking_reasons(session: AsyncSession, customer: Customer) -> list[str]:
    reasons = []
    for blocker in ERASURE_BLOCKERS:
        reason = await blocker(session, customer)
        if reason:
            reasons.append(reason)
    return reasons


async def refuse_if_blocked(session: AsyncSession, customer: Customer) -> None:
    reasons = await blocking_reasons(session, customer)
    if reasons:
        raise ErasureBlocked(" ".join(reasons), extra={"reasons": reasons})


def placeholder_email(entity_id: object) -> str:
    return f"erased+{entity_id}@invalid"


# Personal fields of the customer record and what they become.
def anonymised_values(customer: Customer) -> dict[str, Any]:
    return {
        "first_name": ERASED_NAME,
        "last_name": ERASED_NAME,
        "company": None,
        "search_name": f"{ERASED_NAME} {ERASED_NAME}".lower(),
        "email": placeholder_email(customer.id),
        "phone": None,
        "address_line1": None,
        "address_line2": None,
        "city": None,
        "postal_code": None,
        "region": None,
        "date_of_birth": None,
        "vat_id": None,
        "identity_note": None,
        "status": CustomerStatus.CLOSED.value,
    }
