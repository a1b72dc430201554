"""Queries on fraud checks and rule configuration (the rules' own reads are in signals.py)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.core.errors import NotFound
from app.core.pagination import PageParams, decode_cursor, encode_cursor
from app.core.repository import Repository
from app.models.fraud import FraudCheck, FraudRuleConfig, ReviewStatus
from app.models.order import Order, OrderStatus


class FraudCheckNotFound(NotFound):
    code = "fraud_check_not_found"
    title = "No such fraud check"


@dataclass(frozen=True)
class FraudCheckFilter:
    disposition: str | None = None
    kind: str | None = None
    subject: str | None = None
    customer_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None
    label: str | None = None


@dataclass(frozen=True)
class QueuedCheck:
    """A check waiting for an analyst, with its order's number and status."""

    check: FraudCheck
    order_number: str | None
    order_status: str | None


class FraudCheckRepository(Repository[FraudCheck]):
    model = FraudCheck
    not_found = FraudCheckNotFound

    async def for_order(self, order_id: uuid.UUID) -> Sequence[FraudCheck]:
        statement = (
            select(FraudCheck).where(FraudCheck.order_id == order_id).order_by(FraudCheck.id)
        )
        return (await self.session.scalars(statement)).all()

    async def page(
        self, *, search: FraudCheckFilter, page: PageParams
    ) -> tuple[Sequence[FraudCheck], str | None]:
        """Newest first (the time-ordered id); every filter is an equality."""
        statement = select(FraudCheck)
        for column, value in (
            (FraudCheck.disposition, search.disposition),
            (FraudCheck.kind, search.kind),
            (FraudCheck.subject, search.subject),
            (FraudCheck.customer_id, search.customer_id),
            (FraudCheck.order_id, search.order_id),
            (FraudCheck.label, search.label),
        ):
            if value is not None:
                statement = statement.where(column == value)
        return await self.paginate(statement, page=page)

    async def review_queue(self, *, page: PageParams) -> tuple[list[QueuedCheck], str | None]:
        """Pending checks whose order is still held, oldest first (walks
        `ix_fraud_checks_review_status_id` forwards). An order staff cancelled meanwhile
        needs no decision, so its checks leave the queue."""
        statement = (
            select(FraudCheck, Order.number, Order.status)
            .join(Order, Order.id == FraudCheck.order_id)
            .where(
                FraudCheck.review_status == ReviewStatus.PENDING.value,
                Order.status == OrderStatus.FRAUD_REVIEW.value,
            )
        )
        if page.cursor is not None:
            statement = statement.where(FraudCheck.id > decode_cursor(page.cursor))
        statement = statement.order_by(FraudCheck.id).limit(page.limit + 1)
        rows = [
            QueuedCheck(check, number, status)
            for check, number, status in (await self.session.execute(statement)).all()
        ]
        has_more = len(rows) > page.limit
        rows = rows[: page.limit]
        next_cursor = encode_cursor(rows[-1].check.id) if has_more and rows else None
        return rows, next_cursor

    async def pending_of_order(self, order_id: uuid.UUID) -> Sequence[FraudCheck]:
        """The order's checks still waiting for an analyst, locked."""
        statement = (
            select(FraudCheck)
            .where(
                FraudCheck.order_id == order_id,
                FraudCheck.review_status == ReviewStatus.PENDING.value,
            )
            .order_by(FraudCheck.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).all()

    async def window(
        self, *, start: datetime, end: datetime, kind: str | None
    ) -> list[tuple[datetime, str, list[dict[str, Any]], str | None]]:
        """What the statistics need of each check created in [start, end)."""
        statement = select(
            FraudCheck.created_at, FraudCheck.disposition, FraudCheck.reasons, FraudCheck.label
        ).where(FraudCheck.created_at >= start, FraudCheck.created_at < end)
        if kind is not None:
            statement = statement.where(FraudCheck.kind == kind)
        return [
            (created_at, disposition, reasons, label)
            for created_at, disposition, reasons, label in (await self.session.execute(statement))
        ]


class RuleConfigRepository(Repository[FraudRuleConfig]):
    model = FraudRuleConfig

    async def overrides(self) -> Mapping[str, Mapping[str, Any]]:
        rows = (await self.session.scalars(select(FraudRuleConfig))).all()
        return {
            row.code: {"enabled": row.enabled, "weight": row.weight, "params": row.params}
            for row in rows
        }

    async def find(self, code: str) -> FraudRuleConfig | None:
        return await self.session.get(FraudRuleConfig, code)
