"""Every query on invoices, their lines and the credit ledger."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, case, func, or_, select
from sqlalchemy.orm import defer

from app.billing.access import BillingViewer, own_rows
from app.billing.errors import InvoiceNotFound
from app.core.hot_reads import CompiledQuery, HotReader, json_row
from app.core.pagination import PageParams, decode_cursor, encode_cursor
from app.core.repository import Repository
from app.models.invoice import Invoice, InvoiceLine, InvoiceStatus
from app.models.payment import CreditEntry


@dataclass(frozen=True)
class InvoiceFilter:
    status: InvoiceStatus | None = None
    customer_id: uuid.UUID | None = None
    due_from: date | None = None  # inclusive
    due_to: date | None = None  # inclusive
    overdue_on: date | None = None  # open and due before this day


# What a listing shows: only plain columns (no buyer snapshot to decrypt), and `amount_due`
# computed by the database the way `Invoice.amount_due` computes it.
AMOUNT_DUE: ColumnElement[int] = case(
    (
        # OR, not IN: an expanding IN cannot be compiled once for the hot reader.
        or_(Invoice.status == InvoiceStatus.OPEN.value, Invoice.status == InvoiceStatus.PAID.value),
        Invoice.total - Invoice.amount_paid - Invoice.amount_credited,
    ),
    else_=0,
).label("amount_due")
SUMMARY_COLUMNS: tuple[Any, ...] = (
    Invoice.id,
    Invoice.number,
    Invoice.customer_id,
    Invoice.kind,
    Invoice.status,
    Invoice.currency,
    Invoice.subtotal,
    Invoice.tax_total,
    Invoice.total,
    Invoice.amount_paid,
    Invoice.amount_credited,
    AMOUNT_DUE,
    Invoice.issued_at,
    Invoice.due_date,
    Invoice.paid_at,
)


def filter_values(viewer: BillingViewer, search: InvoiceFilter) -> dict[str, Any]:
    """The bound values of a filtered statement; which names are present is its shape."""
    values: dict[str, Any] = {}
    if viewer.user_id is not None:
        values["viewer_user_id"] = viewer.user_id
    if search.status is not None:
        values["status"] = search.status.value
    if search.customer_id is not None:
        values["customer_id"] = search.customer_id
    if search.due_from is not None:
        values["due_from"] = search.due_from
    if search.due_to is not None:
        values["due_to"] = search.due_to
    if search.overdue_on is not None:
        values["overdue_on"] = search.overdue_on
    return values


def filter_conditions(shape: frozenset[str]) -> list[ColumnElement[bool]]:
    """The WHERE of a filtered statement, with a `bindparam` per value named in `shape`:
    one statement per shape, whatever the values (the hot listing caches it compiled)."""
    conditions: list[ColumnElement[bool]] = []
    if "viewer_user_id" in shape:
        conditions.append(own_rows(Invoice.customer_id, user_id=bindparam("viewer_user_id")))
    if "status" in shape:
        conditions.append(Invoice.status == bindparam("status"))
    if "customer_id" in shape:
        conditions.append(Invoice.customer_id == bindparam("customer_id"))
    if "due_from" in shape:
        conditions.append(Invoice.due_date >= bindparam("due_from"))
    if "due_to" in shape:
        conditions.append(Invoice.due_date <= bindparam("due_to"))
    if "overdue_on" in shape:
        conditions.append(Invoice.status == InvoiceStatus.OPEN.value)
        conditions.append(Invoice.due_date < bindparam("overdue_on"))
    if "after" in shape:  # the keyset cursor: older than the last row of the previous page
        conditions.append(Invoice.id < bindparam("after"))
    return conditions


@functools.lru_cache(maxsize=256)
def _summary_query(shape: frozenset[str]) -> CompiledQuery:
    statement = (
        select(*SUMMARY_COLUMNS)
        .where(*filter_conditions(shape))
        .order_by(Invoice.id.desc())
        .limit(bindparam("row_limit", type_=Integer))
    )
    return CompiledQuery(statement)


@functools.lru_cache(maxsize=256)
def _summary_json_query(shape: frozenset[str]) -> CompiledQuery:
    statement = (
        select(json_row(SUMMARY_COLUMNS).label("item"), Invoice.id)
        .where(*filter_conditions(shape))
        .order_by(Invoice.id.desc())
        .limit(bindparam("row_limit", type_=Integer))
    )
    return CompiledQuery(statement)


class InvoiceSummaries:
    """The listing's one SELECT of the summary columns, newest first, keyset on id (for a
    customer it walks `ix_invoices_customer_id_id` backwards), on the hot reader: the
    statement is built and compiled once per filter shape, no ORM session is opened.

    `page` gives the rows as dicts; `json_page`, where the database `renders_json`, gives
    each row as the text of its JSON object."""

    def __init__(self, reader: HotReader) -> None:
        self._reader = reader

    @property
    def renders_json(self) -> bool:
        return self._reader.renders_json

    async def page(
        self, *, viewer: BillingViewer, search: InvoiceFilter, page: PageParams
    ) -> tuple[list[dict[str, Any]], str | None]:
        values = _page_values(viewer, search, page)
        query = _summary_query(frozenset(values))
        rows = await self._reader.fetch_all(query, values)
        names = query.columns
        items = [dict(zip(names, row, strict=True)) for row in rows[: page.limit]]
        return items, _next_cursor(rows, page, id_at=0)

    async def json_page(
        self, *, viewer: BillingViewer, search: InvoiceFilter, page: PageParams
    ) -> tuple[list[str], str | None]:
        values = _page_values(viewer, search, page)
        rows = await self._reader.fetch_all(_summary_json_query(frozenset(values)), values)
        return [row[0] for row in rows[: page.limit]], _next_cursor(rows, page, id_at=1)


def _page_values(viewer: BillingViewer, search: InvoiceFilter, page: PageParams) -> dict[str, Any]:
    """The bound values; all but `row_limit` (always there) make the statement's shape."""
    values = filter_values(viewer, search)
    if page.cursor is not None:
        values["after"] = decode_cursor(page.cursor)
    values["row_limit"] = page.limit + 1  # one row more than shown says whether more follow
    return values


