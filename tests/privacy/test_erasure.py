"""Erasure (P12, P13): request, staff review, anonymisation; blockers refuse it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Container
from app.models.audit import DataAccess
from app.models.customer import Customer
from app.models.privacy import ConsentRecord, WelcomeToken
from app.models.session import UserSession
from app.models.user import StaffRole, User
from app.privacy import erasure
from tests.auth.conftest import register
from tests.privacy.helpers import API, PERSONAL, Member, member
from tests.users.helpers import problem_code, signed_in_staff


class UnpaidInvoice:
    """A test-only blocker standing in for billing's, switched on when a test needs it."""

    def __init__(self) -> None:
        self.active = False

    async def __call__(self, session: AsyncSession, customer: Customer) -> str | None:
        return "Invoice INV-2026-0001 is unpaid." if self.active else None


@pytest.fixture
def unpaid_invoice() -> Iterator[UnpaidInvoice]:
    blocker = UnpaidInvoice()
    erasure.register_erasure_blocker(blocker)
    try:
        yield blocker
    finally:
        erasure.ERASURE_BLOCKERS.remove(blocker)


async def _request(client: httpx.AsyncClient, who: Member) -> str:
    response = await client.post(
        f"{API}/me/erasure-request", json={"reason": "moving on"}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    return str(response.json()["id"])


async def _raw_dump(container: Container) -> str:
    """Every row of every table as the database stores it."""
    from app.models import Base

    parts: list[str] = []
    async with container.database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table.name}"'))).all()  # noqa: S608
            parts.extend(repr(tuple(row)) for row in rows)
    return "\n".join(parts)


