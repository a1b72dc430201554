"""The credit balance as an append-only ledger.

Callers hold the customer's row lock (`CustomerService.lock`) before appending, so entries of
one customer are written one after another; the unique (customer, currency, sequence) and the
non-negative `balance_after` are the database's last line of defence if a caller forgets.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.errors import InsufficientCredit
from app.billing.repository import CreditLedgerRepository
from app.core.pagination import PageParams
from app.models.payment import CreditEntry, CreditEntryKind


class CreditLedger:
    def __init__(self, session: AsyncSession) -> None:
        self.entries = CreditLedgerRepository(session)

    async def balance(self, *, customer_id: uuid.UUID, currency: str) -> int:
        last = await self.entries.last_entry(customer_id=customer_id, currency=currency)
        return last.balance_after if last else 0

    async def balances(self, *, customer_id: uuid.UUID) -> dict[str, int]:
        return await self.entries.balances(customer_id=customer_id)

    async def page(
        self, *, customer_id: uuid.UUID, currency: str | None, page: PageParams
    ) -> tuple[Sequence[CreditEntry], str | None]:
        return await self.entries.entries_page(
            customer_id=customer_id, currency=currency, page=page
        )

    async def append(
        self,
        *,
        customer_id: uuid.UUID,
        currency: str,
        kind: CreditEntryKind,
        amount: int,
        at: datetime,
        invoice_id: uuid.UUID | None = None,
        payment_id: uuid.UUID | None = None,
        credit_note_id: uuid.UUID | None = None,
        memo: str | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> CreditEntry:
        if amount == 0:
            raise ValueError("a ledger entry moves a non-zero amount")
        last = await self.entries.last_entry(customer_id=customer_id, currency=currency)
        balance = last.balance_after if last else 0
        if balance + amount < 0:
            raise InsufficientCredit(
                "The credit balance does not cover this.",
                extra={"available": balance, "currency": currency},
            )
        return await self.entries.add(
            CreditEntry(
                customer_id=customer_id,
                currency=currency,
                sequence=(last.sequence + 1) if last else 1,
                kind=kind.value,
                amount=amount,
                balance_after=balance + amount,
                invoice_id=invoice_id,
                payment_id=payment_id,
                credit_note_id=credit_note_id,
                memo=memo,
                created_by_id=actor_id,
                created_at=at,
            )
        )
