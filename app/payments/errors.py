"""Domain errors of payments, credit notes and disputes: a status and a stable code each."""

from __future__ import annotations

from app.core.errors import Conflict, DomainError, NotFound


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class CreditNoteNotFound(NotFound):
    code = "credit_note_not_found"


class DisputeNotFound(NotFound):
    code = "dispute_not_found"


class InvoiceNotIssued(Conflict):
    code = "invoice_not_issued"
    title = "Only an issued invoice (open or paid) can be credited or disputed"


class DisputeNotOpen(Conflict):
    code = "dispute_not_open"
    title = "The dispute is already resolved"


class CreditExceedsInvoice(DomainError):
    status = 422
    code = "credit_exceeds_invoice"
    title = "The credit note credits more than was invoiced and not yet credited"


class CreditNoteEmpty(DomainError):
    status = 422
    code = "credit_note_empty"
    title = "A credit note must credit a positive amount"


class PaymentNotOnInvoice(DomainError):
    status = 422
    code = "payment_not_on_invoice"
    title = "The payment does not belong to this invoice"


class ReceivedInFuture(DomainError):
    status = 422
    code = "received_in_future"
    title = "A payment cannot be received in the future"
