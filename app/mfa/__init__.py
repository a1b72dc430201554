"""Second-factor authentication: TOTP (RFC 6238), recovery codes, login completion."""
