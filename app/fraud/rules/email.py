"""Email rules: throwaway inboxes and free-mail providers."""

from __future__ import annotations

from disposable_email_domains import blocklist as disposable_domains

from app.fraud.rules.base import BOTH_SUBJECTS, Hit, RuleContext, RuleParams, RuleSpec, fraud_rule

# Common free-mail providers; staff replace the list through the rule's `domains` parameter.
FREE_MAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "aol.com",
    "icloud.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.ru",
    "yandex.ru",
    "proton.me",
    "protonmail.com",
)


def _domain_and_parents(domain: str) -> list[str]:
    """`a.b.mailinator.com` → itself, `b.mailinator.com`, `mailinator.com` (not the TLD)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


@fraud_rule(
    RuleSpec(
        code="disposable_email",
        family="email",
        title="The email address is at a disposable (throwaway) email provider",
        weight=40,
        subjects=BOTH_SUBJECTS,
    )
)
async def disposable_email(context: RuleContext, params: RuleParams) -> Hit | None:
    domain = context.inputs.email_domain
    if domain is None:
        return None
    matched = next((d for d in _domain_and_parents(domain) if d in disposable_domains), None)
    if matched is None:
        return None
    return Hit(
        f"The email domain {matched} belongs to a disposable email provider.",
        {"email_domain": matched},
    )


@fraud_rule(
    RuleSpec(
        code="free_email",
        family="email",
        title="The email address is at a free-mail provider",
        weight=10,
        params={"domains": list(FREE_MAIL_DOMAINS)},
        subjects=BOTH_SUBJECTS,
    )
)
async def free_email(context: RuleContext, params: RuleParams) -> Hit | None:
    domain = context.inputs.email_domain
    domains = {str(d).lower() for d in params.get("domains") or ()}
    if domain is None or domain not in domains:
        return None
    return Hit(f"The email domain {domain} is a free-mail provider.", {"email_domain": domain})
