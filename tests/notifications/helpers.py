"""Reading mail the way only its recipient can: from the outbox, through the mailer."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from app.core.container import Container
from app.models.security import OutboxMessage
from app.notifications.mailer import MemoryMailer
from app.notifications.service import DeliveryReport, deliver_pending
from app.notifications.templates import RenderedEmail

_TOKEN_IN_LINK = re.compile(r"#token=([A-Za-z0-9_-]+)")


def use_memory_mailer(container: Container) -> MemoryMailer:
    mailer = MemoryMailer()
    container.mailer = mailer
    return mailer


async def run_outbox(container: Container, *, batch: int = 100) -> DeliveryReport:
    return await deliver_pending(container.database, container.mailer, container.clock, batch=batch)


async def outbox(container: Container) -> Sequence[OutboxMessage]:
    """Every queued message, oldest first, decrypted by the ORM."""
    async with container.database.unit_of_work() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return rows.all()


def payload_of(message: OutboxMessage) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(message.payload)
    return payload


def token_in(text: str) -> str:
    match = _TOKEN_IN_LINK.search(text)
    assert match is not None, "no #token= link in the mail"
    return match.group(1)


async def mailed_token(
    container: Container, mailer: MemoryMailer, *, to: str, template: str
) -> str:
    """Deliver the outbox, then read the newest link of `template` sent to `to`."""
    await run_outbox(container)
    messages: list[RenderedEmail] = [m for m in mailer.to(to) if m.template == template]
    assert messages, f"no {template} mail to the address"
    return token_in(messages[-1].body)
