"""The outbox (P2): mail is queued in the transaction of the change it announces, and sent
by a job, so a message goes out only if that change committed, and a slow or failing mail
server never fails or slows a request.

Delivery is at least once: each message is sent while its row is locked and marked in the
same short transaction, so two workers never send it concurrently; only a crash between the
mailer's acceptance and the commit can repeat a message (the stable message id lets a
provider drop the duplicate).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import Clock
from app.core.db import Database
from app.models.security import OutboxMessage
from app.notifications.mailer import DeliveryFailed, Mailer
from app.notifications.repository import OutboxRepository, OutboxStatus
from app.notifications.templates import (
    EmailTemplate,
    RenderedEmail,
    TemplateError,
    check_payload,
    render,
)

logger = logging.getLogger("hostledger.outbox")

MAX_ATTEMPTS = 5
_ERROR_MAX = 200  # the column's width


async def enqueue_email(
    session: AsyncSession,
    *,
    template: EmailTemplate,
    recipient: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> OutboxMessage:
    """Queue a message in the caller's transaction. Recipient and payload are encrypted at
    rest; the payload must be JSON (strings, numbers) and carry what the template needs."""
    check_payload(template, payload)
    message = OutboxMessage(
        channel="email",
        template=template.value,
        recipient=recipient,
        payload=json.dumps(dict(payload), separators=(",", ":"), sort_keys=True),
        status=OutboxStatus.PENDING.value,
        attempts=0,
        created_at=now,
    )
    return await OutboxRepository(session).add(message)


def render_message(message: OutboxMessage) -> RenderedEmail:
    payload = json.loads(message.payload)
    if not isinstance(payload, dict):
        raise TemplateError("the payload is not an object")
    return render(
        message.template,
        message_id=str(message.id),
        recipient=message.recipient,
        payload=payload,
    )


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0  # failed this time, will be tried again by a later run
    failed: int = 0  # gave up (attempts exhausted, or the message cannot be rendered)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


def error_code(exc: BaseException) -> str:
    """A short code for the row: the mailer's own code, else only the exception's type name
    (messages from mail servers often quote the address)."""
    code = exc.code if isinstance(exc, DeliveryFailed) else type(exc).__name__
    return code[:_ERROR_MAX]


async def deliver_pending(
    database: Database, mailer: Mailer, clock: Clock, *, batch: int = 100
) -> DeliveryReport:
    """Send up to `batch` pending messages, oldest first, one short transaction each.

    Each message is claimed with `FOR UPDATE SKIP LOCKED`, sent, and marked `sent`, or has
    its attempt counted with a short error code and, after `MAX_ATTEMPTS`, is marked `failed`.
    A message is tried at most once per run, so a failing one is retried by the next run.
    Safe to run on several workers at once.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    sent = retrying = failed = 0
    after: uuid.UUID | None = None
    for _ in range(batch):
        async with database.unit_of_work() as session:
            outbox = OutboxRepository(session)
            message_id = await outbox.claim_next_pending(after=after)
            if message_id is None:
                break
            after = message_id
            outcome = await _deliver_one(session, outbox, message_id, mailer=mailer, clock=clock)
        if outcome is OutboxStatus.SENT:
            sent += 1
        elif outcome is OutboxStatus.FAILED:
            failed += 1
        else:
            retrying += 1
    return DeliveryReport(sent=sent, retrying=retrying, failed=failed)


async def _deliver_one(
    session: AsyncSession,
    outbox: OutboxRepository,
    message_id: uuid.UUID,
    *,
    mailer: Mailer,
    clock: Clock,
) -> OutboxStatus:
    try:
        message = await outbox.get_or_raise(message_id)
        rendered = render_message(message)
    except ValueError as exc:  # DecryptionError, TemplateError, a payload that is not JSON
        # It will not read better next time: set it aside at once and say why in the log.
        code = f"unrenderable:{type(exc).__name__}"[:_ERROR_MAX]
        session.expunge_all()
        await outbox.set_aside(message_id, error=code)
        logger.error(
            "outbox message cannot be rendered",
            extra={"fields": {"message_id": str(message_id), "error": code}},
        )
        return OutboxStatus.FAILED
    message.attempts += 1
    try:
        await mailer.send(rendered)
    except Exception as exc:
        message.last_error = error_code(exc)
        if message.attempts >= MAX_ATTEMPTS:
            message.status = OutboxStatus.FAILED.value
        logger.warning(
            "outbox delivery failed",
            extra={
                "fields": {
                    "message_id": str(message.id),
                    "template": message.template,
                    "attempts": message.attempts,
                    "error": message.last_error,
                    "gave_up": message.status == OutboxStatus.FAILED.value,
                }
            },
        )
        return OutboxStatus(message.status)
    message.status = OutboxStatus.SENT.value
    message.sent_at = clock.now()
    return OutboxStatus.SENT
