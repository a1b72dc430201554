"""Billing: invoices, payments, the credit ledger, credit notes, disputes and the billing run."""
