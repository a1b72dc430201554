"""Customers and prospects: the record the company identifies, invoices and contacts by (P1)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import EncryptedString
from app.models.base import Base, IdMixin, MinorUnits, TimestampMixin


class CustomerStatus(StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class IdentityStatus(StrEnum):
    UNVERIFIED = "unverified"
    EMAIL_VERIFIED = "email_verified"
    VERIFIED = "verified"


class Customer(IdMixin, TimestampMixin, Base):
    """Phone, postal address, VAT id and date of birth are encrypted at rest (P12); names,
    company and country stay searchable; the email is encrypted and found by blind index."""

    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(
            "status IN ('prospect', 'active', 'suspended', 'closed')", name="status_known"
        ),
        CheckConstraint(
            "identity_status IN ('unverified', 'email_verified', 'verified')",
            name="identity_status_known",
        ),
        Index("ix_customers_status_id", "status", "id"),
        Index("ix_customers_country_id", "country", "id"),
        Index("ix_customers_search_name", "search_name"),
        # Name-prefix search is `LIKE 'abc%'`: on PostgreSQL only a pattern-ops index serves
        # it whatever the database's collation (SQLite ignores the option).
        Index(
            "ix_customers_search_name_pattern",
            "search_name",
            postgresql_ops={"search_name": "text_pattern_ops"},
        ),
        Index("ix_customers_created_at", "created_at"),
    )

    number: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(64))  # where a prospect came from

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    company: Mapped[str | None] = mapped_column(String(200))
    # Lower-cased "first last" for prefix search on names.
    search_name: Mapped[str] = mapped_column(String(201))
    email: Mapped[str] = mapped_column(EncryptedString("customers.email"))
    email_index: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(EncryptedString("customers.phone"))
    address_line1: Mapped[str | None] = mapped_column(EncryptedString("customers.address_line1"))
    address_line2: Mapped[str | None] = mapped_column(EncryptedString("customers.address_line2"))
    city: Mapped[str | None] = mapped_column(EncryptedString("customers.city"))
    postal_code: Mapped[str | None] = mapped_column(EncryptedString("customers.postal_code"))
    region: Mapped[str | None] = mapped_column(EncryptedString("customers.region"))
    country: Mapped[str] = mapped_column(String(2))
    date_of_birth: Mapped[str | None] = mapped_column(EncryptedString("customers.date_of_birth"))

    vat_id: Mapped[str | None] = mapped_column(EncryptedString("customers.vat_id"))
    tax_exempt: Mapped[bool] = mapped_column(default=False)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # Staff-set, in `currency` minor units: a customer with one is on account (postpaid) terms
    # and every order of theirs gets a credit check (P3).
    credit_limit: Mapped[MinorUnits | None]
    language: Mapped[str] = mapped_column(String(8), default="en")

    identity_status: Mapped[str] = mapped_column(String(16), default="unverified")
    identity_note: Mapped[str | None] = mapped_column(EncryptedString("customers.identity_note"))
    identity_verified_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    identity_verified_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    anonymised_at: Mapped[datetime | None]

    @property
    def birth_date(self) -> date | None:
        return date.fromisoformat(self.date_of_birth) if self.date_of_birth else None


class CustomerNote(IdMixin, Base):
    """Internal staff notes; the text may name people, so it is encrypted."""

    __tablename__ = "customer_notes"
    __table_args__ = (Index("ix_customer_notes_customer_id_id", "customer_id", "id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(EncryptedString("customer_notes.body"))
    created_at: Mapped[datetime]


class NumberSequence(Base):
    """Counters for readable numbers (customers now; invoice series later), taken under a row
    lock so concurrent takers never share a number."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)
