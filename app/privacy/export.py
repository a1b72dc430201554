"""The data export (GET /me/export): one JSON document of everything held about a customer.

Each capability contributes a section through one small function registered in
`EXPORT_SECTIONS`; billing adds `invoices` and `payments`, support `tickets`, analytics `visits`
— the export grows with the system without this module learning about them (P13).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Container
from app.models.customer import Customer
from app.models.user import User
from app.privacy.repository import (
    ConsentRepository,
    CustomerPrivacyRepository,
    ErasureRequestRepository,
)

CUSTOMER_ENTITY = "customer"


@dataclass(frozen=True)
class ExportContext:
    session: AsyncSession
    container: Container
    customer: Customer
    user: User


ExportSection = Callable[[ExportContext], Awaitable[Any]]


async def profile_section(ctx: ExportContext) -> dict[str, Any]:
    c = ctx.customer
    return {
        "number": c.number,
        "status": c.status,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": c.company,
        "email": c.email,
        "phone": c.phone,
        "address_line1": c.address_line1,
        "address_line2": c.address_line2,
        "city": c.city,
        "postal_code": c.postal_code,
        "region": c.region,
        "country": c.country,
        "date_of_birth": c.date_of_birth,
        "vat_id": c.vat_id,
        "tax_exempt": c.tax_exempt,
        "currency": c.currency,
        "language": c.language,
        "identity_status": c.identity_status,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


async def account_section(ctx: ExportContext) -> dict[str, Any]:
    u = ctx.user
    return {
        "email": u.email,
        "display_name": u.display_name,
        "created_at": u.created_at,
        "email_verified_at": u.email_verified_at,
        "password_changed_at": u.password_changed_at,
        "mfa_enabled": u.mfa_enabled,
    }


async def consents_section(ctx: ExportContext) -> list[dict[str, Any]]:
    rows = await ConsentRepository(ctx.session).history(customer_id=ctx.customer.id)
    return [
        {
            "kind": row.kind,
            "granted": row.granted,
            "policy_version": row.policy_version,
            "source": row.source,
            "ip": row.ip,
            "created_at": row.created_at,
        }
        for row in rows
    ]


async def sessions_section(ctx: ExportContext) -> list[dict[str, Any]]:
    rows = await CustomerPrivacyRepository(ctx.session).sessions_of_user(ctx.user.id)
    return [
        {
            "mode": row.mode,
            "created_at": row.created_at,
            "last_seen_at": row.last_seen_at,
            "ended_at": row.ended_at,
            "end_reason": row.end_reason,
            "ip": row.ip,
            "user_agent": row.user_agent,
        }
        for row in rows
    ]


async def security_events_section(ctx: ExportContext) -> list[dict[str, Any]]:
    rows = await CustomerPrivacyRepository(ctx.session).security_events_of_user(ctx.user.id)
    return [
        {
            "event_type": row.event_type,
            "created_at": row.created_at,
            "ip": row.ip,
            "user_agent": row.user_agent,
            "by_someone_else": row.actor_id is not None and row.actor_id != ctx.user.id,
            "details": row.details,
        }
        for row in rows
    ]


async def audit_trail_section(ctx: ExportContext) -> list[dict[str, Any]]:
    rows = await CustomerPrivacyRepository(ctx.session).audit_of_customer(
        ctx.customer.id, entity_type=CUSTOMER_ENTITY
    )
    return [
        {
            "action": row.action,
            "actor_kind": row.actor_kind,
            "ip": row.ip,
            "changes": row.changes,
            "created_at": row.created_at,
        }
        for row in rows
    ]


async def data_access_section(ctx: ExportContext) -> list[dict[str, Any]]:
    """When staff or integrations opened the record (who exactly stays internal)."""
    rows = await CustomerPrivacyRepository(ctx.session).data_access_of_customer(ctx.customer.id)
    return [{"purpose": row.purpose, "created_at": row.created_at} for row in rows]


async def welcome_section(ctx: ExportContext) -> list[dict[str, Any]]:
    rows = await CustomerPrivacyRepository(ctx.session).welcome_tokens_of_customer(ctx.customer.id)
    return [
        {"created_at": row.created_at, "expires_at": row.expires_at, "revoked_at": row.revoked_at}
        for row in rows
    ]


async def erasure_requests_section(ctx: ExportContext) -> list[dict[str, Any]]:
    rows = await ErasureRequestRepository(ctx.session).for_customer(ctx.customer.id)
    return [
        {
            "status": row.status,
            "reason": row.reason,
            "requested_at": row.requested_at,
            "reviewed_at": row.reviewed_at,
            "completed_at": row.completed_at,
        }
        for row in rows
    ]


# The one place a capability registers what it holds about a customer.
EXPORT_SECTIONS: dict[str, ExportSection] = {
    "profile": profile_section,
    "account": account_section,
    "consents": consents_section,
    "sessions": sessions_section,
    "security_events": security_events_section,
    "audit_trail": audit_trail_section,
    "data_access": data_access_section,
    "welcome_cookie": welcome_section,
    "erasure_requests": erasure_requests_section,
}


async def build_export(ctx: ExportContext) -> dict[str, Any]:
    return {name: await section(ctx) for name, section in EXPORT_SECTIONS.items()}
