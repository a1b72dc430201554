"""Billing's domain errors: each a status and a stable code clients can branch on."""

from __future__ import annotations

from app.core.errors import Conflict, DomainError, NotFound


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"


class InvoiceNotDraft(Conflict):
    code = "invoice_not_draft"
    title = "Only a draft invoice can be changed or issued"


class InvoiceNotOpen(Conflict):
    code = "invoice_not_open"
    title = "The invoice is not open"


class InvoiceHasNoLines(Conflict):
    code = "invoice_has_no_lines"
    title = "An invoice needs at least one line to be issued"


class InvoiceHasPayments(Conflict):
    code = "invoice_has_payments"
    title = "An invoice with payments is corrected with a credit note, not voided"


class CurrencyMismatch(DomainError):
    status = 422
    code = "currency_mismatch"


class InsufficientCredit(Conflict):
    code = "insufficient_credit"
    title = "The credit balance does not cover this"


class CustomerNotBillable(Conflict):
    code = "customer_not_billable"
    title = "This customer cannot be invoiced"


class CreditNotApplicable(Conflict):
    code = "credit_not_applicable"
    title = "Credit cannot pay this invoice"


class AmountExceedsDue(DomainError):
    status = 422
    code = "amount_exceeds_due"
    title = "The amount is more than the invoice still asks for"
