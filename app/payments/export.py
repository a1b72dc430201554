"""Billing's sections of the data export (GET /me/export, P13): issued invoices with their
lines (drafts were never sent, so they are not records about the customer yet), payments,
credit notes with their lines, and the credit ledger."""

from __future__ import annotations

from typing import Any

from app.billing.ledger import CreditLedger
from app.billing.repository import InvoiceRepository
from app.billing.snapshot import decode_snapshot
from app.payments.repository import (
    CreditNoteRepository,
    CustomerBillingRepository,
    PaymentRepository,
)
from app.privacy.export import EXPORT_SECTIONS, ExportContext


async def invoices_section(ctx: ExportContext) -> list[dict[str, Any]]:
    invoices = await CustomerBillingRepository(ctx.session).issued_invoices(ctx.customer.id)
    lines = await InvoiceRepository(ctx.session).lines_of_many([row.id for row in invoices])
    return [
        {
            "number": invoice.number,
            "kind": invoice.kind,
            "status": invoice.status,
            "currency": invoice.currency,
            "subtotal": invoice.subtotal,
            "tax_total": invoice.tax_total,
            "total": invoice.total,
            "amount_paid": invoice.amount_paid,
            "amount_credited": invoice.amount_credited,
            "issued_at": invoice.issued_at,
            "due_date": invoice.due_date,
            "paid_at": invoice.paid_at,
            "voided_at": invoice.voided_at,
            "written_off_at": invoice.written_off_at,
            "reverse_charge": invoice.reverse_charge,
            "tax_note": invoice.tax_note,
            "buyer": decode_snapshot(invoice.buyer_snapshot),
            "lines": [
                {
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit_amount": line.unit_amount,
                    "tax_rate_bp": line.tax_rate_bp,
                    "net_amount": line.net_amount,
                    "tax_amount": line.tax_amount,
                    "period_start": line.period_start,
                    "period_end": line.period_end,
                }
                for line in lines[invoice.id]
            ],
        }
        for invoice in invoices
    ]


async def payments_section(ctx: ExportContext) -> list[dict[str, Any]]:
    rows = await PaymentRepository(ctx.session).of_customer(ctx.customer.id)
    return [
        {
            "invoice_id": str(row.invoice_id),
            "method": row.method,
            "currency": row.currency,
            "amount": row.amount,
            "applied_amount": row.applied_amount,
            "reference": row.reference,
            "received_at": row.received_at,
        }
        for row in rows
    ]


async def credit_notes_section(ctx: ExportContext) -> list[dict[str, Any]]:
    repository = CreditNoteRepository(ctx.session)
    notes = await repository.of_customer(ctx.customer.id)
    lines = await repository.lines_of_many([note.id for note in notes])
    return [
        {
            "number": note.number,
            "invoice_id": str(note.invoice_id),
            "reason": note.reason,
            "settlement": note.settlement,
            "memo": note.memo,
            "currency": note.currency,
            "subtotal": note.subtotal,
            "tax_total": note.tax_total,
            "total": note.total,
            "applied_to_due": note.applied_to_due,
            "issued_at": note.issued_at,
            "lines": [
                {
                    "description": line.description,
                    "quantity": line.quantity,
                    "net_amount": line.net_amount,
                    "tax_amount": line.tax_amount,
                }
                for line in lines[note.id]
            ],
        }
        for note in notes
    ]


async def credit_section(ctx: ExportContext) -> dict[str, Any]:
    entries = await CustomerBillingRepository(ctx.session).ledger(ctx.customer.id)
    return {
        "balances": await CreditLedger(ctx.session).balances(customer_id=ctx.customer.id),
        "entries": [
            {
                "currency": entry.currency,
                "sequence": entry.sequence,
                "kind": entry.kind,
                "amount": entry.amount,
                "balance_after": entry.balance_after,
                "memo": entry.memo,
                "created_at": entry.created_at,
            }
            for entry in entries
        ],
    }


def register_export_sections() -> None:
    EXPORT_SECTIONS.setdefault("invoices", invoices_section)
    EXPORT_SECTIONS.setdefault("payments", payments_section)
    EXPORT_SECTIONS.setdefault("credit_notes", credit_notes_section)
    EXPORT_SECTIONS.setdefault("credit", credit_section)
