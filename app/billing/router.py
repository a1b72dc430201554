"""/invoices: one set of endpoints for customers and staff alike.

Reading goes through `viewer_for(principal)`: a customer sees their own invoices (another's is
404, as if it did not exist), staff and integrations holding `billing:read` see everyone's.
Drafting, issuing, voiding and writing off need `billing:write`; a customer may add funds for
themselves and pay their own open invoice from their credit.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, cast

from fastapi import Body, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.api.deps import ContainerDep, SessionDep, SettingsDep
from app.auth.dependencies import ClientDep, PrincipalDep, require
from app.auth.principal import Principal
from app.billing.access import viewer_for
from app.billing.listing import InvoiceListing
from app.billing.pdf import render_invoice_pdf_async
from app.billing.repository import InvoiceFilter
from app.billing.schemas import (
    AddFundsIn,
    ApplyCreditIn,
    CloseIn,
    InvoiceCreate,
    InvoiceDetail,
    InvoiceSummary,
    LineIn,
)
from app.billing.service import InvoiceService, stream_invoices_csv
from app.core.container import Container
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.customers.admin_service import actor_of
from app.models.invoice import Invoice, InvoiceStatus

router = CapabilityRouter(
    prefix="/invoices", tags=["invoices"], responses=problem_responses(401, 403)
)

Reader = Annotated[Principal, require("billing:read")]
Writer = Annotated[Principal, require("billing:write")]
Paging = Annotated[PageParams, Depends(page_params)]


async def get_invoice_service(session: SessionDep, container: ContainerDep) -> InvoiceService:
    return InvoiceService(session=session, container=container)


InvoiceServiceDep = Annotated[InvoiceService, Depends(get_invoice_service)]


def _container_of(request: Request) -> Container:
    # Read directly rather than through `ContainerDep`: one dependency less to solve on the
    # listing, which is on the hot path (`make bench`).
    return cast(Container, request.app.state.container)


async def get_invoice_listing(request: Request) -> InvoiceListing:
    return InvoiceListing(container=_container_of(request))


InvoiceListingDep = Annotated[InvoiceListing, Depends(get_invoice_listing)]


async def invoice_filter(
    request: Request,
    status_: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    due_from: Annotated[date | None, Query(description="due on or after this day")] = None,
    due_to: Annotated[date | None, Query(description="due on or before this day")] = None,
    overdue: Annotated[
        bool,
        Query(description="true: only open invoices due before today; false: no filter"),
    ] = False,
) -> InvoiceFilter:
    return InvoiceFilter(
        status=status_,
        customer_id=customer_id,
        due_from=due_from,
        due_to=due_to,
        overdue_on=_container_of(request).clock.now().date() if overdue else None,
    )


FilterDep = Annotated[InvoiceFilter, Depends(invoice_filter)]


def pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number}.pdf" if invoice.number else f"draft-{invoice.id}.pdf"


# --------------------------------------------------------------------------- reading


@router.get(
    "",
    response_model=Page[InvoiceSummary],
    responses=problem_responses(400, 422),
    summary="Invoices, newest first: your own, or everyone's with `billing:read` (no lines)",
)
async def list_invoices(
    principal: PrincipalDep, invoices: InvoiceListingDep, page: Paging, search: FilterDep
) -> Response:
    # Hot path (`make bench`): no ORM session in this route's dependencies, one statement,
    # and the document is returned as written instead of FastAPI validating it once more.
    document = await invoices.page_document(viewer=viewer_for(principal), search=search, page=page)
    return Response(content=document, media_type="application/json")


# Declared before `/{invoice_id}` so the literal path is matched first.
@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **problem_responses(422),
    },
    summary="Export the invoices matching the filters as CSV (staff)",
)
async def export_invoices_csv(
    principal: Reader, container: ContainerDep, search: FilterDep
) -> StreamingResponse:
    return StreamingResponse(
        stream_invoices_csv(container=container, viewer=viewer_for(principal), search=search),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="invoices.csv"'},
    )


@router.get(
    "/{invoice_id}",
    response_model=InvoiceDetail,
    responses=problem_responses(404),
    summary="One invoice with its lines and the buyer as billed",
)
async def get_invoice(
    invoice_id: uuid.UUID, principal: PrincipalDep, invoices: InvoiceServiceDep
) -> InvoiceDetail:
    return InvoiceDetail.of(await invoices.view(invoice_id, viewer=viewer_for(principal)))


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The invoice as PDF"},
        **problem_responses(404),
    },
    summary="The invoice as a PDF document",
)
async def get_invoice_pdf(
    invoice_id: uuid.UUID,
    principal: PrincipalDep,
    invoices: InvoiceServiceDep,
    settings: SettingsDep,
) -> Response:
    view = await invoices.view(invoice_id, viewer=viewer_for(principal))
    document = await render_invoice_pdf_async(
        invoice=view.invoice, lines=view.lines, seller=settings.seller
    )
    return Response(
        content=document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{pdf_filename(view.invoice)}"'},
    )


# --------------------------------------------------------------------------- changing


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InvoiceDetail,
    responses=problem_responses(404, 409, 422),
    summary="Draft an invoice for a customer (staff)",
)
async def create_invoice(
    body: InvoiceCreate,
    principal: Writer,
    invoices: InvoiceServiceDep,
    client: ClientDep,
) -> InvoiceDetail:
    invoice = await invoices.draft_manual(
        customer_id=body.customer_id,
        currency=body.currency,
        lines=[line.to_line() for line in body.lines],
        memo=body.memo,
        actor=actor_of(principal, client),
    )
    return InvoiceDetail.of(await invoices.with_lines(invoice))


@router.post(
    "/add-funds",
    status_code=status.HTTP_201_CREATED,
    response_model=InvoiceDetail,
    responses=problem_responses(404, 409, 422),
    summary="Add funds to the credit balance: an untaxed invoice, issued at once",
)
async def add_funds(
    body: AddFundsIn,
    principal: PrincipalDep,
    invoices: InvoiceServiceDep,
    client: ClientDep,
) -> InvoiceDetail:
    invoice = await invoices.add_funds(
        viewer=viewer_for(principal),
        customer_id=body.customer_id,
        amount=body.amount,
        currency=body.currency,
        actor=actor_of(principal, client),
    )
    return InvoiceDetail.of(await invoices.with_lines(invoice))


@router.post(
    "/{invoice_id}/lines",
    status_code=status.HTTP_201_CREATED,
    response_model=InvoiceDetail,
    responses=problem_responses(404, 409, 422),
    summary="Add a line to a draft invoice (staff)",
)
async def add_invoice_line(
    invoice_id: uuid.UUID,
    body: LineIn,
    principal: Writer,
    invoices: InvoiceServiceDep,
    client: ClientDep,
) -> InvoiceDetail:
    invoice = await invoices.add_line(
        invoice_id=invoice_id, line=body.to_line(), actor=actor_of(principal, client)
    )
    return InvoiceDetail.of(await invoices.with_lines(invoice))


@router.delete(
    "/{invoice_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(404, 409),
    summary="Delete a draft invoice (staff; issued invoices are voided, never deleted)",
)
async def delete_invoice(
    invoice_id: uuid.UUID, principal: Writer, invoices: InvoiceServiceDep, client: ClientDep
) -> Response:
    await invoices.delete_draft(invoice_id=invoice_id, actor=actor_of(principal, client))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{invoice_id}/issue",
    response_model=InvoiceDetail,
    responses=problem_responses(404, 409),
    summary="Issue a draft: number, buyer details and tax are fixed (staff)",
)
async def issue_invoice(
    invoice_id: uuid.UUID, principal: Writer, invoices: InvoiceServiceDep, client: ClientDep
) -> InvoiceDetail:
    invoice = await invoices.issue(invoice_id=invoice_id, actor=actor_of(principal, client))
    return InvoiceDetail.of(await invoices.with_lines(invoice))


OptionalClose = Annotated[CloseIn | None, Body()]


@router.post(
    "/{invoice_id}/void",
    response_model=InvoiceDetail,
    responses=problem_responses(404, 409, 422),
    summary="Void an open invoice nobody paid anything on (staff)",
)
async def void_invoice(
    invoice_id: uuid.UUID,
    principal: Writer,
    invoices: InvoiceServiceDep,
    client: ClientDep,
    body: OptionalClose = None,
) -> InvoiceDetail:
    invoice = await invoices.void(
        invoice_id=invoice_id,
        actor=actor_of(principal, client),
        reason=body.reason if body else None,
    )
    return InvoiceDetail.of(await invoices.with_lines(invoice))


@router.post(
    "/{invoice_id}/write-off",
    response_model=InvoiceDetail,
    responses=problem_responses(404, 409, 422),
    summary="Write off what an open invoice still asks for (staff)",
)
async def write_off_invoice(
    invoice_id: uuid.UUID,
    principal: Writer,
    invoices: InvoiceServiceDep,
    client: ClientDep,
    body: OptionalClose = None,
) -> InvoiceDetail:
    invoice = await invoices.write_off(
        invoice_id=invoice_id,
        actor=actor_of(principal, client),
        reason=body.reason if body else None,
    )
    return InvoiceDetail.of(await invoices.with_lines(invoice))


@router.post(
    "/{invoice_id}/apply-credit",
    response_model=InvoiceDetail,
    responses=problem_responses(404, 409, 422),
    summary="Pay an open invoice from the credit balance (staff, or the customer on their own)",
)
async def apply_invoice_credit(
    invoice_id: uuid.UUID,
    principal: PrincipalDep,
    invoices: InvoiceServiceDep,
    client: ClientDep,
    body: Annotated[ApplyCreditIn | None, Body()] = None,
) -> InvoiceDetail:
    invoice = await invoices.apply_credit_for(
        viewer=viewer_for(principal),
        invoice_id=invoice_id,
        amount=body.amount if body else None,
        actor=actor_of(principal, client),
    )
    return InvoiceDetail.of(await invoices.with_lines(invoice))
