"""Request and response bodies for the blocklist and the network lists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.fraud.lists_service import MAX_IMPORT_ENTRIES, ImportReport
from app.models.fraud import BlockKind, BlocklistEntry, NetworkList

BlockValueText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=320, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
Note = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]+$"
    ),
]
Source = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class BlocklistEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: BlockKind
    value: BlockValueText = Field(
        description=(
            "by kind: `ip` an IPv4/IPv6 address or CIDR range; `email` an address; "
            "`email_domain` a domain (its subdomains match too); `phone` an international "
            "number (+country code); `country` an ISO 3166-1 alpha-2 code"
        )
    )
    note: Note | None = Field(default=None, description="why it is blocked, for staff")
    expires_at: AwareDatetime | None = Field(
        default=None, description="must be in the future; null means the entry does not expire"
    )


class BlocklistEntryOut(BaseModel):
    """An entry as staff see it: IPs, ranges, domains and countries as given (normalised),
    emails and phone numbers masked (only their blind index is stored)."""

    id: uuid.UUID
    kind: BlockKind
    display: str = Field(description="`a***@example.com`, `***567`, `203.0.113.0/24`, `DE` …")
    note: str | None
    created_at: datetime
    created_by_id: uuid.UUID | None
    expires_at: datetime | None

    @classmethod
    def of(cls, entry: BlocklistEntry) -> BlocklistEntryOut:
        return cls(
            id=entry.id,
            kind=BlockKind(entry.kind),
            display=entry.display,
            note=entry.note,
            created_at=entry.created_at,
            created_by_id=entry.created_by_id,
            expires_at=entry.expires_at,
        )


class NetworkImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cidrs: list[str] = Field(
        min_length=1,
        max_length=MAX_IMPORT_ENTRIES,
        description="IPv4/IPv6 addresses or CIDR ranges; invalid ones are reported, not fatal",
    )
    source: Source | None = Field(default=None, description="where the list came from")
    replace: bool = Field(
        default=False, description="remove the list's current ranges first (in one transaction)"
    )


class InvalidImportEntryOut(BaseModel):
    index: int = Field(description="position in `cidrs`, from 0")
    value: str = Field(description="the entry as given (cut at 64 characters)")


class NetworkImportReportOut(BaseModel):
    list_name: NetworkList
    added: int
    skipped_duplicates: int = Field(
        description="entries repeated in the body or already in the list"
    )
    removed: int = Field(description="ranges removed first (`replace`)")
    invalid: list[InvalidImportEntryOut]

    @classmethod
    def of(cls, report: ImportReport) -> NetworkImportReportOut:
        return cls(
            list_name=report.list_name,
            added=report.added,
            skipped_duplicates=report.skipped_duplicates,
            removed=report.removed,
            invalid=[
                InvalidImportEntryOut(index=entry.index, value=entry.value)
                for entry in report.invalid
            ],
        )


class NetworkRangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    cidr: str
    source: str | None
    created_at: datetime


class NetworkListOut(BaseModel):
    list_name: NetworkList
    count: int = Field(description="ranges in the list")
    items: list[NetworkRangeOut] = Field(description="a page of ranges, newest first")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` to get the next page; null on the last page"
    )
