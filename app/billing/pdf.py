"""Invoice PDFs (fpdf2): A4, seller and buyer blocks, lines, tax summary, totals, payment details.

Fonts. fpdf2's core fonts only know Latin-1, and customers' names do not. `pdf_font_path`
chooses a TrueType font, in this order:

1. `settings.seller.pdf_font` when that file exists;
2. DejaVu Sans at the usual system paths (`SYSTEM_FONT_CANDIDATES`);
3. none: Helvetica, with text folded to Latin-1 (`latin1_fallback`: accents are dropped where
   Unicode can decompose the letter, a few letters and marks are transliterated, anything else
   becomes '?').

A configured font that is missing is a configuration mistake but must not stop invoices from
rendering: it is logged as a warning (the path only) and the next choice is used. A font file
that exists but cannot be loaded is logged too, and that PDF uses the Helvetica fallback.
With a TrueType font, characters it has no glyph for (CJK in DejaVu Sans, say) print as their
Latin-1 folding or '?', like the fallback, rather than as blanks.
A "-Bold" sibling of the chosen font (DejaVuSans-Bold.ttf beside DejaVuSans.ttf) is used for
bold text when present; otherwise the regular face doubles as bold.

Threads. Rendering is CPU-bound: async code calls `render_invoice_pdf_async`, which copies what
it needs from the ORM objects on the calling thread (so no lazy load can ever run in the
worker) and renders in a worker thread.

Output is deterministic for an issued invoice (the PDF creation date is the issue time), so
the same invoice always gives the same bytes.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import pycountry
from fpdf import FPDF
from fpdf.fonts import FontFace, TTFFont

from app.billing.formatting import format_amount, format_rate
from app.billing.snapshot import decode_snapshot
from app.billing.tax import REVERSE_CHARGE_NOTE
from app.core.config import SellerSettings
from app.models.invoice import Invoice, InvoiceLine, InvoiceStatus

logger = logging.getLogger("hostledger.billing.pdf")

SYSTEM_FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf"),  # Fedora, RHEL
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),  # Alpine, older RHEL
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),  # Arch
    Path("/usr/local/share/fonts/DejaVuSans.ttf"),  # FreeBSD, hand-installed
)

FONT_FAMILY = "InvoiceSans"
FALLBACK_FAMILY = "helvetica"

# Letters and marks NFKD cannot reduce to Latin-1, with a readable stand-in.
_TRANSLITERATIONS = str.maketrans(
    {
        "\u0141": "L",  # Ł
        "\u0142": "l",  # ł
        "\u0110": "D",  # Đ
        "\u0111": "d",  # đ
        "\u0126": "H",  # Ħ
        "\u0127": "h",  # ħ
        "\u0131": "i",  # dotless i
        "\u0152": "OE",  # Œ
        "\u0153": "oe",  # œ
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": ",",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2026": "...",
        "\u20ac": "EUR",
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
    }
)

_PAGE_MARGIN = 20.0  # mm
_CONTENT_WIDTH = 210.0 - 2 * _PAGE_MARGIN  # A4


# --- fonts -------------------------------------------------------------------------------


def pdf_font_path(
    seller: SellerSettings, *, candidates: Sequence[Path] = SYSTEM_FONT_CANDIDATES
) -> Path | None:
    """The TrueType font invoices use, or None for the Latin-1 Helvetica fallback."""
    if seller.pdf_font:
        configured = Path(seller.pdf_font).expanduser()
        if configured.is_file():
            return configured
        logger.warning("PDF font %s (SELLER_PDF_FONT) not found; using a fallback", configured)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def bold_font_path(regular: Path) -> Path | None:
    """DejaVuSans.ttf -> DejaVuSans-Bold.ttf beside it, when that file exists."""
    candidate = regular.with_name(f"{regular.stem}-Bold{regular.suffix}")
    return candidate if candidate.is_file() else None


def latin1_fallback(text: str) -> str:
    """Text the core fonts can print: Latin-1 kept, other letters folded, the rest '?'."""
    out: list[str] = []
    for char in text.translate(_TRANSLITERATIONS):
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(
            part
            for part in unicodedata.normalize("NFKD", char)
            if ord(part) < 256 and not unicodedata.combining(part)
        )
        out.append(base or "?")
    return "".join(out)


def _printable(text: str) -> str:
    """Control characters (but newlines) become spaces: nothing a font could choke on."""
    return "".join(
        char if char == "\n" or unicodedata.category(char) != "Cc" else " " for char in text
    )


# --- what gets printed, copied off the ORM objects -----------------------------------------


@dataclass(frozen=True)
class _LineView:
    position: int
    description: str
    quantity: int
    unit_amount: int
    tax_rate_bp: int
    net_amount: int
    tax_amount: int
    period_start: date | None
    period_end: date | None


@dataclass(frozen=True)
class _InvoiceView:
    number: str | None
    status: str
    currency: str
    issued_at: datetime | None
    due_date: date | None
    subtotal: int
    tax_total: int
    total: int
    amount_paid: int
    amount_credited: int
    amount_due: int
    reverse_charge: bool
    tax_note: str | None
    memo: str | None
    buyer: dict[str, Any]
    buyer_country: str | None
    lines: tuple[_LineView, ...]

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT or self.number is None


def _view(invoice: Invoice, lines: Sequence[InvoiceLine]) -> _InvoiceView:
    try:
        snapshot = decode_snapshot(invoice.buyer_snapshot)
    except ValueError:  # never seen; a broken snapshot must not stop the PDF
        logger.warning("invoice %s has an unreadable buyer snapshot", invoice.id)
        snapshot = None
    line_views = [
        _LineView(
            position=line.position if line.position is not None else index,
            description=line.description or "",
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            tax_rate_bp=line.tax_rate_bp or 0,
            net_amount=line.net_amount,
            tax_amount=line.tax_amount,
            period_start=line.period_start,
            period_end=line.period_end,
        )
        for index, line in enumerate(lines)
    ]
    return _InvoiceView(
        number=invoice.number,
        status=invoice.status,
        currency=invoice.currency,
        issued_at=invoice.issued_at,
        due_date=invoice.due_date,
        subtotal=invoice.subtotal or 0,
        tax_total=invoice.tax_total or 0,
        total=invoice.total or 0,
        amount_paid=invoice.amount_paid or 0,
        amount_credited=invoice.amount_credited or 0,
        amount_due=invoice.amount_due,
        reverse_charge=bool(invoice.reverse_charge),
        tax_note=invoice.tax_note,
        memo=invoice.memo,
        buyer=snapshot if isinstance(snapshot, dict) else {},
        buyer_country=invoice.buyer_country,
        lines=tuple(sorted(line_views, key=lambda line: line.position)),
    )


def country_name(code: str | None) -> str | None:
    """ "DE" -> "Germany" (pycountry's common name where it has one); unknown codes as given."""
    if not code:
        return None
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    return str(name)


def _field(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return str(value).strip() if value is not None else ""


def _buyer_lines(buyer: dict[str, Any], fallback_country: str | None) -> list[str]:
    name = " ".join(
        part for part in (_field(buyer, "first_name"), _field(buyer, "last_name")) if part
    )
    city_line = " ".join(
        part for part in (_field(buyer, "postal_code"), _field(buyer, "city")) if part
    )
    lines = [
        _field(buyer, "company"),
        name,
        _field(buyer, "address_line1"),
        _field(buyer, "address_line2"),
        city_line,
        _field(buyer, "region"),
        country_name(_field(buyer, "country") or fallback_country) or "",
    ]
    return [line for line in lines if line]


def _period(line: _LineView) -> str | None:
    if line.period_start and line.period_end:
        return f"Service period: {line.period_start.isoformat()} to {line.period_end.isoformat()}"
    if line.period_start:
        return f"Service from {line.period_start.isoformat()}"
    if line.period_end:
        return f"Service until {line.period_end.isoformat()}"
    return None


def _group_iban(iban: str) -> str:
    """Paper format: groups of four ("DE89 3704 0044 0532 0130 00")."""
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


class TaxedLine(Protocol):
    @property
    def tax_rate_bp(self) -> int: ...
    @property
    def net_amount(self) -> int: ...
    @property
    def tax_amount(self) -> int: ...


def tax_summary(lines: Iterable[TaxedLine]) -> list[tuple[int, int, int]]:
    """(rate_bp, net, tax) per tax rate, lowest rate first."""
    groups: dict[int, tuple[int, int]] = {}
    for line in lines:
        net, tax = groups.get(line.tax_rate_bp, (0, 0))
        groups[line.tax_rate_bp] = (net + line.net_amount, tax + line.tax_amount)
    return [(rate, net, tax) for rate, (net, tax) in sorted(groups.items())]


# --- the document --------------------------------------------------------------------------


class _InvoiceDocument(FPDF):
    def __init__(self, *, seller: SellerSettings) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._seller = seller
        self._font_name = FALLBACK_FAMILY
        self._unicode = False
        self._coverage: frozenset[int] | None = None
        self._load_font(pdf_font_path(seller))
        self.set_margins(_PAGE_MARGIN, _PAGE_MARGIN, _PAGE_MARGIN)
        self.set_auto_page_break(auto=True, margin=_PAGE_MARGIN + 5)

    def _load_font(self, regular: Path | None) -> None:
        if regular is None:
            return
        try:
            self.add_font(FONT_FAMILY, "", regular)
            self.add_font(FONT_FAMILY, "B", bold_font_path(regular) or regular)
        except Exception:  # a corrupt or unsupported font file: fall back, never fail
            logger.warning("PDF font %s could not be loaded; using Helvetica", regular)
            return
        self._font_name = FONT_FAMILY
        self._unicode = True
        font = self.fonts.get(FONT_FAMILY.lower())
        if isinstance(font, TTFFont):
            self._coverage = frozenset(font.cmap)

    def text_for(self, text: str) -> str:
        text = _printable(text)
        if not self._unicode:
            return latin1_fallback(text)
        if self._coverage is None:
            return text
        # Characters the font has no glyph for print as their Latin-1 folding or '?', not as
        # blanks (and fpdf2 then has no missing glyphs to log: they could be from a name).
        return "".join(
            char if char == "\n" or ord(char) in self._coverage else latin1_fallback(char)
            for char in text
        )

    def use(self, *, size: float, bold: bool = False) -> None:
        self.set_font(self._font_name, "B" if bold else "", size)

    def write_lines(self, lines: Sequence[str], *, x: float, w: float, h: float = 4.6) -> None:
        for line in lines:
            self.set_x(x)
            self.multi_cell(w, h, self.text_for(line), align="L", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-_PAGE_MARGIN)
        self.use(size=7.5)
        self.set_text_color(110)
        parts = [self._seller.name, f"VAT ID {self._seller.vat_id}" if self._seller.vat_id else ""]
        left = " · ".join(part for part in parts if part)
        self.cell(_CONTENT_WIDTH / 2, 4, self.text_for(left), align="L")
        self.cell(_CONTENT_WIDTH / 2, 4, f"Page {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)


def _seller_lines(seller: SellerSettings) -> list[str]:
    lines = [*seller.address_lines, country_name(seller.country) or ""]
    if seller.vat_id:
        lines.append(f"VAT ID: {seller.vat_id}")
    if seller.email:
        lines.append(seller.email)
    return [line for line in lines if line]


def _header(pdf: _InvoiceDocument, view: _InvoiceView, seller: SellerSettings) -> None:
    top = pdf.get_y()
    right_x, right_w = 125.0, 210.0 - _PAGE_MARGIN - 125.0
    pdf.set_xy(right_x, top)
    pdf.use(size=10, bold=True)
    pdf.write_lines([seller.name], x=right_x, w=right_w, h=5)
    pdf.use(size=8.5)
    pdf.write_lines(_seller_lines(seller), x=right_x, w=right_w, h=4.2)
    seller_bottom = pdf.get_y()

    left_w = 95.0
    pdf.set_xy(_PAGE_MARGIN, top)
    pdf.use(size=7.5)
    pdf.set_text_color(110)
    pdf.write_lines(["Bill to"], x=_PAGE_MARGIN, w=left_w, h=4)
    pdf.set_text_color(0)
    buyer_lines = _buyer_lines(view.buyer, view.buyer_country)
    pdf.use(size=10)
    pdf.write_lines(buyer_lines or ["-"], x=_PAGE_MARGIN, w=left_w, h=4.8)
    pdf.use(size=8.5)
    details = []
    if vat_id := _field(view.buyer, "vat_id"):
        details.append(f"VAT ID: {vat_id}")
    if customer_number := _field(view.buyer, "customer_number"):
        details.append(f"Customer number: {customer_number}")
    pdf.write_lines(details, x=_PAGE_MARGIN, w=left_w, h=4.2)
    pdf.set_y(max(pdf.get_y(), seller_bottom) + 10)


def _title(pdf: _InvoiceDocument, view: _InvoiceView) -> None:
    pdf.use(size=18, bold=True)
    title = "DRAFT INVOICE" if view.is_draft else f"Invoice {view.number}"
    pdf.cell(_CONTENT_WIDTH, 9, pdf.text_for(title), new_x="LMARGIN", new_y="NEXT")
    pdf.use(size=9.5)
    facts: list[tuple[str, str]] = []
    if view.issued_at is not None and not view.is_draft:
        facts.append(("Issue date", view.issued_at.date().isoformat()))
    if view.due_date is not None:
        facts.append(("Due date", view.due_date.isoformat()))
    facts.append(("Currency", view.currency.upper()))
    for label, value in facts:
        pdf.cell(30, 5, f"{label}:")
        pdf.cell(60, 5, pdf.text_for(value), new_x="LMARGIN", new_y="NEXT")
    notice = None
    if view.is_draft:
        notice = "DRAFT - not a valid invoice. The number is assigned when it is issued."
    elif view.status == InvoiceStatus.VOID:
        notice = "VOID - this invoice has been cancelled and is not payable."
    if notice:
        pdf.ln(1)
        pdf.use(size=10, bold=True)
        pdf.set_text_color(180, 0, 0)
        pdf.multi_cell(_CONTENT_WIDTH, 5, notice, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)
    pdf.ln(5)


def _line_table(pdf: _InvoiceDocument, view: _InvoiceView) -> None:
    heading = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
    pdf.use(size=8.5)
    with pdf.table(
        col_widths=(78, 14, 28, 20, 30),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=heading,
        borders_layout="HORIZONTAL_LINES",
        line_height=4.4,
        padding=1.2,
        width=_CONTENT_WIDTH,
    ) as table:
        header = table.row()
        for text in ("Description", "Qty", "Unit price", "Tax rate", "Net amount"):
            header.cell(text)
        for line in view.lines:
            description = line.description
            if period := _period(line):
                description = f"{description}\n{period}"
            row = table.row()
            row.cell(pdf.text_for(description))
            row.cell(str(line.quantity))
            row.cell(format_amount(line.unit_amount, view.currency))
            row.cell(format_rate(line.tax_rate_bp))
            row.cell(format_amount(line.net_amount, view.currency))
    pdf.ln(4)


def _tax_summary_table(pdf: _InvoiceDocument, view: _InvoiceView) -> None:
    pdf.use(size=9, bold=True)
    pdf.cell(_CONTENT_WIDTH, 5, "Tax summary", new_x="LMARGIN", new_y="NEXT")
    pdf.use(size=8.5)
    with pdf.table(
        col_widths=(25, 35, 35),
        text_align=("LEFT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD"),
        borders_layout="HORIZONTAL_LINES",
        line_height=4.4,
        padding=1,
        width=95,
        align="LEFT",
    ) as table:
        header = table.row()
        for text in ("Tax rate", "Net amount", "Tax"):
            header.cell(text)
        for rate, net, tax in tax_summary(view.lines):
            row = table.row()
            row.cell(format_rate(rate))
            row.cell(format_amount(net, view.currency))
            row.cell(format_amount(tax, view.currency))
    pdf.ln(4)


def _totals(pdf: _InvoiceDocument, view: _InvoiceView) -> None:
    rows: list[tuple[str, int, bool]] = [
        ("Subtotal", view.subtotal, False),
        ("Tax", view.tax_total, False),
        ("Total", view.total, True),
    ]
    if not view.is_draft:
        rows.append(("Amount paid", view.amount_paid, False))
        if view.amount_credited:
            rows.append(("Amount credited", view.amount_credited, False))
        rows.append(("Amount due", view.amount_due, True))
    label_w, value_w = 45.0, 40.0
    left = 210.0 - _PAGE_MARGIN - label_w - value_w
    for label, amount, bold in rows:
        pdf.use(size=10 if bold else 9.5, bold=bold)
        pdf.set_x(left)
        pdf.cell(label_w, 6, label)
        pdf.cell(
            value_w,
            6,
            format_amount(amount, view.currency),
            align="R",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(4)


def _notes(pdf: _InvoiceDocument, view: _InvoiceView, seller: SellerSettings) -> None:
    note = view.tax_note or (REVERSE_CHARGE_NOTE if view.reverse_charge else None)
    if note:
        pdf.use(size=9.5, bold=True)
        pdf.multi_cell(_CONTENT_WIDTH, 5, pdf.text_for(note), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    pdf.use(size=9.5, bold=True)
    pdf.cell(_CONTENT_WIDTH, 5, "Payment", new_x="LMARGIN", new_y="NEXT")
    pdf.use(size=9)
    if view.is_draft:
        intro = "Payment details (the reference is the invoice number, assigned at issue):"
    elif view.amount_due > 0:
        amount = format_amount(view.amount_due, view.currency)
        by = f" by {view.due_date.isoformat()}" if view.due_date else ""
        intro = f"Please transfer {amount}{by} to:"
    elif view.status == InvoiceStatus.PAID:
        intro = "This invoice has been paid. Thank you. Our bank details:"
    else:
        intro = "Nothing is due on this invoice. Our bank details:"
    pdf.multi_cell(_CONTENT_WIDTH, 4.8, intro, new_x="LMARGIN", new_y="NEXT")
    details = [
        ("Account holder", seller.name),
        ("Bank", seller.bank_name),
        ("IBAN", _group_iban(seller.iban) if seller.iban else ""),
        ("BIC", seller.bic),
        ("Reference", "-" if view.is_draft else (view.number or "-")),
    ]
    for label, value in details:
        if not value:
            continue
        pdf.cell(32, 4.8, f"{label}:")
        pdf.multi_cell(_CONTENT_WIDTH - 32, 4.8, pdf.text_for(value), new_x="LMARGIN", new_y="NEXT")

    if view.memo and view.memo.strip():
        pdf.ln(3)
        pdf.use(size=9.5, bold=True)
        pdf.cell(_CONTENT_WIDTH, 5, "Notes", new_x="LMARGIN", new_y="NEXT")
        pdf.use(size=9)
        pdf.multi_cell(
            _CONTENT_WIDTH, 4.8, pdf.text_for(view.memo.strip()), new_x="LMARGIN", new_y="NEXT"
        )


def _render(view: _InvoiceView, seller: SellerSettings) -> bytes:
    pdf = _InvoiceDocument(seller=seller)
    title = "Draft invoice" if view.is_draft else f"Invoice {view.number}"
    pdf.set_title(title)
    pdf.set_author(pdf.text_for(seller.name))
    pdf.set_creator("Hostledger")
    pdf.set_lang("en")
    if view.issued_at is not None and not view.is_draft:
        pdf.set_creation_date(view.issued_at)
    pdf.add_page()
    _header(pdf, view, seller)
    _title(pdf, view)
    _line_table(pdf, view)
    _tax_summary_table(pdf, view)
    _totals(pdf, view)
    _notes(pdf, view, seller)
    return bytes(pdf.output())


def render_invoice_pdf(
    *, invoice: Invoice, lines: Sequence[InvoiceLine], seller: SellerSettings
) -> bytes:
    """The invoice as PDF bytes. Blocking (CPU-bound): from async code use the async variant."""
    return _render(_view(invoice, lines), seller)


async def render_invoice_pdf_async(
    *, invoice: Invoice, lines: Sequence[InvoiceLine], seller: SellerSettings
) -> bytes:
    """`render_invoice_pdf` in a worker thread. The ORM attributes are read here, on the event
    loop's thread, so pass loaded objects (lines included); the worker never touches them."""
    view = _view(invoice, lines)
    return await anyio.to_thread.run_sync(functools.partial(_render, view, seller))
