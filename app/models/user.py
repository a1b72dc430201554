"""People who sign in: customers and staff."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import EncryptedString
from app.models.base import Base, IdMixin, TimestampMixin


class UserKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class StaffRole(StrEnum):
    ADMIN = "admin"
    BILLING = "billing"
    SUPPORT = "support"
    FRAUD_ANALYST = "fraud_analyst"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("kind IN ('customer', 'staff')", name="kind_known"),
        CheckConstraint(
            "(kind = 'staff' AND role IS NOT NULL) OR (kind = 'customer' AND role IS NULL)",
            name="role_matches_kind",
        ),
    )

    # The address itself is encrypted; exact lookups go through the keyed blind index.
    email: Mapped[str] = mapped_column(EncryptedString("users.email"))
    email_index: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(EncryptedString("users.display_name"))
    is_active: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None]
    email_verified_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # TOTP (RFC 6238). The secret is encrypted at rest; it is pending until the first code
    # confirms it. The last accepted time step makes every code single-use.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString("users.totp_secret"))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_staff(self) -> bool:
        return self.kind == UserKind.STAFF.value
