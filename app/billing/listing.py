"""The invoice listing (`GET /invoices`), on the hot read path (`make bench`)."""

from __future__ import annotations

from pydantic import TypeAdapter

from app.billing.access import BillingViewer
from app.billing.repository import InvoiceFilter, InvoiceSummaries
from app.billing.schemas import InvoiceSummary
from app.core.container import Container
from app.core.pagination import Page, PageParams, page_json

SUMMARY_PAGE: TypeAdapter[Page[InvoiceSummary]] = TypeAdapter(Page[InvoiceSummary])


class InvoiceListing:
    """The invoice listing, on the hot read path: no ORM session, no transaction, one
    statement of summary columns only, whatever the page size (`make bench`)."""

    def __init__(self, *, container: Container) -> None:
        self.summaries = InvoiceSummaries(container.hot_reader)

    async def page_document(
        self, *, viewer: BillingViewer, search: InvoiceFilter, page: PageParams
    ) -> bytes:
        """The `Page[InvoiceSummary]` JSON. On PostgreSQL the database writes each item, so
        no Python object is made per value; elsewhere pydantic-core validates and writes the
        rows in one pass. Both give the same document (a test compares them)."""
        if self.summaries.renders_json:
            items, next_cursor = await self.summaries.json_page(
                viewer=viewer, search=search, page=page
            )
            return page_json(items, next_cursor)
        return await self.validated_document(viewer=viewer, search=search, page=page)

    async def validated_document(
        self, *, viewer: BillingViewer, search: InvoiceFilter, page: PageParams
    ) -> bytes:
        rows, next_cursor = await self.summaries.page(viewer=viewer, search=search, page=page)
        listing = SUMMARY_PAGE.validate_python({"items": rows, "next_cursor": next_cursor})
        return SUMMARY_PAGE.dump_json(listing)
