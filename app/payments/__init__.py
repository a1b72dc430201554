"""Payments, the credit balance endpoints, credit notes and disputes."""
