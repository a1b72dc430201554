"""Payments (idempotent), the credit balance, credit notes and disputes.

Staff and integrations with `billing:write` record payments, add funds, issue credit notes and
handle disputes; `billing:read` reads everyone's records; a signed-in customer reads their own
(the listings are filtered in the query, see `app.billing.access`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, status
from fastapi.responses import Response
from pydantic import BaseModel

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import ClientDep, PrincipalDep, require
from app.auth.principal import Principal
from app.billing.access import viewer_for
from app.billing.idempotency import IdempotencyDep, OptionalIdempotencyDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.core.routing import CapabilityRouter
from app.customers.admin_service import actor_of
from app.models.payment import DisputeStatus
from app.payments.repository import PaymentFilter
from app.payments.schemas import (
    AddFundsIn,
    CreditEntryOut,
    CreditNoteIn,
    CreditNoteListItem,
    CreditNoteOut,
    CreditOut,
    DisputeIn,
    DisputeOut,
    DisputeResolve,
    PaymentIn,
    PaymentOut,
)
from app.payments.service import (
    CreditLine,
    CreditNoteService,
    CreditService,
    CreditView,
    DisputeService,
    NewCreditNote,
    NewPayment,
    PaymentService,
)

router = CapabilityRouter(responses=problem_responses(401, 403))

Reader = Annotated[Principal, require("billing:read")]
Writer = Annotated[Principal, require("billing:write")]
Me = Annotated[Principal, require("me")]
Paging = Annotated[PageParams, Depends(page_params)]
CurrencyQuery = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$", description="ISO 4217")]


async def get_payment_service(session: SessionDep, container: ContainerDep) -> PaymentService:
    return PaymentService(session=session, container=container)


async def get_credit_service(session: SessionDep, container: ContainerDep) -> CreditService:
    return CreditService(session=session, container=container)


async def get_credit_note_service(
    session: SessionDep, container: ContainerDep
) -> CreditNoteService:
    return CreditNoteService(session=session, container=container)


async def get_dispute_service(session: SessionDep, container: ContainerDep) -> DisputeService:
    return DisputeService(session=session, container=container)


PaymentServiceDep = Annotated[PaymentService, Depends(get_payment_service)]
CreditServiceDep = Annotated[CreditService, Depends(get_credit_service)]
CreditNoteServiceDep = Annotated[CreditNoteService, Depends(get_credit_note_service)]
DisputeServiceDep = Annotated[DisputeService, Depends(get_dispute_service)]


# --------------------------------------------------------------------------- payments


@router.post(
    "/invoices/{invoice_id}/payments",
    tags=["payments"],
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses=problem_responses(400, 404, 409, 422),
    summary="Record a payment for an open invoice (needs an Idempotency-Key)",
    description=(
        "The payment is in the invoice's currency. What the invoice still asks for is paid "
        "(in full: the invoice becomes `paid`); anything beyond it is an overpayment added to "
        "the customer's credit balance. A paid, void or uncollectible invoice is 409 "
        "`invoice_not_open`."
    ),
)
async def record_payment(
    invoice_id: uuid.UUID,
    body: PaymentIn,
    principal: Writer,
    client: ClientDep,
    idempotency: IdempotencyDep,
    payments: PaymentServiceDep,
) -> Response:
    async def operation() -> tuple[int, BaseModel]:
        payment = await payments.record(
            invoice_id=invoice_id,
            payment=NewPayment(
                amount=body.amount,
                method=body.method.value,
                reference=body.reference,
                received_at=body.received_at,
                currency=body.currency,
            ),
            actor=actor_of(principal, client),
        )
        return status.HTTP_201_CREATED, PaymentOut.of(payment)

    return await idempotency.respond(principal=principal, operation=operation)


@router.get(
    "/payments",
    tags=["payments"],
    response_model=Page[PaymentOut],
    responses=problem_responses(400, 422),
    summary="Payments, newest first (a customer sees their own)",
)
async def list_payments(
    principal: PrincipalDep,
    payments: PaymentServiceDep,
    page: Paging,
    invoice_id: Annotated[uuid.UUID | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[PaymentOut]:
    rows, next_cursor = await payments.page(
        viewer=viewer_for(principal),
        search=PaymentFilter(invoice_id=invoice_id, customer_id=customer_id),
        page=page,
    )
    return Page[PaymentOut](items=[PaymentOut.of(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/invoices/{invoice_id}/payments",
    tags=["payments"],
    response_model=Page[PaymentOut],
    responses=problem_responses(400, 404),
    summary="The payments of one invoice, newest first",
)
async def list_invoice_payments(
    invoice_id: uuid.UUID, principal: PrincipalDep, payments: PaymentServiceDep, page: Paging
) -> Page[PaymentOut]:
    rows, next_cursor = await payments.page_of_invoice(
        invoice_id=invoice_id, viewer=viewer_for(principal), page=page
    )
    return Page[PaymentOut](items=[PaymentOut.of(row) for row in rows], next_cursor=next_cursor)


# --------------------------------------------------------------------------- credit


def _credit_out(view: CreditView) -> CreditOut:
    return CreditOut.of(
        customer_id=view.customer_id,
        balances=view.balances,
        entries=view.entries,
        next_cursor=view.next_cursor,
    )


@router.get(
    "/customers/{customer_id}/credit",
    tags=["credit"],
    response_model=CreditOut,
    responses=problem_responses(400, 404, 422),
    summary="A customer's credit balance per currency and its ledger, newest entry first",
)
async def get_customer_credit(
    customer_id: uuid.UUID,
    _: Reader,
    credit: CreditServiceDep,
    page: Paging,
    currency: CurrencyQuery = None,
) -> CreditOut:
    return _credit_out(
        await credit.of_customer(customer_id=customer_id, currency=currency, page=page)
    )


@router.post(
    "/customers/{customer_id}/credit",
    tags=["credit"],
    status_code=status.HTTP_201_CREATED,
    response_model=CreditEntryOut,
    responses=problem_responses(400, 404, 409, 422),
    summary="Add funds to a customer's credit balance by hand (a `funds_added` entry)",
    description="Send an `Idempotency-Key` to make a retry safe (a double click adds once).",
)
async def add_customer_funds(
    customer_id: uuid.UUID,
    body: AddFundsIn,
    principal: Writer,
    client: ClientDep,
    idempotency: OptionalIdempotencyDep,
    credit: CreditServiceDep,
) -> Response:
    async def operation() -> tuple[int, BaseModel]:
        entry = await credit.add_funds(
            customer_id=customer_id,
            amount=body.amount,
            currency=body.currency,
            memo=body.memo,
            actor=actor_of(principal, client),
        )
        return status.HTTP_201_CREATED, CreditEntryOut.of(entry)

    return await idempotency.respond(principal=principal, operation=operation)


@router.get(
    "/me/credit",
    tags=["me"],
    response_model=CreditOut,
    responses=problem_responses(400, 404, 422),
    summary="My credit balance per currency and its ledger, newest entry first",
)
async def get_my_credit(
    principal: Me, credit: CreditServiceDep, page: Paging, currency: CurrencyQuery = None
) -> CreditOut:
    user = principal.require_user()
    return _credit_out(await credit.mine(user_id=user.id, currency=currency, page=page))


# --------------------------------------------------------------------------- credit notes


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    tags=["credit-notes"],
    status_code=status.HTTP_201_CREATED,
    response_model=CreditNoteOut,
    responses=problem_responses(400, 404, 409, 422),
    summary="Credit an issued invoice, wholly or line by line",
    description=(
        "Omitting `lines` credits everything not credited yet. Per line: net = quantity x the "
        "line's unit amount, tax at the line's rate rounded half-up. The part up to what the "
        "invoice still asks for lowers it (an open invoice left with nothing to pay becomes "
        "`paid` when something was paid on it, else `void`); the rest is added to the credit "
        "balance or recorded as refunded, as `settlement` says. More than was invoiced and not "
        "yet credited is 422 `credit_exceeds_invoice`. Send an `Idempotency-Key` to make a "
        "retry safe (a retried partial credit note is not issued twice)."
    ),
)
async def create_credit_note(
    invoice_id: uuid.UUID,
    body: CreditNoteIn,
    principal: Writer,
    client: ClientDep,
    idempotency: OptionalIdempotencyDep,
    notes: CreditNoteServiceDep,
) -> Response:
    async def operation() -> tuple[int, BaseModel]:
        note, lines = await notes.issue(
            invoice_id=invoice_id,
            note=NewCreditNote(
                reason=body.reason,
                settlement=body.settlement,
                memo=body.memo,
                lines=None
                if body.lines is None
                else [
                    CreditLine(invoice_line_id=line.invoice_line_id, quantity=line.quantity)
                    for line in body.lines
                ],
            ),
            actor=actor_of(principal, client),
        )
        return status.HTTP_201_CREATED, CreditNoteOut.with_lines(note, lines)

    return await idempotency.respond(principal=principal, operation=operation)


@router.get(
    "/credit-notes",
    tags=["credit-notes"],
    response_model=Page[CreditNoteListItem],
    responses=problem_responses(400, 422),
    summary="Credit notes, newest first (a customer sees their own)",
)
async def list_credit_notes(
    principal: PrincipalDep,
    notes: CreditNoteServiceDep,
    page: Paging,
    invoice_id: Annotated[uuid.UUID | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[CreditNoteListItem]:
    rows, next_cursor = await notes.page(
        viewer=viewer_for(principal), invoice_id=invoice_id, customer_id=customer_id, page=page
    )
    return Page[CreditNoteListItem](
        items=[CreditNoteListItem.of(row) for row in rows], next_cursor=next_cursor
    )


@router.get(
    "/credit-notes/{credit_note_id}",
    tags=["credit-notes"],
    response_model=CreditNoteOut,
    responses=problem_responses(404),
    summary="One credit note with its lines",
)
async def get_credit_note(
    credit_note_id: uuid.UUID, principal: PrincipalDep, notes: CreditNoteServiceDep
) -> CreditNoteOut:
    note, lines = await notes.get(credit_note_id, viewer=viewer_for(principal))
    return CreditNoteOut.with_lines(note, lines)


# --------------------------------------------------------------------------- disputes


@router.post(
    "/invoices/{invoice_id}/disputes",
    tags=["disputes"],
    status_code=status.HTTP_201_CREATED,
    response_model=DisputeOut,
    responses=problem_responses(404, 409, 422),
    summary="Open a dispute on an issued invoice (or one of its payments)",
)
async def open_dispute(
    invoice_id: uuid.UUID,
    body: DisputeIn,
    principal: Writer,
    client: ClientDep,
    disputes: DisputeServiceDep,
) -> DisputeOut:
    dispute = await disputes.open(
        invoice_id=invoice_id,
        reason=body.reason,
        payment_id=body.payment_id,
        is_chargeback=body.is_chargeback,
        actor=actor_of(principal, client),
    )
    return DisputeOut.of(dispute)


@router.post(
    "/disputes/{dispute_id}/resolve",
    tags=["disputes"],
    response_model=DisputeOut,
    responses=problem_responses(404, 409, 422),
    summary="Resolve an open dispute as won or lost",
)
async def resolve_dispute(
    dispute_id: uuid.UUID,
    body: DisputeResolve,
    principal: Writer,
    client: ClientDep,
    disputes: DisputeServiceDep,
) -> DisputeOut:
    dispute = await disputes.resolve(
        dispute_id=dispute_id,
        outcome=DisputeStatus(body.outcome),
        resolution=body.resolution,
        actor=actor_of(principal, client),
    )
    return DisputeOut.of(dispute)


@router.get(
    "/disputes",
    tags=["disputes"],
    response_model=Page[DisputeOut],
    responses=problem_responses(400, 422),
    summary="Disputes, newest first (a customer sees their own)",
)
async def list_disputes(
    principal: PrincipalDep,
    disputes: DisputeServiceDep,
    page: Paging,
    status_: Annotated[DisputeStatus | None, Query(alias="status")] = None,
    invoice_id: Annotated[uuid.UUID | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[DisputeOut]:
    rows, next_cursor = await disputes.page(
        viewer=viewer_for(principal),
        status=status_,
        invoice_id=invoice_id,
        customer_id=customer_id,
        page=page,
    )
    return Page[DisputeOut](items=[DisputeOut.of(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/disputes/{dispute_id}",
    tags=["disputes"],
    response_model=DisputeOut,
    responses=problem_responses(404),
    summary="One dispute",
)
async def get_dispute(
    dispute_id: uuid.UUID, principal: PrincipalDep, disputes: DisputeServiceDep
) -> DisputeOut:
    return DisputeOut.of(await disputes.get(dispute_id, viewer=viewer_for(principal)))
