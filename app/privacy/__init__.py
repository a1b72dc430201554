"""Privacy rights and cookies: consents, the welcome cookie, export and erasure (P12-P18, P21)."""
