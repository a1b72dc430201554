"""The member area: customers read and change their own data after the security login
(P13, P14); every change is audited with masked values (P10); an email change needs the
password and a verified new address, and the old address is told (P11)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from app.core.container import Container
from app.models.audit import AuditEntry
from app.models.customer import Customer
from app.models.user import StaffRole
from app.notifications.mailer import MemoryMailer
from tests.auth.conftest import PASSWORD, Account, token_login
from tests.customers.test_record import register_customer
from tests.notifications.helpers import mailed_token, payload_of, run_outbox, use_memory_mailer
from tests.notifications.helpers import outbox as outbox_rows
from tests.users.helpers import API, signed_in_staff


@pytest.fixture
def mailer(container: Container) -> MemoryMailer:
    return use_memory_mailer(container)


async def audit_entries(container: Container, customer_id: str) -> list[AuditEntry]:
    async with container.database.unit_of_work() as fresh:
        rows = await fresh.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_id == uuid.UUID(customer_id))
            .order_by(AuditEntry.id)
        )
        return list(rows.all())


async def raw_audit_text(container: Container) -> str:
    """Every audit row as the database holds it, flattened to text."""
    async with container.database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM audit_entries"))).all()
    return "\n".join(str(tuple(row)) for row in rows)


async def test_me_needs_the_security_login(client: httpx.AsyncClient) -> None:
    """P13: no personal data without a signed-in session."""
    assert (await client.get(f"{API}/me")).status_code == 401
    assert (await client.patch(f"{API}/me", json={"city": "Köln"})).status_code == 401
    assert (await client.get(f"{API}/me/activity")).status_code == 401


async def test_staff_without_a_customer_record_get_404(
    client: httpx.AsyncClient, container: Container, session: Any
) -> None:
    staff = await signed_in_staff(client, container, session)
    response = await client.get(f"{API}/me", headers=staff.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "customer_not_found"


async def test_patch_me_changes_and_audits_with_masked_values(
    client: httpx.AsyncClient, container: Container
) -> None:
    """P14, P10: the customer changes their data; the trail says who, from where, which
    fields, with old and new values masked — the raw values are not in the audit rows."""
    me = await register_customer(client)
    response = await client.patch(
        f"{API}/me",
        json={
            "phone": "+41 44 668 18 00",
            "city": "Augsburg",
            "postal_code": "86150",
            "address_line2": "Hinterhaus",
            "company": None,
        },
        headers=me.headers,
    )
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["phone"] == "+41446681800"
    assert record["city"] == "Augsburg"
    assert record["company"] is None
    entries = await audit_entries(container, record["id"])
    update = entries[-1]
    assert update.action == "updated"
    assert update.actor_kind == "customer"
    assert str(update.actor_id) == me.user_id
    assert update.ip is not None
    assert set(update.changes) == {"phone", "city", "postal_code", "address_line2", "company"}
    assert update.changes["city"] == {"old": "M***n", "new": "A***g"}
    raw = await raw_audit_text(container)
    for secret in ("+41446681800", "Augsburg", "86150", "Hinterhaus", "München", "Compiler"):
        assert secret not in raw


async def test_patch_me_validates_every_field_and_keeps_the_record(
    client: httpx.AsyncClient,
) -> None:
    """P1, P14: changes are validated like registration; a refused change changes nothing.
    Changing the country re-checks the fields that depend on it."""
    me = await register_customer(client)
    response = await client.patch(
        f"{API}/me",
        json={"phone": "123", "first_name": "  ", "language": "xx", "currency": "EUX"},
        headers=me.headers,
    )
    assert response.status_code == 422
    found = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert {
        ("body.phone", "phone_invalid"),
        ("body.first_name", "required"),
        ("body.language", "language_unknown"),
        ("body.currency", "currency_unknown"),
    } <= found
    moved = await client.patch(f"{API}/me", json={"country": "AT"}, headers=me.headers)
    assert moved.status_code == 422
    fields = {e["field"] for e in moved.json()["errors"]}
    assert {"body.region", "body.postal_code", "body.vat_id"} <= fields
    record = (await client.get(f"{API}/me", headers=me.headers)).json()
    assert record["country"] == "DE"
    assert record["phone"] == "+49301234567"
    unknown = await client.patch(f"{API}/me", json={"tax_exempt": True}, headers=me.headers)
    assert unknown.status_code == 422  # a billing decision, not self-service


async def test_email_change_needs_password_and_verification(
    client: httpx.AsyncClient, container: Container, mailer: MemoryMailer
) -> None:
    """P11, P14, P10: changing the email needs the current password; the old address stays
    until the new one is verified; the old address is told; on verification the login
    email and the record switch, and the new address signs in."""
    me = await register_customer(client)
    new = "grace.new@example.org"
    missing = await client.patch(f"{API}/me", json={"email": new}, headers=me.headers)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["code"] == "password_required"
    wrong = await client.patch(
        f"{API}/me", json={"email": new, "current_password": "not-it"}, headers=me.headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["code"] == "password_incorrect"

    asked = await client.patch(
        f"{API}/me", json={"email": new, "current_password": PASSWORD}, headers=me.headers
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["email"] == "grace@example.com"  # kept until verified
    assert asked.json()["pending_email"] == "g***@e***.org"
    queued = await outbox_rows(container)
    notice = [m for m in queued if m.template == "email_changed_old_address"]
    assert [m.recipient for m in notice] == ["grace@example.com"]
    assert new not in str(payload_of(notice[0]))
    # The pending address is not stored in clear in the token's data.
    async with container.database.engine.connect() as connection:
        tokens = (await connection.execute(text("SELECT data FROM one_time_tokens"))).all()
    assert new not in str(tokens)

    token = await mailed_token(container, mailer, to=new, template="verify_email")
    verified = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert verified.status_code == 204, verified.text

    fresh = await token_login(client, Account(email=new, password=PASSWORD, user_id=me.user_id))
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    record = (await client.get(f"{API}/me", headers=headers)).json()
    assert record["email"] == new
    assert record["identity_status"] == "email_verified"
    old_login = await client.post(
        f"{API}/auth/token", data={"username": "grace@example.com", "password": PASSWORD}
    )
    assert old_login.status_code == 401
    actions = [e.action for e in await audit_entries(container, record["id"])]
    assert "email_change_requested" in actions
    assert "email_changed" in actions
    assert new not in await raw_audit_text(container)
    # The link works once.
    again = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert again.status_code == 400


async def test_email_change_to_a_taken_address_is_refused(client: httpx.AsyncClient) -> None:
    me = await register_customer(client)
    await register_customer(client, email="other@example.com")
    response = await client.patch(
        f"{API}/me",
        json={"email": "Other@example.com", "current_password": PASSWORD},
        headers=me.headers,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


async def test_activity_shows_my_own_trail_only(client: httpx.AsyncClient) -> None:
    """P10, P14: /me/activity lists the changes to my record, newest first, paginated,
    and nothing about anyone else's."""
    me = await register_customer(client)
    other = await register_customer(client, email="other@example.com")
    await client.patch(f"{API}/me", json={"city": "Regensburg"}, headers=other.headers)
    for city in ("Passau", "Landshut"):
        await client.patch(f"{API}/me", json={"city": city}, headers=me.headers)
    first = await client.get(f"{API}/me/activity", params={"limit": 2}, headers=me.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [item["action"] for item in page["items"]] == ["updated", "updated"]
    assert page["items"][0]["changes"]["city"] == {"old": "P***u", "new": "L***t"}
    rest = await client.get(
        f"{API}/me/activity", params={"cursor": page["next_cursor"]}, headers=me.headers
    )
    items = rest.json()["items"]
    assert [item["action"] for item in items] == ["registered"]
    assert "R***g" not in first.text + rest.text


async def test_staff_patch_is_audited_as_staff(
    client: httpx.AsyncClient, container: Container, session: Any, mailer: MemoryMailer
) -> None:
    """P10: staff change a record (tax exemption, email without a password); each change is
    audited with actor kind staff; support staff may not write."""
    me = await register_customer(client)
    customer_id = (await client.get(f"{API}/me", headers=me.headers)).json()["id"]
    support = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    denied = await client.patch(
        f"{API}/customers/{customer_id}", json={"tax_exempt": True}, headers=support.headers
    )
    assert denied.status_code == 403
    staff = await signed_in_staff(client, container, session, role=StaffRole.BILLING)
    response = await client.patch(
        f"{API}/customers/{customer_id}",
        json={"tax_exempt": True, "email": "grace@staff-set.example", "language": "DE"},
        headers=staff.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["tax_exempt"] is True
    assert response.json()["email"] == "grace@staff-set.example"
    assert response.json()["language"] == "de"
    entries = await audit_entries(container, customer_id)
    staff_entries = [e for e in entries if e.actor_kind == "staff"]
    assert {e.action for e in staff_entries} == {"updated", "email_changed"}
    assert all(str(e.actor_id) == staff.user_id for e in staff_entries)
    await run_outbox(container)
    assert [m.template for m in mailer.to("grace@example.com")][-1] == ("email_changed_old_address")
    async with container.database.unit_of_work() as fresh:
        row = await fresh.get(Customer, uuid.UUID(customer_id))
        assert row is not None
        assert row.email == "grace@staff-set.example"
    # The login moved with the record.
    login = await client.post(
        f"{API}/auth/token", data={"username": "grace@staff-set.example", "password": PASSWORD}
    )
    assert login.status_code == 200
