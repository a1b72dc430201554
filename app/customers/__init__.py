"""Customers and prospects: validated contact records, the member area, staff changes."""
