"""What happens elsewhere when an invoice is paid (an order's services start, …).

Capabilities that build on billing register here instead of billing importing them, so the
dependency points one way (orders → billing). Hooks run inside the paying transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.invoice import Invoice

InvoicePaidHook = Callable[[AsyncSession, Invoice, datetime], Awaitable[None]]

INVOICE_PAID_HOOKS: list[InvoicePaidHook] = []


def on_invoice_paid(hook: InvoicePaidHook) -> InvoicePaidHook:
    if hook not in INVOICE_PAID_HOOKS:
        INVOICE_PAID_HOOKS.append(hook)
    return hook


async def run_invoice_paid_hooks(session: AsyncSession, invoice: Invoice, at: datetime) -> None:
    for hook in INVOICE_PAID_HOOKS:
        await hook(session, invoice, at)
