"""Mail to customers and prospects (P2): an outbox written in the caller's transaction, and a
delivery job that hands each message to the injected `Mailer`."""
