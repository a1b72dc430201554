"""The staff view of customers: find, open (logged, P13), change status (audited, P10) and
keep internal notes (encrypted, P12). `support` reads; `billing` and `admin` write — the
routes enforce the scopes, this module the rules.

Logging choice: one `DataAccess` row each time a customer's record (or their notes) is opened,
in the request's own unit of work. Listings record nothing: a row per listed customer would
turn a constant-cost page into N inserts, and the listing shows no contact data (no email,
phone, address, VAT id or date of birth) — opening a record is where personal data is read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, ActorKind, DataAccessRepository, record_change
from app.audit.service import record_data_access as log_data_access
from app.auth.principal import Principal
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.errors import Conflict, FieldError, InvalidInput
from app.core.pagination import PageParams
from app.customers.admin_repository import (
    CustomerAdminRepository,
    CustomerNoteRepository,
    CustomerQuery,
)
from app.customers.repository import CustomerNotFound

# The exact-email search must hash like the record does: one blind-index context, defined
# beside the customer record.
from app.customers.service import customer_email_index
from app.models.audit import DataAccess
from app.models.customer import Customer, CustomerNote, CustomerStatus, IdentityStatus

PURPOSE_READ = "customers.read"
PURPOSE_NOTES = "customers.notes.read"


class InvalidStatusTransition(Conflict):
    code = "invalid_status_transition"
    title = "The customer cannot move to that status"


class StatusAction(StrEnum):
    SUSPEND = "suspended"
    REACTIVATE = "reactivated"
    CLOSE = "closed"


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[StatusAction, tuple[frozenset[CustomerStatus], CustomerStatus]] = {
    StatusAction.SUSPEND: (frozenset({CustomerStatus.ACTIVE}), CustomerStatus.SUSPENDED),
    StatusAction.REACTIVATE: (frozenset({CustomerStatus.SUSPENDED}), CustomerStatus.ACTIVE),
    StatusAction.CLOSE: (
        frozenset({CustomerStatus.PROSPECT, CustomerStatus.ACTIVE, CustomerStatus.SUSPENDED}),
        CustomerStatus.CLOSED,
    ),
}


def actor_of(principal: Principal, client: ClientInfo) -> Actor:
    if principal.user is not None:
        kind = ActorKind.STAFF if principal.is_staff else ActorKind.CUSTOMER
        return Actor(kind=kind, user_id=principal.user.id, ip=client.ip)
    return Actor(kind=ActorKind.API_KEY, api_key_id=principal.api_key_id, ip=client.ip)


@dataclass(frozen=True)
class CustomerSearch:
    """The listing's filters as the API receives them (times timezone-aware)."""

    status: CustomerStatus | None = None
    country: str | None = None
    identity_status: IdentityStatus | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    email: str | None = None
    number: str | None = None
    name: str | None = None


