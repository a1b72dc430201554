"""The outbox and its delivery job (P2): mail leaves only for committed changes, is stored
encrypted, is sent once, and failures are retried a bounded number of times."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from app.core.clock import FrozenClock
from app.core.container import Container
from app.models.security import OutboxMessage
from app.notifications.mailer import DeliveryFailed, MemoryMailer
from app.notifications.service import MAX_ATTEMPTS, deliver_pending, enqueue_email
from app.notifications.templates import EmailTemplate, RenderedEmail
from tests.notifications.helpers import outbox, payload_of, run_outbox, use_memory_mailer

ADDRESS = "grace.hopper@example.org"
TOKEN = "Zq9-unique-secret-token-value-0123456789abcdef"


def _verify_payload(token: str = TOKEN) -> dict[str, object]:
    return {
        "name": "Grace",
        "link": f"http://localhost:5173/verify-email#token={token}",
        "expires_in_hours": 48,
    }


async def _enqueue(container: Container, count: int = 1, *, address: str = ADDRESS) -> None:
    async with container.database.unit_of_work() as session:
        for index in range(count):
            await enqueue_email(
                session,
                template=EmailTemplate.VERIFY_EMAIL,
                recipient=address,
                payload=_verify_payload(f"{TOKEN}{index}"),
                now=container.clock.now(),
            )


@pytest.fixture
def mailer(container: Container) -> MemoryMailer:
    return use_memory_mailer(container)


class FlakyMailer:
    """Refuses the first `failures` attempts of every message, then accepts."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or DeliveryFailed("smtp_421")
        self.tries: dict[str, int] = {}
        self.sent: list[RenderedEmail] = []

    async def send(self, message: RenderedEmail) -> None:
        self.tries[message.message_id] = self.tries.get(message.message_id, 0) + 1
        if self.tries[message.message_id] <= self.failures:
            raise self.error
        self.sent.append(message)


# --------------------------------------------------------------------------- enqueue


async def test_mail_is_queued_only_if_the_change_commits(container: Container) -> None:
    """P2: enqueue_email joins the caller's transaction; a rollback takes the mail with it."""

    async def change_that_fails() -> None:
        async with container.database.unit_of_work() as session:
            await enqueue_email(
                session,
                template=EmailTemplate.VERIFY_EMAIL,
                recipient=ADDRESS,
                payload=_verify_payload(),
                now=container.clock.now(),
            )
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    assert await outbox(container) == []
    await _enqueue(container)
    [message] = await outbox(container)
    assert (message.status, message.attempts, message.template) == (
        "pending",
        0,
        "verify_email",
    )
    assert message.recipient == ADDRESS
    assert payload_of(message)["link"].endswith(f"#token={TOKEN}0")


async def test_outbox_row_holds_recipient_and_payload_encrypted(container: Container) -> None:
    """P2, P12: neither the address nor the token is readable in the stored row."""
    await _enqueue(container)
    async with container.database.engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT recipient, payload, template FROM outbox_messages")
            )
        ).one()
    raw = " ".join(str(value) for value in row)
    for secret in (ADDRESS, "grace.hopper", "example.org", TOKEN, "Grace", "verify-email#"):
        assert secret not in raw
    assert row.recipient.startswith("v1.")
    assert row.payload.startswith("v1.")


# --------------------------------------------------------------------------- delivery


async def test_job_sends_pending_mail_once_and_marks_it_sent(
    container: Container, mailer: MemoryMailer, clock: FrozenClock
) -> None:
    """P2: the job delivers every pending message and is idempotent."""
    await _enqueue(container, 3)
    clock.advance(minutes=1)
    report = await run_outbox(container)
    assert (report.sent, report.retrying, report.failed) == (3, 0, 0)
    assert [m.recipient for m in mailer.sent] == [ADDRESS] * 3
    rows = await outbox(container)
    assert {m.status for m in rows} == {"sent"}
    assert {m.sent_at for m in rows} == {clock.now()}
    assert {m.attempts for m in rows} == {1}
    assert [m.message_id for m in mailer.sent] == [str(m.id) for m in rows]  # oldest first

    again = await run_outbox(container)
    assert again.attempted == 0
    assert len(mailer.sent) == 3


