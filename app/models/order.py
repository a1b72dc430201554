"""Orders and the hosting services they create."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, MinorUnits, TimestampMixin


class OrderStatus(StrEnum):
    PENDING = "pending"
    FRAUD_REVIEW = "fraud_review"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    FRAUD = "fraud"


class ServiceStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"


class Order(IdMixin, TimestampMixin, Base):
    """Priced on the server; the client IP and time are kept for order validation (P5)."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'fraud_review', 'active', 'cancelled', 'fraud')",
            name="status_known",
        ),
        Index("ix_orders_customer_id_id", "customer_id", "id"),
        Index("ix_orders_status_id", "status", "id"),
        Index("ix_orders_client_ip_placed_at", "client_ip", "placed_at"),
        Index("ix_orders_placed_at", "placed_at"),
        Index("ix_orders_customer_id_placed_at", "customer_id", "placed_at"),
    )

    number: Mapped[str] = mapped_column(String(24), unique=True)  # ORD-2026-000001
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    placed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[
        MinorUnits
    ]  # the first invoice's total, tax included (invoices.order_id links it)
    client_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    placed_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]


class OrderItem(IdMixin, Base):
    __tablename__ = "order_items"
    __table_args__ = (
        Index("ix_order_items_order_id", "order_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    cycle: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(default=1)
    description: Mapped[str] = mapped_column(String(300))
    unit_amount: Mapped[MinorUnits]
    setup_fee: Mapped[MinorUnits] = mapped_column(default=0)
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL")
    )


class Service(IdMixin, TimestampMixin, Base):
    """A hosting service a customer holds; the billing run renews it before `next_due_date`."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'terminated', 'cancelled')",
            name="status_known",
        ),
        Index("ix_services_customer_id_id", "customer_id", "id"),
        # The billing run's claim: active services by due date.
        Index("ix_services_status_next_due_date", "status", "next_due_date"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("recurring_amount >= 0", name="amount_not_negative"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(String(300))
    cycle: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    quantity: Mapped[int] = mapped_column(default=1)
    recurring_amount: Mapped[MinorUnits]  # per unit and cycle, minor units
    status: Mapped[str] = mapped_column(String(16))
    # Start of the next period to invoice; None for one-time services.
    next_due_date: Mapped[date | None]
    activated_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