def _utc(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(
            [FieldError(field=field, code="datetime_out_of_range", message="Out of range.")]
        ) from exc


class CustomerAdminService:
    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.customers = CustomerAdminRepository(session)
        self.notes = CustomerNoteRepository(session)
        self.access_log = DataAccessRepository(session)

    # ------------------------------------------------------------------ finding

    def _query(self, search: CustomerSearch) -> CustomerQuery:
        created_from = _utc(search.created_from, "query.created_from")
        created_to = _utc(search.created_to, "query.created_to")
        if created_from is not None and created_to is not None and created_to <= created_from:
            raise InvalidInput(
                [
                    FieldError(
                        field="query.created_to",
                        code="created_to_not_after_created_from",
                        message="`created_to` must be later than `created_from`.",
                    )
                ]
            )
        email = search.email.strip() if search.email else None
        number = search.number.strip().upper() if search.number else None
        name = search.name.lstrip().lower() if search.name else None
        return CustomerQuery(
            status=search.status.value if search.status else None,
            country=search.country.strip().upper() if search.country else None,
            identity_status=search.identity_status.value if search.identity_status else None,
            created_from=created_from,
            created_to=created_to,
            email_index=customer_email_index(self.container.crypto, email) if email else None,
            number=number or None,
            name_prefix=name or None,
        )

    async def list_customers(
        self, *, search: CustomerSearch, page: PageParams
    ) -> tuple[Sequence[Customer], str | None]:
        """Newest first; one SELECT per page. Nothing is logged (see the module docstring)."""
        return await self.customers.listing(self._query(search), page=page)

    # ------------------------------------------------------------------ opening (logged)

    async def open_customer(
        self, *, reader: Principal, customer_id: uuid.UUID, client: ClientInfo
    ) -> Customer:
        customer = await self._get(customer_id)
        await log_data_access(
            self.session,
            customer_id=customer.id,
            actor=actor_of(reader, client),
            purpose=PURPOSE_READ,
            at=self.clock.now(),
        )
        return customer

    async def list_notes(
        self, *, reader: Principal, customer_id: uuid.UUID, page: PageParams, client: ClientInfo
    ) -> tuple[Sequence[CustomerNote], str | None]:
        if not await self.customers.exists(customer_id):
            raise CustomerNotFound()
        rows, next_cursor = await self.notes.for_customer(customer_id, page=page)
        await log_data_access(
            self.session,
            customer_id=customer_id,
            actor=actor_of(reader, client),
            purpose=PURPOSE_NOTES,
            at=self.clock.now(),
        )
        return rows, next_cursor

    async def access_log_page(
        self,
        *,
        page: PageParams,
        customer_id: uuid.UUID | None = None,
        actor_id: uuid.UUID | None = None,
        api_key_id: uuid.UUID | None = None,
    ) -> tuple[Sequence[DataAccess], str | None]:
        return await self.access_log.listing(
            page=page, customer_id=customer_id, actor_id=actor_id, api_key_id=api_key_id
        )

    # ------------------------------------------------------------------ changes (audited)

    async def change_status(
        self,
        *,
        actor: Principal,
        customer_id: uuid.UUID,
        action: StatusAction,
        reason: str | None,
        client: ClientInfo,
    ) -> Customer:
        customer = await self.customers.get_for_update(customer_id)
        if customer is None:
            raise CustomerNotFound()
        allowed_from, target = TRANSITIONS[action]
        current = CustomerStatus(customer.status)
        if current not in allowed_from:
            raise InvalidStatusTransition(
                f"A {current.value} customer cannot be {action.value}.",
                extra={"current_status": current.value},
            )
        now = self.clock.now()
        who = actor_of(actor, client)
        changes: dict[str, tuple[object, object]] = {"status": (current.value, target.value)}
        customer.status = target.value
        if action is StatusAction.SUSPEND:
            customer.suspended_at = now
        elif action is StatusAction.REACTIVATE:
            changes["suspended_at"] = (
                customer.suspended_at.isoformat() if customer.suspended_at else None,
                None,
            )
            customer.suspended_at = None
        else:
            customer.closed_at = now
        customer.updated_at = now
        await self.customers.add(customer)
        await record_change(
            self.session,
            entity_type="customer",
            entity_id=customer.id,
            action=action.value,
            actor=who,
            at=now,
            changes=changes,
        )
        if reason:
            # The reason may name people: it is kept as an encrypted internal note.
            await self.notes.add(
                CustomerNote(
                    customer_id=customer.id,
                    author_id=who.user_id,
                    body=f"[{action.value}] {reason}",
                    created_at=now,
                )
            )
        return customer

    async def add_note(
        self, *, actor: Principal, customer_id: uuid.UUID, body: str, client: ClientInfo
    ) -> CustomerNote:
        if not await self.customers.exists(customer_id):
            raise CustomerNotFound()
        now = self.clock.now()
        who = actor_of(actor, client)
        note = await self.notes.add(
            CustomerNote(customer_id=customer_id, author_id=who.user_id, body=body, created_at=now)
        )
        await record_change(
            self.session,
            entity_type="customer",
            entity_id=customer_id,
            action="note_added",
            actor=who,
            at=now,
        )
        return note

    async def _get(self, customer_id: uuid.UUID) -> Customer:
        customer = await self.customers.get(customer_id)
        if customer is None:
            raise CustomerNotFound()
        return customer
