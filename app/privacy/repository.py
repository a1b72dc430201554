"""Every query of the privacy capability (consents, welcome tokens, erasure, export reads)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update

from app.core.errors import NotFound
from app.core.pagination import PageParams
from app.core.repository import Repository
from app.models.audit import AuditEntry, DataAccess
from app.models.customer import Customer, CustomerNote
from app.models.privacy import ConsentRecord, ErasureRequest, WelcomeToken
from app.models.security import OneTimeToken, RecoveryCode, SecurityEvent
from app.models.session import UserSession

OPEN_ERASURE_STATUSES = ("pending", "approved")


class ErasureRequestNotFound(NotFound):
    code = "erasure_request_not_found"


class ConsentRepository(Repository[ConsentRecord]):
    model = ConsentRecord

    async def history(
        self, *, customer_id: uuid.UUID | None = None, visitor_id: str | None = None
    ) -> Sequence[ConsentRecord]:
        statement = select(ConsentRecord)
        if customer_id is not None:
            statement = statement.where(ConsentRecord.customer_id == customer_id)
        else:
            statement = statement.where(ConsentRecord.visitor_id == visitor_id)
        return (await self.session.scalars(statement.order_by(ConsentRecord.id.desc()))).all()

    async def delete_for_customer(self, customer_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(ConsentRecord).where(ConsentRecord.customer_id == customer_id)
        )


class WelcomeTokenRepository(Repository[WelcomeToken]):
    model = WelcomeToken

    async def by_hash(self, token_hash: str) -> WelcomeToken | None:
        return (
            await self.session.scalars(
                select(WelcomeToken).where(WelcomeToken.token_hash == token_hash)
            )
        ).first()

    async def active_for_customer(
        self, customer_id: uuid.UUID, *, now: datetime
    ) -> Sequence[WelcomeToken]:
        statement = select(WelcomeToken).where(
            WelcomeToken.customer_id == customer_id,
            WelcomeToken.revoked_at.is_(None),
            WelcomeToken.expires_at > now,
        )
        return (await self.session.scalars(statement.order_by(WelcomeToken.id.desc()))).all()

    async def revoke_for_customer(self, customer_id: uuid.UUID, *, at: datetime) -> None:
        await self.session.execute(
            update(WelcomeToken)
            .where(WelcomeToken.customer_id == customer_id, WelcomeToken.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )

    async def delete_for_customer(self, customer_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(WelcomeToken).where(WelcomeToken.customer_id == customer_id)
        )


class ErasureRequestRepository(Repository[ErasureRequest]):
    model = ErasureRequest
    not_found = ErasureRequestNotFound

    async def open_for_customer(self, customer_id: uuid.UUID) -> ErasureRequest | None:
        statement = select(ErasureRequest).where(
            ErasureRequest.customer_id == customer_id,
            ErasureRequest.status.in_(OPEN_ERASURE_STATUSES),
        )
        return (await self.session.scalars(statement)).first()

    async def for_customer(self, customer_id: uuid.UUID) -> Sequence[ErasureRequest]:
        statement = select(ErasureRequest).where(ErasureRequest.customer_id == customer_id)
        return (await self.session.scalars(statement.order_by(ErasureRequest.id.desc()))).all()

    async def get_for_update(self, request_id: uuid.UUID) -> ErasureRequest:
        statement = select(ErasureRequest).where(ErasureRequest.id == request_id).with_for_update()
        row = (await self.session.scalars(statement)).first()
        if row is None:
            raise self.not_found("No such erasure request.")
        return row

    async def listing(
        self, *, page: PageParams, status: str | None
    ) -> tuple[Sequence[ErasureRequest], str | None]:
        statement = select(ErasureRequest)
        if status is not None:
            statement = statement.where(ErasureRequest.status == status)
        return await self.paginate(statement, page=page)


class CustomerPrivacyRepository(Repository[Customer]):
    """The customer's record and the rows about them that live in other tables."""

    model = Customer

    async def by_user_id(self, user_id: uuid.UUID) -> Customer | None:
        return (
            await self.session.scalars(select(Customer).where(Customer.user_id == user_id))
        ).first()

    async def get_for_update(self, customer_id: uuid.UUID) -> Customer | None:
        statement = select(Customer).where(Customer.id == customer_id).with_for_update()
        return (await self.session.scalars(statement)).first()

    async def sessions_of_user(self, user_id: uuid.UUID) -> Sequence[UserSession]:
        statement = select(UserSession).where(UserSession.user_id == user_id)
        return (await self.session.scalars(statement.order_by(UserSession.id.desc()))).all()

    async def security_events_of_user(self, user_id: uuid.UUID) -> Sequence[SecurityEvent]:
        statement = select(SecurityEvent).where(SecurityEvent.user_id == user_id)
        return (await self.session.scalars(statement.order_by(SecurityEvent.id.desc()))).all()

    async def audit_of_customer(
        self, customer_id: uuid.UUID, *, entity_type: str
    ) -> Sequence[AuditEntry]:
        statement = select(AuditEntry).where(
            AuditEntry.entity_type == entity_type, AuditEntry.entity_id == customer_id
        )
        return (await self.session.scalars(statement.order_by(AuditEntry.id.desc()))).all()

    async def data_access_of_customer(self, customer_id: uuid.UUID) -> Sequence[DataAccess]:
        statement = select(DataAccess).where(DataAccess.customer_id == customer_id)
        return (await self.session.scalars(statement.order_by(DataAccess.id.desc()))).all()

    async def welcome_tokens_of_customer(self, customer_id: uuid.UUID) -> Sequence[WelcomeToken]:
        statement = select(WelcomeToken).where(WelcomeToken.customer_id == customer_id)
        return (await self.session.scalars(statement.order_by(WelcomeToken.id.desc()))).all()

    async def delete_notes(self, customer_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(CustomerNote).where(CustomerNote.customer_id == customer_id)
        )

    async def scrub_user_traces(self, user_id: uuid.UUID) -> None:
        """IP addresses and user agents of the user's sessions and events are personal too."""
        await self.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id)
            .values(ip=None, user_agent=None)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(SecurityEvent)
            .where(SecurityEvent.user_id == user_id)
            .values(ip=None, user_agent=None)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        await self.session.execute(delete(OneTimeToken).where(OneTimeToken.user_id == user_id))