def _next_cursor(rows: Sequence[tuple[Any, ...]], page: PageParams, *, id_at: int) -> str | None:
    """The cursor after the last row shown (its invoice id is column `id_at`), if more follow."""
    if len(rows) <= page.limit:
        return None
    return encode_cursor(rows[page.limit - 1][id_at])


class InvoiceRepository(Repository[Invoice]):
    model = Invoice
    not_found = InvoiceNotFound

    def readable(self, viewer: BillingViewer) -> Select[Invoice]:
        statement = select(Invoice)
        condition = viewer.owns(Invoice.customer_id)
        return statement if condition is None else statement.where(condition)

    async def get_readable(self, invoice_id: uuid.UUID, *, viewer: BillingViewer) -> Invoice:
        statement = self.readable(viewer).where(Invoice.id == invoice_id)
        invoice = (await self.session.scalars(statement)).first()
        if invoice is None:
            raise InvoiceNotFound("No such invoice.")
        return invoice

    def filtered(self, viewer: BillingViewer, search: InvoiceFilter) -> Select[Invoice]:
        values = filter_values(viewer, search)
        return select(Invoice).where(*filter_conditions(frozenset(values))).params(values)

    async def page(
        self, *, viewer: BillingViewer, search: InvoiceFilter, page: PageParams
    ) -> tuple[Sequence[Invoice], str | None]:
        return await self.paginate(self.filtered(viewer, search), page=page)

    async def batches(
        self, *, viewer: BillingViewer, search: InvoiceFilter, size: int
    ) -> AsyncIterator[Sequence[Invoice]]:
        """Every matching invoice, newest first, `size` rows per query (keyset on id)."""
        after: uuid.UUID | None = None
        while True:
            # The export has no personal data: the buyer snapshot is neither read nor decrypted.
            statement = self.filtered(viewer, search).options(
                defer(Invoice.buyer_snapshot, raiseload=True)
            )
            if after is not None:
                statement = statement.where(Invoice.id < after)
            statement = statement.order_by(Invoice.id.desc()).limit(size)
            rows = (await self.session.scalars(statement)).all()
            if rows:
                yield rows
            if len(rows) < size:
                return
            after = rows[-1].id
            self.session.expunge_all()

    async def lines(self, invoice_id: uuid.UUID) -> list[InvoiceLine]:
        statement = (
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position)
        )
        return list((await self.session.scalars(statement)).all())

    async def lines_of_many(
        self, invoice_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[InvoiceLine]]:
        grouped: dict[uuid.UUID, list[InvoiceLine]] = {invoice_id: [] for invoice_id in invoice_ids}
        if not invoice_ids:
            return grouped
        statement = (
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id.in_(invoice_ids))
            .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
        )
        for line in (await self.session.scalars(statement)).all():
            grouped[line.invoice_id].append(line)
        return grouped

    async def next_position(self, invoice_id: uuid.UUID) -> int:
        statement = select(func.coalesce(func.max(InvoiceLine.position), 0)).where(
            InvoiceLine.invoice_id == invoice_id
        )
        return int((await self.session.scalar(statement)) or 0) + 1

    async def unpaid_count(self, customer_id: uuid.UUID) -> int:
        statement = select(func.count()).where(
            Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN.value
        )
        return int((await self.session.scalar(statement)) or 0)


class CreditLedgerRepository(Repository[CreditEntry]):
    model = CreditEntry

    async def last_entry(self, *, customer_id: uuid.UUID, currency: str) -> CreditEntry | None:
        statement = (
            select(CreditEntry)
            .where(CreditEntry.customer_id == customer_id, CreditEntry.currency == currency)
            .order_by(CreditEntry.sequence.desc())
            .limit(1)
        )
        return (await self.session.scalars(statement)).first()

    async def balances(self, *, customer_id: uuid.UUID) -> dict[str, int]:
        """The balance per currency: the latest entry's running balance."""
        latest = (
            select(CreditEntry.currency, func.max(CreditEntry.sequence).label("sequence"))
            .where(CreditEntry.customer_id == customer_id)
            .group_by(CreditEntry.currency)
            .subquery()
        )
        statement = (
            select(CreditEntry.currency, CreditEntry.balance_after)
            .join(
                latest,
                (CreditEntry.currency == latest.c.currency)
                & (CreditEntry.sequence == latest.c.sequence),
            )
            .where(CreditEntry.customer_id == customer_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {currency: balance for currency, balance in rows}

    async def entries_page(
        self, *, customer_id: uuid.UUID, currency: str | None, page: PageParams
    ) -> tuple[Sequence[CreditEntry], str | None]:
        statement = select(CreditEntry).where(CreditEntry.customer_id == customer_id)
        if currency is not None:
            statement = statement.where(CreditEntry.currency == currency)
        return await self.paginate(statement, page=page)