async def test_erasure_anonymises_disables_login_and_ends_sessions(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """P12/P13: approved erasure leaves none of the personal values in the raw rows."""
    admin = await signed_in_staff(client, container, session)
    ada = await member(client, container)
    await client.put(
        f"{API}/me/consents",
        json={"tracking_cookies": True, "marketing_email": True},
        headers=ada.headers,
    )
    await client.post(f"{API}/me/welcome", headers=ada.headers)
    request_id = await _request(client, ada)
    again = await client.post(f"{API}/me/erasure-request", json={}, headers=ada.headers)
    assert again.status_code == 409
    assert problem_code(again) == "erasure_already_requested"

    listing = await client.get(
        f"{API}/privacy/erasure-requests", params={"status": "pending"}, headers=admin.headers
    )
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["items"]] == [request_id]
    assert listing.json()["items"][0]["reason"] == "moving on"
    async with container.database.unit_of_work() as fresh:  # P13: staff access is logged
        logged = (
            await fresh.scalars(select(DataAccess).where(DataAccess.customer_id == ada.customer_id))
        ).all()
        assert [row.purpose for row in logged] == ["privacy.erasure_review"]
        assert str(logged[0].actor_id) == admin.user_id

    response = await client.post(
        f"{API}/privacy/erasure-requests/{request_id}/approve",
        json={"note": "identity confirmed"},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert response.json()["completed_at"] is not None

    raw = await _raw_dump(container)
    for value in (ada.email, *PERSONAL.values(), "moving on", "ada byronsdottir"):
        assert value not in raw, value

    async with container.database.unit_of_work() as fresh:
        customer = await fresh.get(Customer, ada.customer_id)
        assert customer is not None
        assert customer.first_name == customer.last_name == "Erased"
        assert customer.email == f"erased+{customer.id}@invalid"
        assert customer.email_index == container.crypto.blind_index.digest(
            customer.email, context="customers.email"
        )
        assert customer.phone is None
        assert customer.vat_id is None
        assert customer.address_line1 is None
        assert customer.date_of_birth is None
        assert customer.status == "closed"
        assert customer.anonymised_at is not None
        user = await fresh.get(User, customer.user_id)
        assert user is not None
        assert not user.is_active
        assert ada.email != user.email
        sessions = (
            await fresh.scalars(select(UserSession).where(UserSession.user_id == user.id))
        ).all()
        assert sessions
        assert all(row.ended_at is not None for row in sessions)
        consents = (
            await fresh.scalars(
                select(ConsentRecord).where(ConsentRecord.customer_id == customer.id)
            )
        ).all()
        welcome = (
            await fresh.scalars(select(WelcomeToken).where(WelcomeToken.customer_id == customer.id))
        ).all()
        assert not consents
        assert not welcome
        audit = await fresh.execute(
            text("SELECT action FROM audit_entries WHERE action = 'anonymised'")
        )
        assert len(audit.all()) == 1

    # The old credentials and the old token no longer work.
    assert (await client.get(f"{API}/auth/me", headers=ada.headers)).status_code == 401
    login = await client.post(
        f"{API}/auth/token", data={"username": ada.email, "password": ada.account.password}
    )
    assert login.status_code == 401
    # A second decision on the same request is refused.
    response = await client.post(
        f"{API}/privacy/erasure-requests/{request_id}/reject",
        json={"note": "late"},
        headers=admin.headers,
    )
    assert response.status_code == 409
    assert problem_code(response) == "erasure_request_not_pending"


async def test_reject_keeps_the_record_and_allows_a_new_request(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session)
    ada = await member(client, container)
    request_id = await _request(client, ada)
    response = await client.post(
        f"{API}/privacy/erasure-requests/{request_id}/reject",
        json={"note": "an open legal hold"},
        headers=admin.headers,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["review_note"] == "an open legal hold"
    async with container.database.unit_of_work() as fresh:
        customer = await fresh.get(Customer, ada.customer_id)
        assert customer is not None
        assert customer.first_name == "Ada"
        assert customer.anonymised_at is None
    assert (await client.get(f"{API}/auth/me", headers=ada.headers)).status_code == 200
    await _request(client, ada)  # the rejected one is closed: a new one may be opened


async def test_a_blocker_refuses_approval_with_its_reason(
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    unpaid_invoice: UnpaidInvoice,
) -> None:
    """Unpaid invoices or open disputes refuse erasure with a reason the customer can read."""
    admin = await signed_in_staff(client, container, session)
    ada = await member(client, container)
    request_id = await _request(client, ada)
    unpaid_invoice.active = True  # the invoice fell due after the request
    response = await client.post(
        f"{API}/privacy/erasure-requests/{request_id}/approve",
        json={"note": "ok"},
        headers=admin.headers,
    )
    assert response.status_code == 409
    assert problem_code(response) == "erasure_blocked"
    assert "INV-2026-0001 is unpaid" in response.json()["detail"]
    assert response.json()["reasons"] == ["Invoice INV-2026-0001 is unpaid."]
    listing = await client.get(f"{API}/privacy/erasure-requests", headers=admin.headers)
    assert listing.json()["items"][0]["status"] == "pending"
    async with container.database.unit_of_work() as fresh:
        customer = await fresh.get(Customer, ada.customer_id)
        assert customer is not None
        assert customer.anonymised_at is None

    grace = await member(client, container, first_name="Grace")
    response = await client.post(f"{API}/me/erasure-request", json={}, headers=grace.headers)
    assert response.status_code == 409
    assert problem_code(response) == "erasure_blocked"


@pytest.mark.parametrize("role", [StaffRole.SUPPORT, StaffRole.BILLING])
async def test_only_privacy_managers_review(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, role: StaffRole
) -> None:
    """P13: customers and non-admin staff get 403 on the review endpoints."""
    staff = await signed_in_staff(client, container, session, role=role)
    ada = await member(client, container)
    request_id = await _request(client, ada)
    for headers in (staff.headers, ada.headers):
        listing = await client.get(f"{API}/privacy/erasure-requests", headers=headers)
        assert listing.status_code == 403
        for decision in ("approve", "reject"):
            response = await client.post(
                f"{API}/privacy/erasure-requests/{request_id}/{decision}",
                json={"note": "x"},
                headers=headers,
            )
            assert response.status_code == 403


async def test_erasure_request_needs_a_customer_record(client: httpx.AsyncClient) -> None:
    account = await register(client)
    tokens = await client.post(
        f"{API}/auth/token", data={"username": account.email, "password": account.password}
    )
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    response = await client.post(f"{API}/me/erasure-request", json={}, headers=headers)
    assert response.status_code in (201, 404)  # 201 once registration creates the record
