"""Every query on payments, credit notes and disputes (the ledger's live in billing)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.access import BillingViewer
from app.core.pagination import PageParams
from app.core.repository import Repository
from app.models.invoice import CreditNote, CreditNoteLine, Invoice, InvoiceStatus
from app.models.payment import CreditEntry, Dispute, DisputeStatus, Payment
from app.payments.errors import CreditNoteNotFound, DisputeNotFound, PaymentNotFound

RowT = TypeVar("RowT", bound=Any)


def _readable(statement: Select[RowT], viewer: BillingViewer, column: Any) -> Select[RowT]:
    """The access filter: a customer's own rows, or everyone's for staff."""
    condition = viewer.owns(column)
    return statement if condition is None else statement.where(condition)


@dataclass(frozen=True)
class PaymentFilter:
    invoice_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Credited:
    """What earlier credit notes already credited on one invoice line."""

    quantity: int = 0
    net: int = 0
    tax: int = 0


class PaymentRepository(Repository[Payment]):
    model = Payment
    not_found = PaymentNotFound

    async def page(
        self, *, viewer: BillingViewer, search: PaymentFilter, page: PageParams
    ) -> tuple[Sequence[Payment], str | None]:
        statement = _readable(select(Payment), viewer, Payment.customer_id)
        if search.invoice_id is not None:
            statement = statement.where(Payment.invoice_id == search.invoice_id)
        if search.customer_id is not None:
            statement = statement.where(Payment.customer_id == search.customer_id)
        return await self.paginate(statement, page=page)

    async def of_customer(self, customer_id: uuid.UUID) -> list[Payment]:
        statement = select(Payment).where(Payment.customer_id == customer_id).order_by(Payment.id)
        return list((await self.session.scalars(statement)).all())


class CreditNoteRepository(Repository[CreditNote]):
    model = CreditNote
    not_found = CreditNoteNotFound

    async def page(
        self,
        *,
        viewer: BillingViewer,
        invoice_id: uuid.UUID | None,
        customer_id: uuid.UUID | None,
        page: PageParams,
    ) -> tuple[Sequence[CreditNote], str | None]:
        statement = _readable(select(CreditNote), viewer, CreditNote.customer_id)
        if invoice_id is not None:
            statement = statement.where(CreditNote.invoice_id == invoice_id)
        if customer_id is not None:
            statement = statement.where(CreditNote.customer_id == customer_id)
        return await self.paginate(statement, page=page)

    async def get_readable(self, note_id: uuid.UUID, *, viewer: BillingViewer) -> CreditNote:
        statement = _readable(select(CreditNote), viewer, CreditNote.customer_id).where(
            CreditNote.id == note_id
        )
        note: CreditNote | None = (await self.session.scalars(statement)).first()
        if note is None:
            raise CreditNoteNotFound("No such credit note.")
        return note

    async def lines(self, note_id: uuid.UUID) -> list[CreditNoteLine]:
        statement = (
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id == note_id)
            .order_by(CreditNoteLine.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def lines_of_many(
        self, note_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[CreditNoteLine]]:
        grouped: dict[uuid.UUID, list[CreditNoteLine]] = {note_id: [] for note_id in note_ids}
        if not note_ids:
            return grouped
        statement = (
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id.in_(note_ids))
            .order_by(CreditNoteLine.credit_note_id, CreditNoteLine.id)
        )
        for line in (await self.session.scalars(statement)).all():
            grouped[line.credit_note_id].append(line)
        return grouped

    async def credited_per_line(self, invoice_id: uuid.UUID) -> dict[uuid.UUID, Credited]:
        statement = (
            select(
                CreditNoteLine.invoice_line_id,
                func.sum(CreditNoteLine.quantity),
                func.sum(CreditNoteLine.net_amount),
                func.sum(CreditNoteLine.tax_amount),
            )
            .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
            .where(CreditNote.invoice_id == invoice_id)
            .group_by(CreditNoteLine.invoice_line_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {
            line_id: Credited(quantity=int(quantity), net=int(net), tax=int(tax))
            for line_id, quantity, net, tax in rows
        }

    async def credited_total(self, invoice_id: uuid.UUID) -> int:
        statement = select(func.coalesce(func.sum(CreditNote.total), 0)).where(
            CreditNote.invoice_id == invoice_id
        )
        return int((await self.session.scalar(statement)) or 0)

    async def of_customer(self, customer_id: uuid.UUID) -> list[CreditNote]:
        statement = (
            select(CreditNote).where(CreditNote.customer_id == customer_id).order_by(CreditNote.id)
        )
        return list((await self.session.scalars(statement)).all())


class DisputeRepository(Repository[Dispute]):
    model = Dispute
    not_found = DisputeNotFound

    async def page(
        self,
        *,
        viewer: BillingViewer,
        status: DisputeStatus | None,
        invoice_id: uuid.UUID | None,
        customer_id: uuid.UUID | None,
        page: PageParams,
    ) -> tuple[Sequence[Dispute], str | None]:
        statement = _readable(select(Dispute), viewer, Dispute.customer_id)
        if status is not None:
            statement = statement.where(Dispute.status == status.value)
        if invoice_id is not None:
            statement = statement.where(Dispute.invoice_id == invoice_id)
        if customer_id is not None:
            statement = statement.where(Dispute.customer_id == customer_id)
        return await self.paginate(statement, page=page)

    async def get_readable(self, dispute_id: uuid.UUID, *, viewer: BillingViewer) -> Dispute:
        statement = _readable(select(Dispute), viewer, Dispute.customer_id).where(
            Dispute.id == dispute_id
        )
        dispute: Dispute | None = (await self.session.scalars(statement)).first()
        if dispute is None:
            raise DisputeNotFound("No such dispute.")
        return dispute

    async def open_count(self, customer_id: uuid.UUID) -> int:
        statement = select(func.count()).where(
            Dispute.customer_id == customer_id, Dispute.status == DisputeStatus.OPEN.value
        )
        return int((await self.session.scalar(statement)) or 0)


class CustomerBillingRepository:
    """A customer's billing records in full, oldest first: for the data export."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def issued_invoices(self, customer_id: uuid.UUID) -> list[Invoice]:
        statement = (
            select(Invoice)
            .where(
                Invoice.customer_id == customer_id,
                Invoice.status != InvoiceStatus.DRAFT.value,
            )
            .order_by(Invoice.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def ledger(self, customer_id: uuid.UUID) -> list[CreditEntry]:
        statement = (
            select(CreditEntry)
            .where(CreditEntry.customer_id == customer_id)
            .order_by(CreditEntry.currency, CreditEntry.sequence)
        )
        return list((await self.session.scalars(statement)).all())
