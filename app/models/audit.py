"""The audit trail (P10) and the log of staff opening personal data (P13)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class AuditEntry(IdMixin, Base):
    """Who changed what on a record, when, from where; values are masked before they land."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity_id", "entity_type", "entity_id", "id"),)

    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID]
    action: Mapped[str] = mapped_column(String(48))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_kind: Mapped[str] = mapped_column(String(16))  # customer, staff, api_key, system
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    ip: Mapped[str | None] = mapped_column(String(45))
    # {"field": {"old": "j***@e***.com", "new": "a***@e***.com"}} - masked, never raw.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]


class DataAccess(IdMixin, Base):
    """A staff member (or an integration) opened a customer's personal data."""

    __tablename__ = "data_access_log"
    __table_args__ = (
        Index("ix_data_access_log_customer_id_id", "customer_id", "id"),
        Index("ix_data_access_log_actor_id_id", "actor_id", "id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    purpose: Mapped[str] = mapped_column(String(64))  # e.g. "customers.read", "customers.export"
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime]
