"""The mail templates: which payload each one needs, and its subject and plain-text body.

Payloads are stored encrypted in the outbox and rendered only at delivery time, so a message
always reads the way the code that sends it says, and nothing personal sits in clear text.
Links point at the SPA and carry their secret in the URL fragment (`#token=…`), which browsers
never send to a server, so it cannot end up in an access log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from string import Template
from typing import Any


class EmailTemplate(StrEnum):
    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a template name, not a secret
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    EMAIL_CHANGED_OLD_ADDRESS = "email_changed_old_address"


class TemplateError(ValueError):
    """Unknown template, or a payload that lacks what the template needs."""


@dataclass(frozen=True)
class RenderedEmail:
    """One message, ready for a mailer. `message_id` is the outbox row's id (stable across
    retries, so a provider can de-duplicate on it)."""

    message_id: str
    template: str
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class _Spec:
    subject: Template
    body: Template
    required: frozenset[str]


_SIGNATURE = "\n\n-- \nHostledger\n"

_SPECS: dict[EmailTemplate, _Spec] = {
    EmailTemplate.VERIFY_EMAIL: _Spec(
        subject=Template("Confirm your email address"),
        body=Template(
            "Hello $name,\n\n"
            "please confirm that this is your email address by opening the link below within "
            "$expires_in_hours hours:\n\n"
            "$link\n\n"
            "If you did not create a Hostledger account, ignore this message."
        ),
        required=frozenset({"name", "link", "expires_in_hours"}),
    ),
    EmailTemplate.PASSWORD_RESET: _Spec(
        subject=Template("Reset your Hostledger password"),
        body=Template(
            "Hello $name,\n\n"
            "someone asked to reset the password of your Hostledger account. To choose a new "
            "password, open the link below within $expires_in_minutes minutes:\n\n"
            "$link\n\n"
            "The link works once. If you did not ask for it, ignore this message: your "
            "password stays as it is."
        ),
        required=frozenset({"name", "link", "expires_in_minutes"}),
    ),
    EmailTemplate.PASSWORD_CHANGED: _Spec(
        subject=Template("Your Hostledger password was changed"),
        body=Template(
            "Hello $name,\n\n"
            "the password of your Hostledger account was $how on $changed_at, and your other "
            "sessions were signed out.\n\n"
            "If this was not you, reset your password now at $help_link and contact support."
        ),
        required=frozenset({"name", "how", "changed_at", "help_link"}),
    ),
    EmailTemplate.EMAIL_CHANGED_OLD_ADDRESS: _Spec(
        # Sent when a change is requested (it takes effect once the new address is confirmed)
        # and when staff change the address: the wording is true in both cases.
        subject=Template("Your Hostledger email address is being changed"),
        body=Template(
            "Hello $name,\n\n"
            "on $changed_at a change of the email address of your Hostledger account to "
            "$new_address_masked was made. We send this notice to your current address.\n\n"
            "If this was not you, contact support at once: $help_link"
        ),
        required=frozenset({"name", "changed_at", "new_address_masked", "help_link"}),
    ),
}


def template_of(name: str) -> EmailTemplate:
    try:
        return EmailTemplate(name)
    except ValueError as exc:
        raise TemplateError(f"unknown email template {name!r}") from exc


def check_payload(template: EmailTemplate, payload: Mapping[str, Any]) -> None:
    """Fail when the message is queued, not later when the job renders it."""
    missing = _SPECS[template].required - payload.keys()
    if missing:
        raise TemplateError(f"{template.value} needs {', '.join(sorted(missing))}")


def render(
    template: EmailTemplate | str,
    *,
    message_id: str,
    recipient: str,
    payload: Mapping[str, Any],
) -> RenderedEmail:
    chosen = template if isinstance(template, EmailTemplate) else template_of(template)
    check_payload(chosen, payload)
    spec = _SPECS[chosen]
    values = {key: str(value) for key, value in payload.items()}
    return RenderedEmail(
        message_id=message_id,
        template=chosen.value,
        recipient=recipient,
        subject=spec.subject.substitute(values),
        body=spec.body.substitute(values) + _SIGNATURE,
    )
