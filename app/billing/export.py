"""The staff CSV export of invoices: streamed, numbers only, no personal data.

Columns (`CSV_COLUMNS`): the invoice number, status, kind, customer id (an opaque UUID, no name
or e-mail), currency, the amounts as integer minor units (the header names end in `_minor`;
divide by the currency's minor unit, e.g. 100 for EUR, 1 for JPY), and the dates in ISO 8601
(timestamps in UTC with their offset, due dates as YYYY-MM-DD). Empty cells are absent values.

Text cells go through `spreadsheet_safe`, so a cell a spreadsheet would read as a formula
('=', '+', '-', '@', tab, carriage return first) is prefixed with a single quote. Numbers are
written as numbers and never prefixed (a negative amount stays a number).

The output is RFC 4180 CSV (comma, double quotes, CRLF) produced as text chunks: the header
first, then up to `CHUNK_ROWS` rows per chunk, so a response can stream it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from app.models.invoice import Invoice

CSV_COLUMNS: tuple[str, ...] = (
    "number",
    "status",
    "kind",
    "customer_id",
    "currency",
    "subtotal_minor",
    "tax_total_minor",
    "total_minor",
    "amount_paid_minor",
    "amount_credited_minor",
    "amount_due_minor",
    "issued_at",
    "due_date",
    "paid_at",
)
CHUNK_ROWS = 500
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int


def spreadsheet_safe(value: str) -> str:
    """Guard against CSV formula injection: "=HYPERLINK(...)" -> "'=HYPERLINK(...)"."""
    return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value


def _text(value: object) -> str:
    return "" if value is None else spreadsheet_safe(str(value))


def _timestamp(value: datetime | date | None) -> str:
    return "" if value is None else value.isoformat()


def invoice_row(invoice: Invoice) -> list[Cell]:
    """One invoice as CSV cells, in `CSV_COLUMNS` order."""
    return [
        _text(invoice.number),
        _text(invoice.status),
        _text(invoice.kind),
        _text(invoice.customer_id),
        _text(invoice.currency),
        invoice.subtotal,
        invoice.tax_total,
        invoice.total,
        invoice.amount_paid,
        invoice.amount_credited,
        invoice.amount_due,
        _timestamp(invoice.issued_at),
        _timestamp(invoice.due_date),
        _timestamp(invoice.paid_at),
    ]


def _csv_text(rows: Sequence[Sequence[Cell]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def invoices_csv(rows: Iterable[Invoice]) -> Iterator[str]:
    """CSV text chunks: the header, then the invoices in the order given."""
    yield _csv_text([CSV_COLUMNS])
    batch: list[list[Cell]] = []
    for invoice in rows:
        batch.append(invoice_row(invoice))
        if len(batch) >= CHUNK_ROWS:
            yield _csv_text(batch)
            batch = []
    if batch:
        yield _csv_text(batch)
