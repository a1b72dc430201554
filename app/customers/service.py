"""The customer record (P1, P2, P10, P11, P14): creation at registration, prospects, changes
by the customer or staff (every one audited), email changes proven by a fresh verification,
identity verification by staff.

The customer's email is encrypted at rest and found through its own blind index, computed
under the context `customers.email` (not the users' `users.email`): an index leaked from one
table cannot be joined against the other. Use `customer_email_index` for exact searches.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, ActorKind, AuditRepository, mask, record_change
from app.auth.emails import (
    FORGOT_PASSWORD_PATH,
    VERIFY_EMAIL_LIFETIME,
    VERIFY_EMAIL_PATH,
    app_link,
    send_verification,
)
from app.auth.errors import EmailTaken
from app.auth.repository import OneTimeTokenRepository, UserRepository
from app.auth.service import AuthService, email_index
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.crypto import CryptoKit
from app.core.errors import FieldError, InvalidInput
from app.core.pagination import PageParams
from app.core.security import new_token, token_digest
from app.core.sequences import NumberSequenceRepository
from app.customers.repository import CustomerRepository
from app.customers.screening import (
    REGISTRATION_SCREENS,
    RegistrationAttempt,
    RegistrationRefused,
    RegistrationScreen,
    ScreenVerdict,
)
from app.customers.validation import contact_errors, validate_contact
from app.models.audit import AuditEntry
from app.models.customer import Customer, CustomerStatus, IdentityStatus
from app.models.security import OneTimeToken, TokenPurpose
from app.models.user import User
from app.notifications.service import enqueue_email
from app.notifications.templates import EmailTemplate
from app.security_events import service as events
from app.security_events.service import EventType

CUSTOMER_EMAIL_CONTEXT = "customers.email"
CUSTOMER_SEQUENCE = "customer"
NUMBER_PREFIX = "C-"
# The pending address of an email change rides in the verification token's data, sealed.
PENDING_EMAIL_AAD = b"one_time_tokens.new_email"

# Fields whose validity depends on the country: re-checked when the country changes.
COUNTRY_DEPENDENT = ("phone", "region", "postal_code", "vat_id")
# What a customer may change about themselves; staff may also set the tax exemption.
SELF_SERVICE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "company",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "postal_code",
        "region",
        "country",
        "vat_id",
        "currency",
        "language",
        "date_of_birth",
    }
)
STAFF_FIELDS = SELF_SERVICE_FIELDS | {"tax_exempt"}


def customer_email_index(crypto: CryptoKit, email: str) -> str:
    return crypto.blind_index.digest(email, context=CUSTOMER_EMAIL_CONTEXT)


def search_name(first_name: str, last_name: str) -> str:
    return f"{first_name} {last_name}".strip().lower()


def format_number(value: int) -> str:
    return f"{NUMBER_PREFIX}{value:06d}"


def actor_for(
    *,
    user_id: uuid.UUID | None,
    api_key_id: uuid.UUID | None,
    is_staff: bool,
    ip: str | None,
) -> Actor:
    if user_id is None:
        return Actor(kind=ActorKind.API_KEY, api_key_id=api_key_id, ip=ip)
    return Actor(kind=ActorKind.STAFF if is_staff else ActorKind.CUSTOMER, user_id=user_id, ip=ip)


class CustomerService:
    """Request-scoped: built per request from the session and the container."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container
        self.clock = container.clock
        self.crypto = container.crypto
        self.customers = CustomerRepository(session)
        self.numbers = NumberSequenceRepository(session)
        self.users = UserRepository(session)

    # ------------------------------------------------------------------ creation

    async def next_number(self) -> str:
        return format_number(await self.numbers.take(CUSTOMER_SEQUENCE))

    async def create_prospect(
        self, *, contact: Mapping[str, Any], source: str | None, actor: Actor
    ) -> Customer:
        """Staff record a lead (P2). The email is the key a later registration converts on."""
        clean = validate_contact(contact, today=self.clock.now().date())
        index = customer_email_index(self.crypto, clean["email"])
        if await self.customers.get_by_email_index(index) is not None:
            raise EmailTaken("A customer or prospect with this email already exists.")
        customer = await self._new_customer(
            clean, index=index, status=CustomerStatus.PROSPECT, user_id=None, source=source
        )
        await self._audit(customer, action="created", actor=actor, changes=_as_changes(clean))
        return customer

    async def register(
        self,
        *,
        auth: AuthService,
        email: str,
        password: str,
        contact: Mapping[str, Any],
        client: ClientInfo,
    ) -> tuple[User, Customer]:
        """A new account and its customer record, in one transaction. Contact, email and
        password errors come back together (P1). A prospect with the same email becomes this
        customer instead of a duplicate (P2). Registration screens (the fraud check) decide
        before anything is written and keep their record once the customer exists."""
        clean, errors = contact_errors(contact, today=self.clock.now().date())
        screened: list[tuple[RegistrationScreen, ScreenVerdict]] = []

        async def screen() -> None:
            screened.extend(await self._screen(email=email, contact=contact, client=client))

        user = await auth.register(
            email=email,
            password=password,
            first_name=clean.get("first_name") or str(contact.get("first_name", "")),
            last_name=clean.get("last_name") or str(contact.get("last_name", "")),
            client=client,
            extra_errors=errors,
            screen=screen,
        )
        customer = await self._customer_for_new_account(user, clean=clean, client=client)
        for registration_screen, verdict in screened:
            await registration_screen.keep(verdict, user=user, customer=customer)
        return user, customer

    async def _screen(
        self, *, email: str, contact: Mapping[str, Any], client: ClientInfo
    ) -> list[tuple[RegistrationScreen, ScreenVerdict]]:
        attempt = RegistrationAttempt(
            email=email.strip(),
            phone=_text_or_none(contact.get("phone")),
            country=_text_or_none(contact.get("country")),
            client=client,
        )
        screened: list[tuple[RegistrationScreen, ScreenVerdict]] = []
        for factory in list(REGISTRATION_SCREENS):
            screen = factory(self.session, self.container)
            verdict = await screen.assess(attempt)
            if verdict.refused:
                await screen.keep_refused(verdict)
                # Deliberately vague: the reasons are for staff, not for whoever is refused.
                raise RegistrationRefused(
                    "We cannot open an account with these details. Please contact support."
                )
            screened.append((screen, verdict))
        return screened

    async def _customer_for_new_account(
        self, user: User, *, clean: dict[str, Any], client: ClientInfo
    ) -> Customer:
        index = customer_email_index(self.crypto, user.email)
        actor = Actor(kind=ActorKind.CUSTOMER, user_id=user.id, ip=client.ip)
        prospect = await self.customers.get_by_email_index(index)
        if prospect is not None:
            if prospect.user_id is not None:
                raise EmailTaken("An account with this email already exists.")
            changes = self._apply(prospect, clean)
            changes["status"] = (prospect.status, CustomerStatus.ACTIVE.value)
            prospect.status = CustomerStatus.ACTIVE.value
            prospect.user_id = user.id
            prospect.email = user.email
            prospect.updated_at = self.clock.now()
            await self.session.flush()
            await self._audit(prospect, action="registered", actor=actor, changes=changes)
            return prospect
        clean["email"] = user.email
        customer = await self._new_customer(
            clean, index=index, status=CustomerStatus.ACTIVE, user_id=user.id, source=None
        )
        await self._audit(customer, action="registered", actor=actor, changes=_as_changes(clean))
        return customer

    async def _new_customer(
        self,
        clean: Mapping[str, Any],
        *,
        index: str,
        status: CustomerStatus,
        user_id: uuid.UUID | None,
        source: str | None,
    ) -> Customer:
        now = self.clock.now()
        customer = Customer(
            number=await self.next_number(),
            user_id=user_id,
            status=status.value,
            source=source,
            first_name=clean["first_name"],
            last_name=clean["last_name"],
            company=clean.get("company"),
            search_name=search_name(clean["first_name"], clean["last_name"]),
            email=clean["email"],
            email_index=index,
            phone=clean.get("phone"),
            address_line1=clean.get("address_line1"),
            address_line2=clean.get("address_line2"),
            city=clean.get("city"),
            postal_code=clean.get("postal_code"),
            region=clean.get("region"),
            country=clean["country"],
            date_of_birth=clean.get("date_of_birth"),
            vat_id=clean.get("vat_id"),
            tax_exempt=bool(clean.get("tax_exempt", False)),
            currency=clean.get("currency") or "EUR",
            language=clean.get("language") or "en",
            identity_status=IdentityStatus.UNVERIFIED.value,
            created_at=now,
            updated_at=now,
        )
        return await self.customers.add(customer)

    # ------------------------------------------------------------------ reading

    async def for_user(self, user_id: uuid.UUID) -> Customer:
        customer = await self.customers.get_by_user_id(user_id)
        if customer is None:
            raise self.customers.not_found("There is no customer record for this account.")
        return customer

    async def get(self, customer_id: uuid.UUID) -> Customer:
        customer = await self.customers.get(customer_id)
        if customer is None:
            raise self.customers.not_found("No such customer.")
        return customer

    async def lock(self, customer_id: uuid.UUID) -> Customer:
        """The record under a row lock: every money movement of one customer (credit ledger,
        payments, credit notes) takes this lock first, so they queue instead of racing."""
        customer = await self.customers.get_for_update(customer_id)
        if customer is None:
            raise self.customers.not_found("No such customer.")
        return customer

    async def activity(
        self, customer: Customer, *, page: PageParams
    ) -> tuple[Sequence[AuditEntry], str | None]:
        return await AuditRepository(self.session).for_entity(
            entity_type="customer", entity_id=customer.id, page=page
        )

    # ------------------------------------------------------------------ changes

    async def update(
        self,
        customer: Customer,
        *,
        values: Mapping[str, Any],
        actor: Actor,
        allowed: frozenset[str] = SELF_SERVICE_FIELDS,
        current_password: str | None = None,
    ) -> str | None:
        """Apply a partial change (P14), validated as at registration and audited (P10).

        An `email` in `values`: from the customer it needs `current_password` and takes effect
        only once the new address is verified; from staff it applies at once. Returns the
        masked pending address when a verification was sent, else None."""
        fields = {name: value for name, value in values.items() if name in allowed}
        new_email = values.get("email")
        check = dict(fields)
        country_changes = "country" in fields and fields["country"] != customer.country
        if "country" not in check and any(name in check for name in COUNTRY_DEPENDENT):
            check["country"] = customer.country
        if country_changes:
            for name in COUNTRY_DEPENDENT:
                if name not in check and getattr(customer, name) is not None:
                    check[name] = getattr(customer, name)
        if new_email is not None:
            check["email"] = new_email
        clean, errors = contact_errors(check, today=self.clock.now().date())
        user = await self.users.get(customer.user_id) if customer.user_id else None
        email_changes = "email" in clean and customer_email_index(
            self.crypto, clean["email"]
        ) != customer_email_index(self.crypto, customer.email)
        if email_changes and actor.kind is ActorKind.CUSTOMER:
            errors.extend(await self._password_errors(user, current_password))
        if errors:
            raise InvalidInput(errors)
        pending: str | None = None
        if email_changes:
            if actor.kind is ActorKind.CUSTOMER and user is not None:
                await self._request_email_change(customer, user, clean["email"], actor=actor)
                pending = str(mask(clean["email"]))
            else:
                await self._staff_email_change(customer, user, clean["email"], actor=actor)
        changes = self._apply(customer, {k: v for k, v in clean.items() if k in fields})
        if changes:
            customer.updated_at = self.clock.now()
            await self.session.flush()
            await self._audit(customer, action="updated", actor=actor, changes=changes)
        return pending

    def _apply(self, customer: Customer, clean: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        changes: dict[str, tuple[Any, Any]] = {}
        for name, new in clean.items():
            if name == "email":
                continue
            old = getattr(customer, name)
            if old != new:
                changes[name] = (old, new)
                setattr(customer, name, new)
        if "first_name" in changes or "last_name" in changes:
            customer.search_name = search_name(customer.first_name, customer.last_name)
        return changes

    async def _password_errors(self, user: User | None, password: str | None) -> list[FieldError]:
        field = "body.current_password"
        if not password:
            return [
                FieldError(
                    field=field,
                    code="password_required",
                    message="Enter your current password to change your email address.",
                )
            ]
        valid, _ = await self.container.hasher.verify_and_update(
            password, user.password_hash if user else None
        )
        if not valid:
            return [
                FieldError(
                    field=field,
                    code="password_incorrect",
                    message="The current password is not correct.",
                )
            ]
        return []

    async def ensure_email_free(self, email: str, *, customer: Customer) -> None:
        other_user = await self.users.get_by_email_index(email_index(self.crypto, email))
        other = await self.customers.get_by_email_index(customer_email_index(self.crypto, email))
        if (other_user is not None and other_user.id != customer.user_id) or (
            other is not None and other.id != customer.id
        ):
            raise EmailTaken("This email address is already in use.")

    async def _request_email_change(
        self, customer: Customer, user: User, new_email: str, *, actor: Actor
    ) -> None:
        """Keep the old address until the new one is proven: the pending address is sealed
        into a verify-email token mailed to it; the old address is told (P11)."""
        await self.ensure_email_free(new_email, customer=customer)
        now = self.clock.now()
        tokens = OneTimeTokenRepository(self.session)
        await tokens.invalidate_open(user.id, purpose=TokenPurpose.VERIFY_EMAIL.value, at=now)
        secret = new_token(32)
        sealed = self.crypto.fields.seal(new_email.encode(), aad=PENDING_EMAIL_AAD)
        await tokens.add(
            OneTimeToken(
                user_id=user.id,
                purpose=TokenPurpose.VERIFY_EMAIL.value,
                token_hash=token_digest(secret),
                created_at=now,
                expires_at=now + VERIFY_EMAIL_LIFETIME,
                data={
                    "email_index": user.email_index,
                    "new_email_index": email_index(self.crypto, new_email),
                    "new_email_encrypted": sealed,
                },
            )
        )
        settings = self.container.settings
        name = user.display_name or "there"
        await enqueue_email(
            self.session,
            template=EmailTemplate.VERIFY_EMAIL,
            recipient=new_email,
            payload={
                "name": name,
                "link": app_link(settings, VERIFY_EMAIL_PATH, token=secret),
                "expires_in_hours": int(VERIFY_EMAIL_LIFETIME / timedelta(hours=1)),
            },
            now=now,
        )
        await _notify_old_address(self.session, container=self.container, user=user, new=new_email)
        await self._audit(
            customer,
            action="email_change_requested",
            actor=actor,
            changes={"email": (customer.email, new_email)},
        )

    async def _staff_email_change(
        self, customer: Customer, user: User | None, new_email: str, *, actor: Actor
    ) -> None:
        """Staff change the address at once (audited); a linked login moves with it and must
        verify the new address again."""
        await self.ensure_email_free(new_email, customer=customer)
        now = self.clock.now()
        old = customer.email
        customer.email = new_email
        customer.email_index = customer_email_index(self.crypto, new_email)
        customer.updated_at = now
        changes: dict[str, tuple[Any, Any]] = {"email": (old, new_email)}
        if customer.identity_status == IdentityStatus.EMAIL_VERIFIED.value:
            changes["identity_status"] = (customer.identity_status, IdentityStatus.UNVERIFIED.value)
            customer.identity_status = IdentityStatus.UNVERIFIED.value
        if user is not None:
            await _notify_old_address(
                self.session, container=self.container, user=user, new=new_email
            )
            user.email = new_email
            user.email_index = email_index(self.crypto, new_email)
            user.email_verified_at = None
            user.updated_at = now
            await self.session.flush()
            await send_verification(
                self.session, settings=self.container.settings, user=user, now=now
            )
        await self.session.flush()
        await self._audit(customer, action="email_changed", actor=actor, changes=changes)

    async def verify_identity(self, customer_id: uuid.UUID, *, note: str, actor: Actor) -> Customer:
        """Staff confirm who the customer is (P11), with a note saying how."""
        customer = await self.get(customer_id)
        now = self.clock.now()
        changes: dict[str, tuple[Any, Any]] = {
            "identity_status": (customer.identity_status, IdentityStatus.VERIFIED.value),
            "identity_note": (customer.identity_note, note),
        }
        customer.identity_status = IdentityStatus.VERIFIED.value
        customer.identity_note = note
        customer.identity_verified_by_id = actor.user_id
        customer.identity_verified_at = now
        customer.updated_at = now
        await self.session.flush()
        await self._audit(customer, action="identity_verified", actor=actor, changes=changes)
        return customer

    async def _audit(
        self,
        customer: Customer,
        *,
        action: str,
        actor: Actor,
        changes: Mapping[str, tuple[Any, Any]],
    ) -> None:
        await record_change(
            self.session,
            entity_type="customer",
            entity_id=customer.id,
            action=action,
            actor=actor,
            at=self.clock.now(),
            changes=changes,
        )


def _as_changes(clean: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {name: (None, value) for name, value in clean.items() if value is not None}


async def _notify_old_address(
    session: AsyncSession, *, container: Container, user: User, new: str
) -> None:
    now = container.clock.now()
    await enqueue_email(
        session,
        template=EmailTemplate.EMAIL_CHANGED_OLD_ADDRESS,
        recipient=user.email,
        payload={
            "name": user.display_name or "there",
            "changed_at": now.strftime("%d %B %Y at %H:%M UTC"),
            "new_address_masked": str(mask(new)),
            "help_link": app_link(container.settings, FORGOT_PASSWORD_PATH),
        },
        now=now,
    )


# --------------------------------------------------------------------------- verification hooks


async def mark_email_verified(session: AsyncSession, *, user_id: uuid.UUID, now: datetime) -> None:
    """The account's address was proven: its customer record says so (unless staff verified
    the identity already)."""
    customer = await CustomerRepository(session).get_by_user_id(user_id)
    if customer is not None and customer.identity_status == IdentityStatus.UNVERIFIED.value:
        customer.identity_status = IdentityStatus.EMAIL_VERIFIED.value
        customer.updated_at = now
        await record_change(
            session,
            entity_type="customer",
            entity_id=customer.id,
            action="email_verified",
            actor=Actor(kind=ActorKind.CUSTOMER, user_id=user_id),
            at=now,
            changes={
                "identity_status": (
                    IdentityStatus.UNVERIFIED.value,
                    IdentityStatus.EMAIL_VERIFIED.value,
                )
            },
        )


def is_email_change(token: OneTimeToken) -> bool:
    return bool(token.data and token.data.get("new_email_encrypted"))


async def apply_email_change(
    auth: AuthService, *, token: OneTimeToken, user: User, client: ClientInfo, now: datetime
) -> None:
    """The new address of an email change was verified: the login and the customer record
    switch to it together, and the change is audited (P10, P11)."""
    sealed = str(token.data["new_email_encrypted"])
    new_email = auth.crypto.fields.open(sealed, aad=PENDING_EMAIL_AAD).decode()
    service = CustomerService(session=auth.session, container=auth.container)
    customer = await service.customers.get_by_user_id(user.id)
    other_user = await auth.users.get_by_email_index(email_index(auth.crypto, new_email))
    if other_user is not None and other_user.id != user.id:
        raise EmailTaken("This email address is already in use.")
    if customer is not None:
        await service.ensure_email_free(new_email, customer=customer)
    old_email = user.email
    user.email = new_email
    user.email_index = email_index(auth.crypto, new_email)
    user.email_verified_at = now
    user.updated_at = now
    await auth.users.session.flush()
    await OneTimeTokenRepository(auth.session).invalidate_open(
        user.id, purpose=TokenPurpose.VERIFY_EMAIL.value, at=now
    )
    await events.record(
        auth.session,
        event_type=EventType.EMAIL_VERIFIED,
        at=now,
        client=client,
        user_id=user.id,
        details={"via": "email_change"},
    )
    if customer is None:
        return
    changes: dict[str, tuple[Any, Any]] = {"email": (old_email, new_email)}
    customer.email = new_email
    customer.email_index = customer_email_index(auth.crypto, new_email)
    if customer.identity_status == IdentityStatus.UNVERIFIED.value:
        changes["identity_status"] = (customer.identity_status, IdentityStatus.EMAIL_VERIFIED.value)
        customer.identity_status = IdentityStatus.EMAIL_VERIFIED.value
    customer.updated_at = now
    await auth.session.flush()
    await record_change(
        auth.session,
        entity_type="customer",
        entity_id=customer.id,
        action="email_changed",
        actor=Actor(kind=ActorKind.CUSTOMER, user_id=user.id, ip=client.ip),
        at=now,
        changes=changes,
    )


def _text_or_none(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
