"""Every query the fraud rules read: velocity, history, links, blocklists, network lists.

Each is one indexed statement (the `make bench` fraud scenario holds the check's time at 1,000,000
prior orders and security events to at most 1.5x its time at 10,000):

- orders per IP: `ix_orders_client_ip_placed_at`; per customer: `ix_orders_customer_id_placed_at`;
  per email: the orders whose validation records carry the email's blind index;
- registrations per IP and failed sign-ins per account: the `security_events` indexes on
  (ip, event_type, created_at) and (user_id, event_type, created_at);
- links: earlier checks sharing a blind index (`ix_fraud_checks_*_index`);
- IP ranges: fixed-width hex bounds, `(kind|list_name, range_start)`.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import CryptoKit
from app.models.fraud import BlockKind, BlocklistEntry, FraudCheck, NetworkRange, OutcomeLabel
from app.models.invoice import Invoice, InvoiceStatus
from app.models.order import Order, OrderStatus
from app.models.payment import Dispute
from app.models.security import SecurityEvent

# Orders that count as history: anything not refused or cancelled.
COUNTED_ORDER_STATUSES = (OrderStatus.PENDING, OrderStatus.FRAUD_REVIEW, OrderStatus.ACTIVE)
BAD_LABELS = (OutcomeLabel.FRAUD_CONFIRMED.value, OutcomeLabel.CHARGEBACK.value)


_IPV4_MAPPED = 0xFFFF << 32  # ::ffff:0.0.0.0


def ip_bound(address: str) -> str | None:
    """An address as 32 hex digits in IPv6 space (IPv4 mapped), so strings sort like numbers."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv4Address):
        parsed = ipaddress.IPv6Address(f"::ffff:{parsed}")
    return f"{int(parsed):032x}"


def cidr_bounds(cidr: str) -> tuple[str, str, str]:
    """(normalised CIDR, first, last) for an address or a range; ValueError when invalid."""
    network = ipaddress.ip_network(cidr.strip(), strict=False)
    # The same numbers as `ip_bound` of the first and last address, without parsing them
    # again (a 50,000-range import spends most of its time here otherwise).
    first = int(network.network_address)
    last = first | ((1 << (network.max_prefixlen - network.prefixlen)) - 1)
    if network.version == 4:
        first, last = first | _IPV4_MAPPED, last | _IPV4_MAPPED
    return str(network), f"{first:032x}", f"{last:032x}"


@dataclass(frozen=True)
class HistoryTotals:
    orders: int
    largest: int  # largest earlier order total in this currency (0 when none)
    average: int  # average earlier order total in this currency (0 when none)


@dataclass(frozen=True)
class Link:
    via: str  # ip | email | phone | payment_method
    check_id: uuid.UUID
    customer_id: uuid.UUID | None
    why: str  # fraud_order | fraud_label | chargeback | write_off


