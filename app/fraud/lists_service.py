"""Blocklists and network lists: what staff add, how values are normalised and indexed.

Blocklisted values are never stored in clear beside their index: an entry keeps a keyed blind
index (`blocklist_value_index`, shared with the blocklist rules so both sides hash the same
normalised value) and a display hint for staff (emails and phones masked). IP entries keep
their range as fixed-width hex bounds (`app.fraud.signals.cidr_bounds`) so one indexed
comparison matches IPv4 and IPv6.

Network lists (anonymiser and hosting ranges) are imported in bulk: invalid entries are reported
by position, duplicates (in the body or already in the list) are skipped, never a 500.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, record_change
from app.core.container import Container
from app.core.crypto import CryptoKit
from app.core.errors import Conflict, FieldError, InvalidInput, NotFound
from app.core.ids import new_id
from app.core.pagination import PageParams
from app.core.repository import Repository
from app.customers.service import customer_email_index
from app.customers.validation import country_code
from app.fraud.signals import cidr_bounds
from app.models.fraud import BlockKind, BlocklistEntry, NetworkList, NetworkRange

BLOCKLIST_ENTRY = "fraud_blocklist_entry"
NETWORK_LIST = "fraud_network_list"
DISPLAY_MAX = 64  # BlocklistEntry.display
MAX_IMPORT_ENTRIES = 50_000
INSERT_CHUNK = 1_000  # rows per INSERT statement (well under SQLite's and PostgreSQL's limits)
REPORTED_VALUE_MAX = 64  # an invalid import entry is echoed back at most this long
# Audit entries need an entity id; a network list is identified by its name.
_NETWORK_LIST_NAMESPACE = uuid.UUID("9b1f5a52-6a43-4c1e-9d1e-4f0c6a8e2b71")


class BlocklistEntryNotFound(NotFound):
    code = "blocklist_entry_not_found"
    title = "No such blocklist entry"


class BlocklistEntryExists(Conflict):
    code = "blocklist_entry_exists"
    title = "This value is already on the blocklist"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class BlockValue:
    """A blocklist value, normalised the way the blocklist rules normalise what they check."""

    kind: BlockKind
    normalised: str
    display: str
    range_start: str | None = None
    range_end: str | None = None


def normalise_email(value: str) -> str:
    """Syntax only, no DNS; the rules match through `customer_email_index`, which casefolds."""
    return validate_email(value.strip(), check_deliverability=False).normalized


def normalise_domain(value: str) -> str:
    """`@Mail.Example.COM.` → `mail.example.com` (IDNs as email addresses carry them)."""
    domain = value.strip().lstrip("@").rstrip(".")
    try:
        checked = validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return checked.lower()


def normalise_phone(value: str, *, default_region: str | None = None) -> str | None:
    """E.164 (`+4930123456`) for a valid number, None otherwise. National numbers need the
    region they belong to (the billing country)."""
    try:
        number = phonenumbers.parse(value.strip(), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def domain_and_parents(domain: str) -> list[str]:
    """`a.b.example.com` → itself, `b.example.com`, `example.com` (never the bare TLD)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]


def blocklist_value_index(crypto: CryptoKit, *, kind: BlockKind, value: str) -> str:
    """The blind index of a normalised value: emails as customers' emails are indexed (so the
    rule matches `FraudInputs.email_index`), everything else under its own context."""
    if kind is BlockKind.EMAIL:
        return customer_email_index(crypto, value)
    return crypto.blind_index.digest(value, context=f"fraud.block.{kind.value}")


def _clip(text: str) -> str:
    return text if len(text) <= DISPLAY_MAX else f"{text[: DISPLAY_MAX - 3]}..."


def mask_email(email: str) -> str:
    local, _, domain = email.rpartition("@")
    return _clip(f"{local[:1]}***@{domain}")


def mask_phone(phone: str) -> str:
    return f"***{phone[-3:]}"