async def test_batch_bounds_one_run(container: Container, mailer: MemoryMailer) -> None:
    await _enqueue(container, 3)
    assert (await run_outbox(container, batch=2)).sent == 2
    assert (await run_outbox(container, batch=2)).sent == 1
    assert len({m.message_id for m in mailer.sent}) == 3


async def test_failed_delivery_is_retried_by_the_next_run(container: Container) -> None:
    """P2: a refused message stays pending with a short error code, then goes out."""
    flaky = FlakyMailer(failures=2)
    container.mailer = flaky
    await _enqueue(container)
    for attempt in (1, 2):
        report = await run_outbox(container)
        assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
        [message] = await outbox(container)
        assert (message.status, message.attempts, message.last_error) == (
            "pending",
            attempt,
            "smtp_421",
        )
    report = await run_outbox(container)
    assert report.sent == 1
    [message] = await outbox(container)
    assert (message.status, message.attempts) == ("sent", 3)
    assert len(flaky.sent) == 1


async def test_delivery_gives_up_after_five_attempts(container: Container) -> None:
    container.mailer = FlakyMailer(failures=1000)
    await _enqueue(container)
    for _ in range(MAX_ATTEMPTS - 1):
        assert (await run_outbox(container)).retrying == 1
    assert (await run_outbox(container)).failed == 1
    [message] = await outbox(container)
    assert (message.status, message.attempts) == ("failed", MAX_ATTEMPTS)
    assert (await run_outbox(container)).attempted == 0  # never tried again


async def test_stored_error_never_quotes_the_mail_server(container: Container) -> None:
    """P12: a server's message may echo the address; only the exception's type is kept."""
    container.mailer = FlakyMailer(failures=1, error=RuntimeError(f"550 <{ADDRESS}> rejected"))
    await _enqueue(container)
    await run_outbox(container)
    [message] = await outbox(container)
    assert message.last_error == "RuntimeError"


async def test_one_failing_message_does_not_hold_up_the_others(container: Container) -> None:
    class RefusesOne:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, message: RenderedEmail) -> None:
            if message.recipient == "refused@example.com":
                raise DeliveryFailed("mailbox_unavailable")
            self.sent.append(message.recipient)

    mailer = RefusesOne()
    container.mailer = mailer
    await _enqueue(container, address="refused@example.com")
    await _enqueue(container, 2)
    report = await run_outbox(container)
    assert (report.sent, report.retrying) == (2, 1)
    assert mailer.sent == [ADDRESS, ADDRESS]


async def test_unreadable_message_is_set_aside_at_once(
    container: Container, mailer: MemoryMailer
) -> None:
    """A message that cannot render will not improve with retries: failed, the queue moves on."""
    async with container.database.unit_of_work() as session:
        session.add(
            OutboxMessage(
                template="no_such_template",
                recipient=ADDRESS,
                payload="{}",
                created_at=container.clock.now(),
            )
        )
    await _enqueue(container)
    report = await run_outbox(container)
    assert (report.sent, report.failed) == (1, 1)
    async with container.database.unit_of_work() as session:
        broken = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.template == "no_such_template")
            )
        ).one()
    assert broken.status == "failed"
    assert broken.last_error == "unrenderable:TemplateError"


@pytest.mark.postgres_only
async def test_concurrent_runs_never_send_a_message_twice(container: Container) -> None:
    """P2 on PostgreSQL: several workers run the job at once (FOR UPDATE SKIP LOCKED); every
    message goes out exactly once."""

    class SlowMailer:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, message: RenderedEmail) -> None:
            await asyncio.sleep(0.005)  # hold the row lock while "talking to the server"
            self.sent.append(message.message_id)

    mailer = SlowMailer()
    await _enqueue(container, 40)
    reports = await asyncio.gather(
        *(deliver_pending(container.database, mailer, container.clock) for _ in range(4))
    )
    assert sum(report.sent for report in reports) == 40
    assert len(mailer.sent) == 40
    assert len(set(mailer.sent)) == 40
    assert sum(1 for report in reports if report.sent) > 1  # the work was really shared
    rows = await outbox(container)
    assert {m.status for m in rows} == {"sent"}
    assert {m.attempts for m in rows} == {1}
    assert all(m.sent_at is not None for m in rows)