class FraudSignals:
    def __init__(self, session: AsyncSession, *, crypto: CryptoKit) -> None:
        self.session = session
        # The blind-index keys, for rules that index a value themselves (the blocklists of
        # email domains, phones and countries).
        self.crypto = crypto

    async def _count(self, statement: Select[Any]) -> int:
        value = (await self.session.execute(statement)).scalar_one()
        return int(value)

    # --- history -------------------------------------------------------------------------

    async def order_history(
        self, customer_id: uuid.UUID, *, currency: str, exclude_order_id: uuid.UUID | None
    ) -> HistoryTotals:
        statement = select(
            func.count(), func.coalesce(func.max(Order.total), 0), func.avg(Order.total)
        ).where(
            Order.customer_id == customer_id,
            Order.currency == currency,
            Order.status.in_([status.value for status in COUNTED_ORDER_STATUSES]),
        )
        if exclude_order_id is not None:
            statement = statement.where(Order.id != exclude_order_id)
        count, largest, average = (await self.session.execute(statement)).one()
        return HistoryTotals(
            orders=int(count), largest=int(largest or 0), average=round(float(average or 0))
        )

    # --- links to earlier fraud ----------------------------------------------------------

    async def links(
        self,
        *,
        ip_index: str | None,
        email_index: str | None,
        phone_index: str | None,
        payment_index: str | None,
        exclude_customer_id: uuid.UUID | None,
        limit: int = 10,
    ) -> list[Link]:
        """Earlier checks that share an IP, email, phone or payment method with this one and
        whose customer turned out bad: an order refused as fraud, a check labelled fraud or
        chargeback, a chargeback dispute, or an invoice written off."""
        matches: list[tuple[str, str]] = [
            (via, value)
            for via, value in (
                ("ip", ip_index),
                ("email", email_index),
                ("phone", phone_index),
                ("payment_method", payment_index),
            )
            if value
        ]
        if not matches:
            return []
        column = {
            "ip": FraudCheck.ip_index,
            "email": FraudCheck.email_index,
            "phone": FraudCheck.phone_index,
            "payment_method": FraudCheck.payment_index,
        }
        shared = or_(*[column[via] == value for via, value in matches])
        fraud_order = exists().where(
            Order.customer_id == FraudCheck.customer_id,
            Order.status == OrderStatus.FRAUD.value,
        )
        chargeback = exists().where(
            Dispute.customer_id == FraudCheck.customer_id, Dispute.is_chargeback.is_(True)
        )
        write_off = exists().where(
            Invoice.customer_id == FraudCheck.customer_id,
            Invoice.status == InvoiceStatus.UNCOLLECTIBLE.value,
        )
        labelled = FraudCheck.label.in_(BAD_LABELS)
        statement = select(
            FraudCheck.id,
            FraudCheck.customer_id,
            FraudCheck.ip_index,
            FraudCheck.email_index,
            FraudCheck.phone_index,
            FraudCheck.payment_index,
            labelled.label("labelled"),
            fraud_order.label("fraud_order"),
            chargeback.label("chargeback"),
            write_off.label("write_off"),
        ).where(shared, or_(labelled, fraud_order, chargeback, write_off))
        if exclude_customer_id is not None:
            statement = statement.where(
                or_(FraudCheck.customer_id.is_(None), FraudCheck.customer_id != exclude_customer_id)
            )
        rows = (await self.session.execute(statement.limit(limit))).all()
        found: list[Link] = []
        for row in rows:
            why = (
                "fraud_label"
                if row.labelled
                else "fraud_order"
                if row.fraud_order
                else "chargeback"
                if row.chargeback
                else "write_off"
            )
            stored = {
                "ip": row.ip_index,
                "email": row.email_index,
                "phone": row.phone_index,
                "payment_method": row.payment_index,
            }
            via = next(v for v, value in matches if stored[v] == value)
            found.append(Link(via=via, check_id=row.id, customer_id=row.customer_id, why=why))
        return found

    # --- lists ---------------------------------------------------------------------------

    async def blocked_ip(self, ip: str, *, at: datetime) -> BlocklistEntry | None:
        bound = ip_bound(ip)
        if bound is None:
            return None
        statement = select(BlocklistEntry).where(
            BlocklistEntry.kind == BlockKind.IP.value,
            BlocklistEntry.range_start <= bound,
            BlocklistEntry.range_end >= bound,
            _active(at),
        )
        return (await self.session.scalars(statement.limit(1))).first()

    async def blocked_values(
        self, *, kind: BlockKind, value_indexes: Sequence[str], at: datetime
    ) -> BlocklistEntry | None:
        if not value_indexes:
            return None
        statement = select(BlocklistEntry).where(
            BlocklistEntry.kind == kind.value,
            BlocklistEntry.value_index.in_(list(value_indexes)),
            _active(at),
        )
        return (await self.session.scalars(statement.limit(1))).first()

    async def network_of(self, ip: str, *, list_name: str) -> NetworkRange | None:
        bound = ip_bound(ip)
        if bound is None:
            return None
        statement = select(NetworkRange).where(
            NetworkRange.list_name == list_name,
            NetworkRange.range_start <= bound,
            NetworkRange.range_end >= bound,
        )
        return (await self.session.scalars(statement.limit(1))).first()

    # --- velocity in several windows at once (helper B) ----------------------------------

    async def order_counts(
        self,
        *,
        ip: str | None = None,
        customer_id: uuid.UUID | None = None,
        email_index: str | None = None,
        windows: Sequence[datetime],
        until: datetime,
        exclude_order_id: uuid.UUID | None,
        exclude_customer_id: uuid.UUID | None = None,
    ) -> tuple[int, ...]:
        """Earlier orders from one IP, customer or email (exactly one given), counted in each
        window `[since, until]`, in one statement: the widest window bounds the index range
        (`ix_orders_client_ip_placed_at` or `ix_orders_customer_id_placed_at`) and each count
        filters it. `until` keeps a replayed check from seeing orders placed after it."""
        if not windows:
            return ()
        if ip is not None:
            key: ColumnElement[bool] = Order.client_ip == ip
        elif customer_id is not None:
            key = Order.customer_id == customer_id
        elif email_index is not None:
            # Orders placed under this email as their validation records saw it, so an email
            # moved to another customer record (or changed since) still counts.
            under_email = select(FraudCheck.order_id).where(
                FraudCheck.email_index == email_index, FraudCheck.order_id.is_not(None)
            )
            key = Order.id.in_(under_email.scalar_subquery())
        else:
            raise ValueError("order_counts needs an ip, a customer_id or an email_index")
        statement = select(
            *[func.count().filter(Order.placed_at >= since) for since in windows]
        ).where(key, Order.placed_at >= min(windows), Order.placed_at <= until)
        if exclude_order_id is not None:
            statement = statement.where(Order.id != exclude_order_id)
        if exclude_customer_id is not None:
            statement = statement.where(Order.customer_id != exclude_customer_id)
        row = (await self.session.execute(statement)).one()
        return tuple(int(value or 0) for value in row)

    async def other_events_from_ip(
        self,
        ip: str,
        *,
        event_type: str,
        since: datetime,
        until: datetime,
        exclude_user_id: uuid.UUID | None,
    ) -> int:
        """Security events of one type from an IP in `[since, until]`, other than those of
        `exclude_user_id` (an account's own registration is not another account's)."""
        statement = select(func.count()).where(
            SecurityEvent.ip == ip,
            SecurityEvent.event_type == event_type,
            SecurityEvent.created_at >= since,
            SecurityEvent.created_at <= until,
        )
        if exclude_user_id is not None:
            statement = statement.where(
                or_(SecurityEvent.user_id.is_(None), SecurityEvent.user_id != exclude_user_id)
            )
        return await self._count(statement)

    async def events_of_user_between(
        self, user_id: uuid.UUID, *, event_type: str, since: datetime, until: datetime
    ) -> int:
        return await self._count(
            select(func.count()).where(
                SecurityEvent.user_id == user_id,
                SecurityEvent.event_type == event_type,
                SecurityEvent.created_at >= since,
                SecurityEvent.created_at <= until,
            )
        )

    async def has_earlier_order(
        self, customer_id: uuid.UUID, *, exclude_order_id: uuid.UUID | None
    ) -> bool:
        """Whether the customer has placed any earlier order (any status, any currency): a
        first order is the first one ever, not the first that went through."""
        statement = select(Order.id).where(Order.customer_id == customer_id)
        if exclude_order_id is not None:
            statement = statement.where(Order.id != exclude_order_id)
        return (await self.session.execute(statement.limit(1))).first() is not None


def _active(at: datetime) -> ColumnElement[bool]:
    return or_(BlocklistEntry.expires_at.is_(None), BlocklistEntry.expires_at > at)
