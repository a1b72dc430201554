"""Consents, the welcome cookie's tokens, the export and erasure: the business rules.

No HTTP here: the router reads and writes cookies and passes plain values in and out.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, ActorKind, record_change, record_data_access
from app.auth.repository import UserRepository
from app.auth.service import AuthService
from app.auth.service import email_index as user_email_index
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams
from app.core.security import new_token, token_digest
from app.models.customer import Customer
from app.models.privacy import ConsentRecord, ErasureRequest, WelcomeToken
from app.models.session import EndReason
from app.privacy.erasure import (
    CUSTOMER_EMAIL_INDEX_CONTEXT,
    anonymised_values,
    placeholder_email,
    refuse_if_blocked,
)
from app.privacy.export import CUSTOMER_ENTITY, ExportContext, build_export
from app.privacy.repository import (
    ConsentRepository,
    CustomerPrivacyRepository,
    ErasureRequestRepository,
    WelcomeTokenRepository,
)

CONSENT_KINDS = ("tracking_cookies", "marketing_email")
WELCOME_DAYS = 90
GENERIC_GREETING = "Welcome!"


class CustomerRecordMissing(NotFound):
    code = "customer_not_found"
    title = "No customer record"


class ErasureAlreadyRequested(Conflict):
    code = "erasure_already_requested"
    title = "An erasure request is already open"


class ErasureRequestClosed(Conflict):
    code = "erasure_request_not_pending"
    title = "The erasure request was already reviewed"


@dataclass(frozen=True)
class ConsentState:
    choices: dict[str, bool]
    history: Sequence[ConsentRecord]


@dataclass(frozen=True)
class VisitorConsent:
    """The consent cookie's content: a random visitor id and the choices (no personal data)."""

    visitor_id: str
    choices: dict[str, bool]
    policy_version: str

    def dumps(self) -> str:
        return json.dumps(
            {"v": self.visitor_id, "c": self.choices, "p": self.policy_version},
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str | None) -> VisitorConsent | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            visitor_id = str(data["v"])
            choices = {kind: bool(data["c"].get(kind, False)) for kind in CONSENT_KINDS}
            return cls(visitor_id=visitor_id, choices=choices, policy_version=str(data["p"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def default_choices() -> dict[str, bool]:
    return dict.fromkeys(CONSENT_KINDS, False)


class PrivacyService:
    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.policy_version = container.settings.privacy_policy_version
        self.customers = CustomerPrivacyRepository(session)
        self.consents = ConsentRepository(session)
        self.welcome = WelcomeTokenRepository(session)
        self.erasures = ErasureRequestRepository(session)

    # ------------------------------------------------------------------ the customer

    async def customer_of(self, user_id: uuid.UUID) -> Customer:
        customer = await self.customers.by_user_id(user_id)
        if customer is None or customer.anonymised_at is not None:
            raise CustomerRecordMissing("This account has no customer record.")
        return customer

    # ------------------------------------------------------------------ consents

    async def my_consents(self, user_id: uuid.UUID) -> ConsentState:
        customer = await self.customer_of(user_id)
        history = await self.consents.history(customer_id=customer.id)
        return ConsentState(choices=_current(history), history=history)

    async def set_my_consents(
        self, user_id: uuid.UUID, *, choices: dict[str, bool], client: ClientInfo
    ) -> ConsentState:
        """Each change is a new row; choices that did not change record nothing."""
        customer = await self.customer_of(user_id)
        history = await self.consents.history(customer_id=customer.id)
        current = _current(history)
        for kind in CONSENT_KINDS:
            if kind in choices and (choices[kind] != current[kind] or not _has(history, kind)):
                await self._record(
                    kind, choices[kind], source="member_area", client=client, customer=customer
                )
        await self.session.flush()
        history = await self.consents.history(customer_id=customer.id)
        return ConsentState(choices=_current(history), history=history)

    async def set_visitor_consent(
        self, existing: VisitorConsent | None, *, choices: dict[str, bool], client: ClientInfo
    ) -> VisitorConsent:
        visitor_id = existing.visitor_id if existing else secrets.token_urlsafe(18)
        before = existing.choices if existing else None
        for kind in CONSENT_KINDS:
            if before is None or before[kind] != choices[kind]:
                await self._record(
                    kind,
                    choices[kind],
                    source="cookie_banner",
                    client=client,
                    visitor_id=visitor_id,
                )
        await self.session.flush()
        return VisitorConsent(
            visitor_id=visitor_id, choices=dict(choices), policy_version=self.policy_version
        )

    async def _record(
        self,
        kind: str,
        granted: bool,
        *,
        source: str,
        client: ClientInfo,
        customer: Customer | None = None,
        visitor_id: str | None = None,
    ) -> None:
        self.session.add(
            ConsentRecord(
                customer_id=customer.id if customer else None,
                visitor_id=visitor_id,
                kind=kind,
                granted=granted,
                policy_version=self.policy_version,
                source=source,
                ip=client.ip,
                created_at=self.clock.now(),
            )
        )

    # ------------------------------------------------------------------ welcome cookie

    async def opt_in_welcome(self, user_id: uuid.UUID) -> tuple[str, WelcomeToken]:
        """A new random secret for this browser; only its digest is stored (P16, P18)."""
        customer = await self.customer_of(user_id)
        now = self.clock.now()
        secret = new_token(32)
        token = WelcomeToken(
            token_hash=token_digest(secret),
            customer_id=customer.id,
            created_at=now,
            expires_at=now + timedelta(days=WELCOME_DAYS),
        )
        await self.welcome.add(token)
        return secret, token

    async def opt_out_welcome(self, user_id: uuid.UUID) -> None:
        customer = await self.customer_of(user_id)
        await self.welcome.revoke_for_customer(customer.id, at=self.clock.now())

    async def welcome_status(self, user_id: uuid.UUID) -> WelcomeToken | None:
        customer = await self.customer_of(user_id)
        active = await self.welcome.active_for_customer(customer.id, now=self.clock.now())
        return active[0] if active else None

    async def greeting_for(self, secret: str | None) -> str | None:
        """The first name is read from the record now, never from the cookie. None: the
        cookie (if any) is not valid any more."""
        if not secret:
            return None
        token = await self.welcome.by_hash(token_digest(secret))
        if token is None or token.revoked_at is not None or token.expires_at <= self.clock.now():
            return None
        customer = await self.customers.get(token.customer_id)
        if customer is None or customer.anonymised_at is not None:
            return None
        return f"Welcome back, {customer.first_name}!"

    # ------------------------------------------------------------------ export

    async def export(self, user_id: uuid.UUID) -> dict[str, Any]:
        customer = await self.customer_of(user_id)
        user = await UserRepository(self.session).get_or_raise(user_id)
        return await build_export(
            ExportContext(
                session=self.session, container=self.container, customer=customer, user=user
            )
        )

    # ------------------------------------------------------------------ erasure

    async def request_erasure(
        self, user_id: uuid.UUID, *, reason: str | None, client: ClientInfo
    ) -> ErasureRequest:
        customer = await self.customer_of(user_id)
        # The customer's row lock serialises concurrent requests: one open request at most.
        await self.customers.get_for_update(customer.id)
        if await self.erasures.open_for_customer(customer.id) is not None:
            raise ErasureAlreadyRequested("Your earlier erasure request is still being reviewed.")
        await refuse_if_blocked(self.session, customer)
        now = self.clock.now()
        request = ErasureRequest(
            customer_id=customer.id,
            status="pending",
            reason=reason.strip() if reason and reason.strip() else None,
            requested_at=now,
        )
        await self.erasures.add(request)
        await record_change(
            self.session,
            entity_type=CUSTOMER_ENTITY,
            entity_id=customer.id,
            action="erasure_requested",
            actor=Actor(kind=ActorKind.CUSTOMER, user_id=user_id, ip=client.ip),
            at=now,
        )
        return request

    async def list_requests(
        self, *, reviewer: uuid.UUID, status: str | None, page: PageParams, client: ClientInfo
    ) -> tuple[Sequence[ErasureRequest], str | None]:
        rows, next_cursor = await self.erasures.listing(page=page, status=status)
        actor = Actor(kind=ActorKind.STAFF, user_id=reviewer, ip=client.ip)
        for customer_id in {row.customer_id for row in rows}:
            await record_data_access(
                self.session,
                customer_id=customer_id,
                actor=actor,
                purpose="privacy.erasure_review",
                at=self.clock.now(),
            )
        return rows, next_cursor

    async def reject(
        self, request_id: uuid.UUID, *, reviewer: uuid.UUID, note: str, client: ClientInfo
    ) -> ErasureRequest:
        request = await self._pending(request_id)
        now = self.clock.now()
        request.status = "rejected"
        request.reviewed_by_id = reviewer
        request.reviewed_at = now
        request.review_note = note
        await record_change(
            self.session,
            entity_type=CUSTOMER_ENTITY,
            entity_id=request.customer_id,
            action="erasure_rejected",
            actor=Actor(kind=ActorKind.STAFF, user_id=reviewer, ip=client.ip),
            at=now,
        )
        await self.session.flush()
        return request

    async def approve(
        self, request_id: uuid.UUID, *, reviewer: uuid.UUID, note: str, client: ClientInfo
    ) -> ErasureRequest:
        """Anonymise at once: the record, the login, sessions, consents, welcome tokens."""
        request = await self._pending(request_id)
        customer = await self.customers.get_for_update(request.customer_id)
        if customer is None:  # pragma: no cover - the foreign key cascades
            raise CustomerRecordMissing()
        await refuse_if_blocked(self.session, customer)
        now = self.clock.now()
        actor = Actor(kind=ActorKind.STAFF, user_id=reviewer, ip=client.ip)

        values = anonymised_values(customer)
        changes = {field: (getattr(customer, field), value) for field, value in values.items()}
        for field, value in values.items():
            setattr(customer, field, value)
        customer.email_index = self.container.crypto.blind_index.digest(
            values["email"], context=CUSTOMER_EMAIL_INDEX_CONTEXT
        )
        customer.closed_at = customer.closed_at or now
        customer.anonymised_at = now
        customer.updated_at = now
        await self.customers.delete_notes(customer.id)
        await self.consents.delete_for_customer(customer.id)
        await self.welcome.delete_for_customer(customer.id)

        if customer.user_id is not None:
            await self._disable_login(customer.user_id, reviewer=reviewer, client=client)

        request.status = "completed"
        request.reason = None  # free text the customer wrote may name people
        request.reviewed_by_id = reviewer
        request.reviewed_at = now
        request.review_note = note
        request.completed_at = now
        await record_change(
            self.session,
            entity_type=CUSTOMER_ENTITY,
            entity_id=customer.id,
            action="anonymised",
            actor=actor,
            at=now,
            changes=changes,
        )
        await self.session.flush()
        return request

    async def _disable_login(
        self, user_id: uuid.UUID, *, reviewer: uuid.UUID, client: ClientInfo
    ) -> None:
        users = UserRepository(self.session)
        user = await users.get_or_raise(user_id)
        now = self.clock.now()
        placeholder = placeholder_email(user.id)
        user.email = placeholder
        user.email_index = user_email_index(self.container.crypto, placeholder)
        user.display_name = None
        # A hash of a secret nobody ever saw: a valid hash format that no password matches.
        user.password_hash = await self.container.hasher.hash(new_token(32))
        user.totp_secret = None
        user.totp_enabled_at = None
        user.totp_last_step = None
        user.is_active = False
        user.disabled_at = user.disabled_at or now
        user.updated_at = now
        await self.session.flush()
        await AuthService(session=self.session, container=self.container).end_all_sessions(
            user.id, reason=EndReason.USER_DISABLED, client=client, actor_id=reviewer
        )
        await self.customers.scrub_user_traces(user.id)

    async def _pending(self, request_id: uuid.UUID) -> ErasureRequest:
        request = await self.erasures.get_for_update(request_id)
        if request.status != "pending":
            raise ErasureRequestClosed(f"This request is already {request.status}.")
        return request


def _has(history: Sequence[ConsentRecord], kind: str) -> bool:
    return any(row.kind == kind for row in history)


def _current(history: Sequence[ConsentRecord]) -> dict[str, bool]:
    """History is newest first: the first row per kind is in force; default not granted."""
    state: dict[str, bool] = {}
    for row in history:
        state.setdefault(row.kind, row.granted)
    return {kind: state.get(kind, False) for kind in CONSENT_KINDS}
