"""The staff CSV export: header, one row per invoice, minor units, no personal data, and no
cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from app.billing.export import CHUNK_ROWS, CSV_COLUMNS, invoices_csv, spreadsheet_safe
from app.models.invoice import Invoice, InvoiceStatus

HEADER = (
    "number,status,kind,customer_id,currency,subtotal_minor,tax_total_minor,total_minor,"
    "amount_paid_minor,amount_credited_minor,amount_due_minor,issued_at,due_date,paid_at"
)


def invoice(**overrides: Any) -> Invoice:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "number": "INV-2026-000001",
        "customer_id": uuid.UUID("0190f5c2-7a1b-7c3d-8e4f-123456789abc"),
        "kind": "renewal",
        "status": InvoiceStatus.OPEN.value,
        "currency": "EUR",
        "subtotal": 10000,
        "tax_total": 1900,
        "total": 11900,
        "amount_paid": 2000,
        "amount_credited": 900,
        "issued_at": datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
        "due_date": date(2026, 1, 29),
        "paid_at": None,
        "buyer_snapshot": json.dumps(
            {"first_name": "Zoë", "last_name": "Müller", "email": "zoe@example.org"}
        ),
        "memo": "Call Zoë about the upgrade",
    }
    values.update(overrides)
    return Invoice(**values)


def parse(chunks: list[str]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(chunks))))


def test_header_comes_first_and_alone() -> None:
    chunks = list(invoices_csv([]))
    assert chunks == [HEADER + "\r\n"]
    assert ",".join(CSV_COLUMNS) == HEADER


def test_one_row_per_invoice_in_minor_units_and_iso_dates() -> None:
    paid = invoice(
        number="INV-2026-000002",
        status=InvoiceStatus.PAID.value,
        amount_paid=11000,
        paid_at=datetime(2026, 1, 20, 12, 0, 5, tzinfo=UTC),
    )
    draft = invoice(number=None, status=InvoiceStatus.DRAFT.value, issued_at=None, due_date=None)
    yen = invoice(
        number="INV-2026-000003",
        currency="JPY",
        subtotal=1500,
        tax_total=150,
        total=1650,
        amount_paid=0,
        amount_credited=0,
    )

    rows = parse(list(invoices_csv([invoice(), paid, draft, yen])))

    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 5
    record = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert record == {
        "number": "INV-2026-000001",
        "status": "open",
        "kind": "renewal",
        "customer_id": "0190f5c2-7a1b-7c3d-8e4f-123456789abc",
        "currency": "EUR",
        "subtotal_minor": "10000",
        "tax_total_minor": "1900",
        "total_minor": "11900",
        "amount_paid_minor": "2000",
        "amount_credited_minor": "900",
        "amount_due_minor": "9000",
        "issued_at": "2026-01-15T09:30:00+00:00",
        "due_date": "2026-01-29",
        "paid_at": "",
    }
    paid_record = dict(zip(CSV_COLUMNS, rows[2], strict=True))
    assert paid_record["paid_at"] == "2026-01-20T12:00:05+00:00"
    assert paid_record["amount_due_minor"] == "0"
    draft_record = dict(zip(CSV_COLUMNS, rows[3], strict=True))
    assert draft_record["number"] == ""
    assert draft_record["issued_at"] == ""
    assert draft_record["amount_due_minor"] == "0"  # a draft asks for nothing yet
    yen_record = dict(zip(CSV_COLUMNS, rows[4], strict=True))
    assert (yen_record["currency"], yen_record["total_minor"]) == ("JPY", "1650")


def test_no_personal_data_in_the_export() -> None:
    text = "".join(invoices_csv([invoice()]))
    for personal in ("Zoë", "Müller", "zoe@example.org", "upgrade"):
        assert personal not in text


def test_rows_stream_in_chunks() -> None:
    invoices = (invoice(number=f"INV-2026-{index:06d}") for index in range(CHUNK_ROWS + 1))
    chunks = list(invoices_csv(invoices))
    assert len(chunks) == 3  # header, a full chunk, the rest
    assert chunks[2].count("\r\n") == 1
    rows = parse(chunks)
    assert len(rows) == CHUNK_ROWS + 2
    assert rows[-1][0] == f"INV-2026-{CHUNK_ROWS:06d}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("INV-2026-000001", "INV-2026-000001"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(value: str, expected: str) -> None:
    assert spreadsheet_safe(value) == expected


def test_text_cells_are_guarded_but_numbers_are_not() -> None:
    hostile = invoice(number="=cmd|' /C calc'!A0", kind="@evil", currency="+EU", status="-x")
    refund = invoice(
        number="INV-2026-000009",
        amount_paid=0,
        amount_credited=0,
        total=-500,
        subtotal=-500,
        tax_total=0,
    )

    rows = parse(list(invoices_csv([hostile, refund])))

    record = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert record["number"] == "'=cmd|' /C calc'!A0"
    assert record["kind"] == "'@evil"
    assert record["currency"] == "'+EU"
    assert record["status"] == "'-x"
    numbers = dict(zip(CSV_COLUMNS, rows[2], strict=True))
    assert numbers["total_minor"] == "-500"  # a number, left as a number
    assert numbers["subtotal_minor"] == "-500"