def parse_block_value(kind: BlockKind, raw: str) -> BlockValue:
    """Normalise `raw` for `kind`; ValueError (with a sentence that does not echo the value)
    when it is not one."""
    value = raw.strip()
    if kind is BlockKind.IP:
        try:
            cidr, first, last = cidr_bounds(value)
        except ValueError as exc:
            raise ValueError("Not an IP address or CIDR range.") from exc
        network = ipaddress.ip_network(cidr)
        single = network.prefixlen == network.max_prefixlen
        display = str(network.network_address) if single else cidr
        return BlockValue(kind, cidr, display, range_start=first, range_end=last)
    if kind is BlockKind.EMAIL:
        try:
            email = normalise_email(value)
        except EmailNotValidError as exc:
            raise ValueError("Not a valid email address.") from exc
        return BlockValue(kind, email, mask_email(email))
    if kind is BlockKind.EMAIL_DOMAIN:
        try:
            domain = normalise_domain(value)
        except ValueError as exc:
            raise ValueError("Not a valid email domain.") from exc
        return BlockValue(kind, domain, _clip(domain))
    if kind is BlockKind.PHONE:
        phone = normalise_phone(value)
        if phone is None:
            raise ValueError("Not a valid phone number in international format (+country code).")
        return BlockValue(kind, phone, mask_phone(phone))
    country = country_code(value)
    if country is None:
        raise ValueError("Not an ISO 3166-1 alpha-2 country code.")
    return BlockValue(kind, country, country)


# --------------------------------------------------------------------------- repositories


class BlocklistRepository(Repository[BlocklistEntry]):
    model = BlocklistEntry
    not_found = BlocklistEntryNotFound

    async def listing(
        self, *, kind: BlockKind | None, page: PageParams
    ) -> tuple[Sequence[BlocklistEntry], str | None]:
        statement = select(BlocklistEntry)
        if kind is not None:
            statement = statement.where(BlocklistEntry.kind == kind.value)
        return await self.paginate(statement, page=page)

    async def find(self, *, kind: BlockKind, value_index: str) -> BlocklistEntry | None:
        statement = select(BlocklistEntry).where(
            BlocklistEntry.kind == kind.value, BlocklistEntry.value_index == value_index
        )
        return (await self.session.scalars(statement)).first()

    async def add_unique(self, entry: BlocklistEntry, *, conflict: Conflict) -> None:
        """Insert; the unique constraint firing anyway (a concurrent insert of the same value)
        becomes `conflict`, not a 500."""
        self.session.add(entry)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise conflict from exc


class NetworkRangeRepository(Repository[NetworkRange]):
    model = NetworkRange

    async def listing(
        self, *, list_name: NetworkList, page: PageParams
    ) -> tuple[Sequence[NetworkRange], str | None]:
        statement = select(NetworkRange).where(NetworkRange.list_name == list_name.value)
        return await self.paginate(statement, page=page)

    async def count(self, list_name: NetworkList) -> int:
        statement = select(func.count()).where(NetworkRange.list_name == list_name.value)
        return int((await self.session.execute(statement)).scalar_one())

    async def clear(self, list_name: NetworkList) -> int:
        removed = await self.count(list_name)
        await self.session.execute(
            delete(NetworkRange).where(NetworkRange.list_name == list_name.value)
        )
        return removed

    async def insert_new(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert the rows a list does not hold yet (`ON CONFLICT DO NOTHING` on list and
        CIDR, so a concurrent import of the same ranges is no error); returns how many.

        One executemany per chunk: the driver batches it into multi-row INSERTs
        ("insertmanyvalues") without compiling a statement with thousands of parameters."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(NetworkRange)
            .on_conflict_do_nothing(index_elements=["list_name", "cidr"])
            .returning(NetworkRange.id)
        )
        connection = await self.session.connection()
        added = 0
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = list(rows[start : start + INSERT_CHUNK])
            added += len((await connection.execute(statement, chunk)).all())
        return added


# --------------------------------------------------------------------------- services


