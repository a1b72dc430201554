"""Invoice PDFs: rendered from in-memory invoices (no database) and read back with pypdf."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from app.billing.pdf import (
    SYSTEM_FONT_CANDIDATES,
    bold_font_path,
    latin1_fallback,
    pdf_font_path,
    render_invoice_pdf,
    render_invoice_pdf_async,
    tax_summary,
)
from app.billing.tax import REVERSE_CHARGE_NOTE
from app.core.config import SellerSettings
from app.models.invoice import Invoice, InvoiceLine, InvoiceStatus

NUMBER = "INV-2026-000001"
IBAN_PRINTED = "DE89 3704 0044 0532 0130 00"
SYSTEM_FONT = next((path for path in SYSTEM_FONT_CANDIDATES if path.is_file()), None)


def seller(**overrides: Any) -> SellerSettings:
    values: dict[str, Any] = {
        "name": "Hostledger Hosting GmbH",
        "address_lines": ["Musterstrasse 1", "10115 Berlin"],
        "country": "DE",
        "vat_id": "DE123456788",
        "email": "billing@hostledger.example",
        "bank_name": "Example Bank",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "pdf_font": None,
    }
    values.update(overrides)
    return SellerSettings(**values)


def buyer(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "customer_number": "C-000042",
        "first_name": "Zoë",
        "last_name": "Müller",
        "company": "Müller & Söhne GmbH",
        "email": "zoe@example.org",
        "address_line1": "Hauptstraße 5",
        "address_line2": "Stiege 2",
        "city": "Wien",
        "postal_code": "1010",
        "region": None,
        "country": "AT",
        "vat_id": "ATU13585627",
        "tax_exempt": False,
    }
    values.update(overrides)
    return values


def line(
    description: str,
    *,
    position: int = 0,
    quantity: int = 1,
    unit_amount: int = 1000,
    tax_rate_bp: int = 1900,
    period: tuple[date, date] | None = None,
) -> InvoiceLine:
    net = quantity * unit_amount
    return InvoiceLine(
        id=uuid.uuid4(),
        position=position,
        description=description,
        quantity=quantity,
        unit_amount=unit_amount,
        tax_rate_bp=tax_rate_bp,
        net_amount=net,
        tax_amount=(net * tax_rate_bp + 5000) // 10000,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
    )


def invoice_for(lines: list[InvoiceLine], **overrides: Any) -> Invoice:
    subtotal = sum(item.net_amount for item in lines)
    tax_total = sum(item.tax_amount for item in lines)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "number": NUMBER,
        "customer_id": uuid.uuid4(),
        "kind": "order",
        "status": InvoiceStatus.OPEN.value,
        "currency": "EUR",
        "subtotal": subtotal,
        "tax_total": tax_total,
        "total": subtotal + tax_total,
        "amount_paid": 0,
        "amount_credited": 0,
        "issued_at": datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
        "due_date": date(2026, 1, 29),
        "reverse_charge": False,
        "tax_note": None,
        "memo": None,
        "buyer_snapshot": json.dumps(buyer(), ensure_ascii=False),
        "buyer_country": "AT",
    }
    values.update(overrides)
    return Invoice(**values)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def hosting_lines() -> list[InvoiceLine]:
    january = (date(2026, 1, 1), date(2026, 1, 31))
    return [
        line("Web hosting Pro", position=0, quantity=2, unit_amount=61725, period=january),
        line("Domain example.org", position=1, unit_amount=1200, tax_rate_bp=700),
        line("SSL certificate", position=2, unit_amount=1800, tax_rate_bp=700),
    ]


# --- rendering ----------------------------------------------------------------------------


def test_output_is_a_pdf() -> None:
    lines = hosting_lines()
    data = render_invoice_pdf(invoice=invoice_for(lines), lines=lines, seller=seller())
    assert data.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(data)).pages) == 1


def test_issued_invoice_shows_parties_lines_totals_and_payment_details() -> None:
    lines = hosting_lines()
    invoice = invoice_for(lines, amount_paid=10000)

    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller()))

    assert f"Invoice {NUMBER}" in text
    assert "Issue date: 2026-01-15" in text
    assert "Due date: 2026-01-29" in text
    # Seller block.
    for expected in ("Hostledger Hosting GmbH", "Musterstrasse 1", "Germany", "DE123456788"):
        assert expected in text
    assert "billing@hostledger.example" in text
    # Buyer block, from the snapshot (Latin-1 names print with any font).
    for expected in ("Zoë Müller", "Müller & Söhne GmbH", "Hauptstraße 5", "1010 Wien"):
        assert expected in text
    assert "Austria" in text
    assert "VAT ID: ATU13585627" in text
    assert "Customer number: C-000042" in text
    # Lines, with the service period, quantity, unit price and rate.
    assert "Web hosting Pro" in text
    assert "Service period: 2026-01-01 to 2026-01-31" in text
    assert "Domain example.org" in text
    assert "SSL certificate" in text
    assert "617.25 EUR" in text
    assert "1,234.50 EUR" in text
    # Totals: 1,234.50 + 12.00 + 18.00 net; 234.56 + 0.84 + 1.26 tax.
    assert "Subtotal" in text
    assert "1,264.50 EUR" in text
    assert "236.66 EUR" in text
    assert "1,501.16 EUR" in text
    assert "Amount paid" in text
    assert "100.00 EUR" in text
    assert "Amount due" in text
    assert "1,401.16 EUR" in text
    # Payment instructions.
    assert "Please transfer 1,401.16 EUR by 2026-01-29" in text
    assert "Example Bank" in text
    assert IBAN_PRINTED in text
    assert "COBADEFFXXX" in text
    assert f"Reference: {NUMBER}" in text
    # The buyer's e-mail is not printed (not needed on the invoice).
    assert "zoe@example.org" not in text


def test_tax_summary_groups_lines_by_rate() -> None:
    lines = hosting_lines()
    assert tax_summary(lines) == [(700, 3000, 210), (1900, 123450, 23456)]

    text = pdf_text(render_invoice_pdf(invoice=invoice_for(lines), lines=lines, seller=seller()))
    assert "Tax summary" in text
    # 12.00 + 18.00 at 7 %: their sum appears only in the summary.
    assert "7.00 % 30.00 EUR 2.10 EUR" in text
    assert "19.00 % 1,234.50 EUR 234.56 EUR" in text


def test_reverse_charge_note_is_printed() -> None:
    lines = [line("Web hosting Pro", tax_rate_bp=0)]
    note = "Reverse charge: VAT to be accounted for by the recipient."
    invoice = invoice_for(lines, reverse_charge=True, tax_note=note)

    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller()))

    assert note in text
    assert "0.00 %" in text


def test_reverse_charge_without_a_stored_note_prints_the_legal_note() -> None:
    lines = [line("Web hosting Pro", tax_rate_bp=0)]
    invoice = invoice_for(lines, reverse_charge=True, tax_note=None)

    text = " ".join(
        pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller())).split()
    )

    assert "Article 196" in text
    assert REVERSE_CHARGE_NOTE.split(":")[0] in text


def test_no_tax_note_when_none_applies() -> None:
    lines = hosting_lines()
    text = pdf_text(render_invoice_pdf(invoice=invoice_for(lines), lines=lines, seller=seller()))
    assert "Reverse charge" not in text


def test_memo_is_printed() -> None:
    lines = hosting_lines()
    invoice = invoice_for(lines, memo="Thank you for your order.\nSecond line.")
    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller()))
    assert "Notes" in text
    assert "Thank you for your order." in text
    assert "Second line." in text


def test_draft_has_a_draft_title_and_no_number() -> None:
    lines = hosting_lines()
    invoice = invoice_for(lines, status=InvoiceStatus.DRAFT.value, number=None, issued_at=None)

    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller()))

    assert "DRAFT INVOICE" in text
    assert "not a valid invoice" in text
    assert "INV-" not in text
    assert "Issue date" not in text
    assert "Amount due" not in text  # nothing is due on a draft
    assert "1,501.16 EUR" in text  # but its total is shown


def test_paid_invoice_says_so_and_nothing_is_due() -> None:
    lines = hosting_lines()
    invoice = invoice_for(lines, status=InvoiceStatus.PAID.value, amount_paid=150116)
    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller()))
    assert "This invoice has been paid" in text
    assert "Please transfer" not in text
    assert "0.00 EUR" in text


def test_void_invoice_is_marked_void() -> None:
    lines = hosting_lines()
    invoice = invoice_for(lines, status=InvoiceStatus.VOID.value)
    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller()))
    assert "VOID" in text
    assert "Please transfer" not in text


def test_zero_decimal_currency() -> None:
    lines = [line("Web hosting Pro", quantity=3, unit_amount=1500, tax_rate_bp=1000)]
    invoice = invoice_for(lines, currency="JPY")
    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller()))
    assert "1,500 JPY" in text
    assert "4,950 JPY" in text  # 4,500 net + 450 tax


def test_many_lines_flow_onto_further_pages() -> None:
    lines = [line(f"Mailbox {index:03d}", position=index) for index in range(80)]
    data = render_invoice_pdf(invoice=invoice_for(lines), lines=lines, seller=seller())
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 1
    text = pdf_text(data)
    assert "Mailbox 000" in text
    assert "Mailbox 079" in text
    assert f"Page 2/{len(reader.pages)}" in text


def test_lines_print_in_position_order() -> None:
    lines = [line("Second item", position=1), line("First item", position=0)]
    text = pdf_text(render_invoice_pdf(invoice=invoice_for(lines), lines=lines, seller=seller()))
    assert text.index("First item") < text.index("Second item")


def test_missing_buyer_snapshot_and_control_characters_do_not_break_rendering() -> None:
    lines = [line("Backup\x00 add-on\x07")]
    invoice = invoice_for(lines, buyer_snapshot=None, memo="note\x1b[31m")
    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=seller()))
    assert "Backup" in text
    assert "Austria" in text  # from the invoice's buyer_country


def test_rendering_is_deterministic() -> None:
    lines = hosting_lines()
    invoice = invoice_for(lines)
    first = render_invoice_pdf(invoice=invoice, lines=lines, seller=seller())
    second = render_invoice_pdf(invoice=invoice, lines=lines, seller=seller())
    assert first == second


async def test_async_rendering_matches_the_blocking_one() -> None:
    lines = hosting_lines()
    invoice = invoice_for(lines)
    data = await render_invoice_pdf_async(invoice=invoice, lines=lines, seller=seller())
    assert data == render_invoice_pdf(invoice=invoice, lines=lines, seller=seller())


# --- fonts --------------------------------------------------------------------------------


def test_non_latin1_name_renders_with_the_unicode_font_when_there_is_one() -> None:
    lines = hosting_lines()
    snapshot = buyer(first_name="Łukasz", last_name="Żółć", company=None)
    invoice = invoice_for(lines, buyer_snapshot=json.dumps(snapshot, ensure_ascii=False))
    current = seller()

    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=current))

    assert f"Invoice {NUMBER}" in text
    if pdf_font_path(current) is not None:
        assert "Łukasz Żółć" in text
    else:
        assert "Lukasz Zólc" in text


def test_configured_font_is_used_when_it_exists(tmp_path: Path) -> None:
    font = tmp_path / "Custom.ttf"
    font.write_bytes(b"not checked here")
    assert pdf_font_path(seller(pdf_font=str(font)), candidates=()) == font


def test_system_font_is_found_without_configuration(tmp_path: Path) -> None:
    missing = tmp_path / "missing.ttf"
    present = tmp_path / "DejaVuSans.ttf"
    present.write_bytes(b"x")
    assert pdf_font_path(seller(), candidates=(missing, present)) == present
    assert pdf_font_path(seller(), candidates=(missing,)) is None


def test_missing_configured_font_falls_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "missing.ttf"
    present = tmp_path / "DejaVuSans.ttf"
    present.write_bytes(b"x")
    configured = seller(pdf_font=str(missing))

    with caplog.at_level(logging.WARNING, logger="hostledger.billing.pdf"):
        assert pdf_font_path(configured, candidates=(present,)) == present
        assert pdf_font_path(configured, candidates=()) is None
    assert "not found" in caplog.text

    # And the invoice still renders (with the system font or Helvetica).
    lines = hosting_lines()
    snapshot = buyer(first_name="Łukasz", last_name="Żółć")
    invoice = invoice_for(lines, buyer_snapshot=json.dumps(snapshot, ensure_ascii=False))
    text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=configured))
    assert f"Invoice {NUMBER}" in text
    assert ("Łukasz Żółć" if SYSTEM_FONT else "Lukasz Zólc") in text


def test_unreadable_font_falls_back_to_helvetica_and_latin1(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "Broken.ttf"
    broken.write_bytes(b"this is not a TrueType font")
    lines = [line("Hosting \u2013 Basic \u201cEU\u201d")]
    snapshot = buyer(first_name="Łukasz", last_name="Żółć")
    invoice = invoice_for(lines, buyer_snapshot=json.dumps(snapshot, ensure_ascii=False))

    with caplog.at_level(logging.WARNING, logger="hostledger.billing.pdf"):
        data = render_invoice_pdf(invoice=invoice, lines=lines, seller=seller(pdf_font=str(broken)))

    assert "could not be loaded" in caplog.text
    text = pdf_text(data)
    assert "Lukasz Zólc" in text  # folded to Latin-1, Latin-1 letters kept
    assert "Łukasz" not in text
    assert 'Hosting - Basic "EU"' in text
    assert f"Invoice {NUMBER}" in text
    assert IBAN_PRINTED in text


def test_bold_variant_is_found_beside_the_regular_font(tmp_path: Path) -> None:
    regular = tmp_path / "Sans.ttf"
    regular.write_bytes(b"x")
    assert bold_font_path(regular) is None
    (tmp_path / "Sans-Bold.ttf").write_bytes(b"x")
    assert bold_font_path(regular) == tmp_path / "Sans-Bold.ttf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zoë Müller", "Zoë Müller"),
        ("Łukasz Żółć", "Lukasz Zólc"),
        ("Dvořák", "Dvorák"),
        ("Œuvre \u2013 \u201cquoted\u201d \u2026", 'OEuvre - "quoted" ...'),
        ("5 €", "5 EUR"),
        ("山田太郎", "????"),
        ("😀", "?"),
    ],
)
def test_latin1_fallback(text: str, expected: str) -> None:
    folded = latin1_fallback(text)
    assert folded == expected
    folded.encode("latin-1")  # always printable with the core fonts


def test_characters_without_a_glyph_print_as_question_marks_and_are_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # DejaVu Sans has no CJK glyphs; Helvetica has none either.
    lines = [line("Hosting 山田")]
    snapshot = buyer(first_name="Taro", last_name="山田")
    invoice = invoice_for(
        lines, buyer_snapshot=json.dumps(snapshot, ensure_ascii=False), memo="Thanks 谢谢"
    )
    configured = seller(pdf_font=str(SYSTEM_FONT) if SYSTEM_FONT else None)

    with caplog.at_level(logging.DEBUG):
        text = pdf_text(render_invoice_pdf(invoice=invoice, lines=lines, seller=configured))

    assert "Taro ??" in text
    assert "Hosting ??" in text
    assert "Thanks ??" in text
    assert "山" not in caplog.text
    assert "谢" not in caplog.text
