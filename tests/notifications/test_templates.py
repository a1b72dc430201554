"""Mail templates and the mailers (P2): what a message says, and what a log line may not."""

from __future__ import annotations

import logging

import pytest

from app.notifications.mailer import DevelopmentMailer, MemoryMailer, mask_address
from app.notifications.templates import (
    EmailTemplate,
    RenderedEmail,
    TemplateError,
    check_payload,
    render,
)

ADDRESS = "jane.doe@example.com"
TOKEN = "S3cr3t-t0ken_value-abcdefghijklmnopqrstuvwxyz"
LINK = f"http://localhost:5173/verify-email#token={TOKEN}"

PAYLOADS: dict[EmailTemplate, dict[str, object]] = {
    EmailTemplate.VERIFY_EMAIL: {"name": "Jane", "link": LINK, "expires_in_hours": 48},
    EmailTemplate.PASSWORD_RESET: {"name": "Jane", "link": LINK, "expires_in_minutes": 30},
    EmailTemplate.PASSWORD_CHANGED: {
        "name": "Jane",
        "how": "changed",
        "changed_at": "15 January 2026 at 12:00 UTC",
        "help_link": "http://localhost:5173/forgot-password",
    },
    EmailTemplate.EMAIL_CHANGED_OLD_ADDRESS: {
        "name": "Jane",
        "changed_at": "15 January 2026 at 12:00 UTC",
        "new_address_masked": "j***@n***.com",
        "help_link": "http://localhost:5173/support",
    },
}


@pytest.mark.parametrize("template", list(EmailTemplate))
def test_every_template_renders_subject_and_body(template: EmailTemplate) -> None:
    """P2: each template the system sends has a subject and a body from its payload."""
    message = render(template, message_id="m1", recipient=ADDRESS, payload=PAYLOADS[template])
    assert message.subject
    assert "Hello Jane" in message.body
    assert "$" not in message.body + message.subject  # every placeholder was filled
    assert ADDRESS not in message.body  # the body never repeats the address


def test_a_payload_missing_a_value_is_refused_when_queued() -> None:
    with pytest.raises(TemplateError, match="link"):
        check_payload(EmailTemplate.VERIFY_EMAIL, {"name": "Jane", "expires_in_hours": 48})


def test_unknown_template_is_refused() -> None:
    with pytest.raises(TemplateError):
        render("newsletter", message_id="m1", recipient=ADDRESS, payload={})


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@example.com", "j***@e***.com"),
        ("a@b.co.uk", "a***@b***.uk"),
        ("x@localhost", "x***@l***"),
        ("not-an-address", "***"),
    ],
)
def test_addresses_are_masked(address: str, masked: str) -> None:
    assert mask_address(address) == masked


async def test_development_mailer_logs_one_redacted_line(caplog: pytest.LogCaptureFixture) -> None:
    """P2, P12: the log names the message but never holds the address, the link or the token."""
    caplog.set_level(logging.INFO, logger="hostledger.mail")
    message = render(
        EmailTemplate.VERIFY_EMAIL,
        message_id="0190-abc",
        recipient=ADDRESS,
        payload=PAYLOADS[EmailTemplate.VERIFY_EMAIL],
    )
    await DevelopmentMailer().send(message)
    records = [r for r in caplog.records if r.name == "hostledger.mail"]
    assert len(records) == 1
    record = records[0]
    logged = record.getMessage() + repr(getattr(record, "fields", {}))
    assert "verify_email" in logged
    assert "0190-abc" in logged
    assert "j***@e***.com" in logged
    for secret in (ADDRESS, "jane.doe", "example.com", TOKEN, LINK, message.subject):
        assert secret not in logged
        assert secret not in caplog.text


async def test_memory_mailer_keeps_what_it_is_given() -> None:
    mailer = MemoryMailer()
    message = RenderedEmail(
        message_id="m1", template="verify_email", recipient=ADDRESS, subject="s", body="b"
    )
    await mailer.send(message)
    assert mailer.sent == [message]
    assert mailer.to(ADDRESS) == [message]
    assert mailer.to("other@example.com") == []