class BlocklistService:
    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.crypto = container.crypto
        self.clock = container.clock
        self.entries = BlocklistRepository(session)

    async def page(
        self, *, kind: BlockKind | None, page: PageParams
    ) -> tuple[Sequence[BlocklistEntry], str | None]:
        return await self.entries.listing(kind=kind, page=page)

    async def add(
        self,
        *,
        actor: Actor,
        kind: BlockKind,
        value: str,
        note: str | None,
        expires_at: datetime | None,
    ) -> BlocklistEntry:
        now = self.clock.now()
        errors: list[FieldError] = []
        parsed: BlockValue | None = None
        try:
            parsed = parse_block_value(kind, value)
        except ValueError as exc:
            errors.append(
                FieldError(field="body.value", code=f"invalid_{kind.value}", message=str(exc))
            )
        if expires_at is not None and expires_at <= now:
            errors.append(
                FieldError(
                    field="body.expires_at",
                    code="expires_at_in_past",
                    message="The expiry must be in the future.",
                )
            )
        if errors or parsed is None:
            raise InvalidInput(errors)
        value_index = blocklist_value_index(self.crypto, kind=kind, value=parsed.normalised)
        existing = await self.entries.find(kind=kind, value_index=value_index)
        conflict = BlocklistEntryExists(
            "This value is already on the blocklist.",
            extra={"entry_id": str(existing.id)} if existing is not None else None,
        )
        if existing is not None:
            raise conflict
        entry = BlocklistEntry(
            kind=kind.value,
            value_index=value_index,
            display=parsed.display,
            range_start=parsed.range_start,
            range_end=parsed.range_end,
            note=note,
            created_at=now,
            created_by_id=actor.user_id,
            expires_at=expires_at,
        )
        await self.entries.add_unique(entry, conflict=conflict)
        await record_change(
            self.session,
            entity_type=BLOCKLIST_ENTRY,
            entity_id=entry.id,
            action="created",
            actor=actor,
            at=now,
            changes={
                "kind": (None, entry.kind),
                "display": (None, entry.display),
                "expires_at": (None, expires_at.isoformat() if expires_at else None),
            },
        )
        return entry

    async def remove(self, *, actor: Actor, entry_id: uuid.UUID) -> None:
        entry = await self.entries.get_or_raise(entry_id)
        await self.session.delete(entry)
        await self.session.flush()
        await record_change(
            self.session,
            entity_type=BLOCKLIST_ENTRY,
            entity_id=entry_id,
            action="deleted",
            actor=actor,
            at=self.clock.now(),
            changes={"kind": (entry.kind, None), "display": (entry.display, None)},
        )


@dataclass(frozen=True)
class InvalidImportEntry:
    index: int
    value: str


@dataclass(frozen=True)
class ImportReport:
    list_name: NetworkList
    added: int
    skipped_duplicates: int
    removed: int
    invalid: list[InvalidImportEntry]


def network_list_entity_id(list_name: NetworkList) -> uuid.UUID:
    return uuid.uuid5(_NETWORK_LIST_NAMESPACE, list_name.value)


class NetworkListService:
    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.clock = container.clock
        self.ranges = NetworkRangeRepository(session)

    async def page(
        self, *, list_name: NetworkList, page: PageParams
    ) -> tuple[int, Sequence[NetworkRange], str | None]:
        count = await self.ranges.count(list_name)
        rows, next_cursor = await self.ranges.listing(list_name=list_name, page=page)
        return count, rows, next_cursor

    async def import_ranges(
        self,
        *,
        actor: Actor,
        list_name: NetworkList,
        cidrs: Sequence[str],
        source: str | None,
        replace: bool,
    ) -> ImportReport:
        now = self.clock.now()
        invalid: list[InvalidImportEntry] = []
        bounds: dict[str, tuple[str, str]] = {}  # normalised CIDR -> (first, last), in order
        repeated = 0
        for index, raw in enumerate(cidrs):
            try:
                cidr, first, last = cidr_bounds(raw)
            except ValueError:
                invalid.append(InvalidImportEntry(index=index, value=raw[:REPORTED_VALUE_MAX]))
                continue
            if cidr in bounds:
                repeated += 1
                continue
            bounds[cidr] = (first, last)
        removed = await self.ranges.clear(list_name) if replace else 0
        rows = [
            {
                "id": new_id(),
                "list_name": list_name.value,
                "cidr": cidr,
                "range_start": first,
                "range_end": last,
                "source": source,
                "created_at": now,
            }
            for cidr, (first, last) in bounds.items()
        ]
        added = await self.ranges.insert_new(rows)
        report = ImportReport(
            list_name=list_name,
            added=added,
            skipped_duplicates=repeated + (len(rows) - added),
            removed=removed,
            invalid=invalid,
        )
        await record_change(
            self.session,
            entity_type=NETWORK_LIST,
            entity_id=network_list_entity_id(list_name),
            action="imported",
            actor=actor,
            at=now,
            changes={
                "list_name": (None, list_name.value),
                "added": (None, report.added),
                "removed": (None, report.removed),
                "skipped_duplicates": (None, report.skipped_duplicates),
                "invalid": (None, len(invalid)),
                "source": (None, source),
            },
        )
        return report

    async def clear(self, *, actor: Actor, list_name: NetworkList) -> int:
        removed = await self.ranges.clear(list_name)
        await record_change(
            self.session,
            entity_type=NETWORK_LIST,
            entity_id=network_list_entity_id(list_name),
            action="cleared",
            actor=actor,
            at=self.clock.now(),
            changes={"list_name": (list_name.value, None), "removed": (removed, 0)},
        )
        return removed
