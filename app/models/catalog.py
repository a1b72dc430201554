"""The catalog customers order from, and the tax rates invoices apply."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, MinorUnits, TimestampMixin


class ProductKind(StrEnum):
    SHARED_HOSTING = "shared_hosting"
    VPS = "vps"
    DEDICATED = "dedicated"
    DOMAIN = "domain"
    ADDON = "addon"
    OTHER = "other"


class BillingCycle(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    BIENNIAL = "biennial"
    ONE_TIME = "one_time"


# Months each cycle covers; one_time never renews.
CYCLE_MONTHS: dict[BillingCycle, int] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMIANNUAL: 6,
    BillingCycle.ANNUAL: 12,
    BillingCycle.BIENNIAL: 24,
    BillingCycle.ONE_TIME: 0,
}


class Product(IdMixin, TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('shared_hosting', 'vps', 'dedicated', 'domain', 'addon', 'other')",
            name="kind_known",
        ),
        Index("ix_products_active_id", "active", "id"),
    )

    code: Mapped[str] = mapped_column(String(64), unique=True)  # stable slug, e.g. "web-starter"
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)


class ProductPrice(IdMixin, TimestampMixin, Base):
    """One price per product, cycle and currency; amounts in minor units."""

    __tablename__ = "product_prices"
    __table_args__ = (
        UniqueConstraint("product_id", "cycle", "currency"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("setup_fee >= 0", name="setup_fee_not_negative"),
        CheckConstraint(
            "cycle IN ('monthly', 'quarterly', 'semiannual', 'annual', 'biennial', 'one_time')",
            name="cycle_known",
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    cycle: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[MinorUnits]
    setup_fee: Mapped[MinorUnits] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class TaxRate(IdMixin, TimestampMixin, Base):
    """A rate per country and optionally region ('' = the whole country), in basis points
    (1900 = 19 %) so no float ever touches a tax amount."""

    __tablename__ = "tax_rates"
    __table_args__ = (
        UniqueConstraint("country", "region"),
        CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name="rate_in_range"),
    )

    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(8), default="")  # ISO 3166-2 suffix or ''
    name: Mapped[str] = mapped_column(String(64))  # "VAT", "USt", "Sales tax"
    rate_bp: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
