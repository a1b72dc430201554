"""The declarative base: naming convention, id and timestamp columns shared by every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import BigInteger, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.core.ids import new_id
from app.core.types import UTCDateTime

# Stable constraint names, so migrations can drop and alter what they created on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Money in minor units. 64-bit: a 32-bit INTEGER tops out at 21,474,836.47 in a two-decimal
# currency, which one large invoice or a ledger balance can pass (and far less in zero-decimal
# currencies' terms). Annotate money columns `Mapped[MinorUnits]`.
MinorUnits = Annotated[int, "minor_units"]


def utcnow() -> datetime:
    """Fallback only: services stamp rows from the injected clock."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid(), MinorUnits: BigInteger()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
