"""Where rendered mail goes. The app holds one `Mailer` in its container; tests inject
`MemoryMailer`. SMTP (or a provider's API) will be one more implementation of the protocol."""

from __future__ import annotations

import logging
from typing import Protocol

from app.notifications.templates import RenderedEmail

logger = logging.getLogger("hostledger.mail")


class Mailer(Protocol):
    async def send(self, message: RenderedEmail) -> None:
        """Hand the message over or raise. Raise `DeliveryFailed` with a short code when the
        reason is known; any other exception is recorded by its type name only."""
        ...


class DeliveryFailed(Exception):
    """A mailer's refusal with a short machine code, e.g. `smtp_421`, `mailbox_unavailable`.

    The code is stored on the outbox row, so it must never contain an address or a link."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def mask_address(address: str) -> str:
    """`jane.doe@example.com` -> `j***@e***.com`: enough to tell messages apart in a log,
    too little to identify anyone."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    name, dot, tld = domain.rpartition(".")
    if not dot:
        name, tld = domain, ""
    masked_domain = f"{name[:1]}***" + (f".{tld}" if tld else "")
    return f"{local[:1]}***@{masked_domain}"


class DevelopmentMailer:
    """Sends nothing: logs one line per message that names it without revealing it (no
    address, no subject or body, and so never a token or link)."""

    async def send(self, message: RenderedEmail) -> None:
        masked = mask_address(message.recipient)
        logger.info(
            "mail not sent (development mailer): %s %s to %s",
            message.template,
            message.message_id,
            masked,
            extra={
                "fields": {
                    "template": message.template,
                    "message_id": message.message_id,
                    "recipient": masked,
                }
            },
        )


class MemoryMailer:
    """Keeps every message it is given (tests, and previews)."""

    def __init__(self) -> None:
        self.sent: list[RenderedEmail] = []

    async def send(self, message: RenderedEmail) -> None:
        self.sent.append(message)

    def to(self, recipient: str) -> list[RenderedEmail]:
        return [message for message in self.sent if message.recipient == recipient]

    def clear(self) -> None:
        self.sent.clear()
