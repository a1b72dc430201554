"""Hostledger: the customer-account, billing and fraud-prevention backend of a web host."""
