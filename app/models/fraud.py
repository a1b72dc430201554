"""Order validation: fraud and credit checks, their rules, blocklists and network lists.

A `FraudCheck` is the order-validation record the policy promises (P5): kept for good, with the
inputs the check saw (encrypted: they hold an IP address and a user agent), the score, the
disposition and every reason with its evidence. Values that later checks must match on (IP,
email, phone, payment method) are kept only as keyed blind indexes, never in clear.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import EncryptedString
from app.models.base import Base, IdMixin, MinorUnits


class CheckKind(StrEnum):
    FRAUD = "fraud"
    CREDIT = "credit"


class CheckSubject(StrEnum):
    ORDER = "order"
    REGISTRATION = "registration"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class OutcomeLabel(StrEnum):
    FRAUD_CONFIRMED = "fraud_confirmed"
    CHARGEBACK = "chargeback"
    LEGITIMATE = "legitimate"


class BlockKind(StrEnum):
    IP = "ip"  # an address or a CIDR range
    EMAIL = "email"
    EMAIL_DOMAIN = "email_domain"
    PHONE = "phone"
    COUNTRY = "country"


class NetworkList(StrEnum):
    ANONYMIZER = "anonymizer"  # VPNs, open proxies, Tor exits
    HOSTING = "hosting"  # data centres and cloud providers


class FraudCheck(IdMixin, Base):
    __tablename__ = "fraud_checks"
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
        Index("ix_fraud_checks_review_status_id", "review_status", "id"),
        Index("ix_fraud_checks_order_id", "order_id"),
        Index("ix_fraud_checks_customer_id_id", "customer_id", "id"),
        Index("ix_fraud_checks_created_at", "created_at"),
        Index("ix_fraud_checks_ip_index", "ip_index"),
        Index("ix_fraud_checks_email_index", "email_index"),
        Index("ix_fraud_checks_phone_index", "phone_index"),
        Index("ix_fraud_checks_payment_index", "payment_index"),
        Index("ix_fraud_checks_label", "label"),
    )

    kind: Mapped[str] = mapped_column(String(8))  # CheckKind
    subject: Mapped[str] = mapped_column(String(16))  # CheckSubject
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    score: Mapped[int]
    risk_level: Mapped[str] = mapped_column(String(8))
    # fraud: accept | review | reject; credit: approve | review | decline
    disposition: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    inputs: Mapped[str] = mapped_column(EncryptedString("fraud_checks.inputs"))  # JSON
    ip_country: Mapped[str | None] = mapped_column(String(2))
    billing_country: Mapped[str | None] = mapped_column(String(2))
    email_domain: Mapped[str | None] = mapped_column(String(253))
    amount: Mapped[MinorUnits | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    ip_index: Mapped[str | None] = mapped_column(String(64))
    email_index: Mapped[str | None] = mapped_column(String(64))
    phone_index: Mapped[str | None] = mapped_column(String(64))
    payment_index: Mapped[str | None] = mapped_column(String(64))
    ruleset_version: Mapped[str] = mapped_column(String(16))
    duration_us: Mapped[int]
    review_status: Mapped[str | None] = mapped_column(String(8))
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(EncryptedString("fraud_checks.review_note"))
    label: Mapped[str | None] = mapped_column(String(16))
    labelled_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    labelled_at: Mapped[datetime | None]


class FraudRuleConfig(Base):
    """Staff overrides of a rule's defaults (which live in code): no row means defaults."""

    __tablename__ = "fraud_rule_configs"

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    enabled: Mapped[bool]
    weight: Mapped[int]
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class BlocklistEntry(IdMixin, Base):
    """An IP range, email, email domain, phone or country that is rejected outright.

    Emails and phones are stored as blind indexes with a masked hint for staff; IP entries keep
    their range as fixed-width hex bounds so one indexed comparison matches IPv4 and IPv6."""

    __tablename__ = "fraud_blocklist"
    __table_args__ = (
        UniqueConstraint("kind", "value_index", name="uq_fraud_blocklist_kind_value_index"),
        Index("ix_fraud_blocklist_kind_range_start", "kind", "range_start"),
    )

    kind: Mapped[str] = mapped_column(String(16))  # BlockKind
    value_index: Mapped[str] = mapped_column(String(64))
    display: Mapped[str] = mapped_column(String(64))
    range_start: Mapped[str | None] = mapped_column(String(32))
    range_end: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime | None]


class NetworkRange(IdMixin, Base):
    """One CIDR of an imported anonymiser or hosting list (bounds as 32-hex-digit strings)."""

    __tablename__ = "fraud_network_ranges"
    __table_args__ = (
        UniqueConstraint("list_name", "cidr", name="uq_fraud_network_ranges_list_name_cidr"),
        Index("ix_fraud_network_ranges_list_name_range_start", "list_name", "range_start"),
    )

    list_name: Mapped[str] = mapped_column(String(16))  # NetworkList
    cidr: Mapped[str] = mapped_column(String(43))
    range_start: Mapped[str] = mapped_column(String(32))
    range_end: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
