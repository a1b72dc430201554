"""Consents, erasure requests, and the persistent welcome cookie's registry (P16-P18)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import EncryptedString
from app.models.base import Base, IdMixin


class ConsentRecord(IdMixin, Base):
    """Append-only: each grant or withdrawal is a row; the latest per kind is in force.
    A visitor without an account is known only by the random id in their consent cookie."""

    __tablename__ = "consent_records"
    __table_args__ = (
        Index("ix_consent_records_customer_id_kind_id", "customer_id", "kind", "id"),
        Index("ix_consent_records_visitor_id_kind_id", "visitor_id", "kind", "id"),
    )

    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    visitor_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # tracking_cookies, marketing_email
    granted: Mapped[bool]
    policy_version: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))  # member_area, cookie_banner, registration
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime]


class ErasureRequest(IdMixin, Base):
    __tablename__ = "erasure_requests"
    __table_args__ = (Index("ix_erasure_requests_status_id", "status", "id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, rejected, completed
    reason: Mapped[str | None] = mapped_column(EncryptedString("erasure_requests.reason"))
    requested_at: Mapped[datetime]
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(EncryptedString("erasure_requests.note"))
    completed_at: Mapped[datetime | None]


class WelcomeToken(IdMixin, Base):
    """What the persistent welcome cookie points at: a random id, never a name (P18)."""

    __tablename__ = "welcome_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
