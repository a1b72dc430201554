"""Staff work on customers: the role matrix, finding (filters, search, keyset pagination with a
constant number of statements), opening a record (logged, P13), status changes (audited, P10),
internal notes (encrypted at rest, P12) and the admins' data-access log.

Customers are built directly through the ORM here, so these tests do not depend on the
registration service."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import create_user
from app.core.container import Container
from app.core.ids import new_id
from app.customers.service import customer_email_index
from app.models.audit import AuditEntry, DataAccess
from app.models.customer import Customer, CustomerNote
from app.models.user import StaffRole, UserKind
from tests.auth.conftest import Account
from tests.users.helpers import (
    API,
    STAFF_PASSWORD,
    bearer,
    count_statements,
    create_key,
    problem_code,
    signed_in_customer,
    signed_in_staff,
)

CUSTOMERS = f"{API}/customers"
ACCESS_LOG = f"{CUSTOMERS}/access-log"
NOBODY = str(uuid.UUID(int=0))
READ_ONLY_ROLES = [StaffRole.SUPPORT, StaffRole.FRAUD_ANALYST]
WRITER_ROLES = [StaffRole.BILLING, StaffRole.ADMIN]
_numbers = itertools.count(1)
_last_ms = 0


def _next_id() -> uuid.UUID:
    """UUIDv7 ids order by millisecond only (the rest is random): give each factory row its
    own millisecond so "newest first" is the order the test created them in."""
    global _last_ms
    _last_ms = max(time.time_ns() // 1_000_000, _last_ms + 1)
    return new_id(at_ms=_last_ms)


async def make_customer(session: AsyncSession, container: Container, **overrides: Any) -> Customer:
    """A customer row as the registration service would leave it (email indexed, name
    lower-cased for prefix search); personal fields go through the encrypting column type."""
    serial = next(_numbers)
    first_name = overrides.pop("first_name", "Ada")
    last_name = overrides.pop("last_name", f"Lovelace{serial}")
    email = overrides.pop("email", f"client{serial}-{uuid.uuid4().hex[:8]}@example.com")
    created_at = overrides.pop("created_at", container.clock.now())
    values: dict[str, Any] = {
        "number": f"C-{serial:06d}",
        "status": "active",
        "country": "DE",
        "identity_status": "unverified",
        **overrides,
    }
    customer = Customer(
        id=_next_id(),
        first_name=first_name,
        last_name=last_name,
        search_name=f"{first_name} {last_name}".lower(),
        email=email,
        email_index=customer_email_index(container.crypto, email),
        created_at=created_at,
        updated_at=created_at,
        **values,
    )
    session.add(customer)
    await session.flush()
    return customer


async def next_millisecond() -> None:
    """Rows written by the API take their UUIDv7 id from the wall clock, ordered only to the
    millisecond: wait one out where a test checks "newest first" across two requests."""
    await asyncio.sleep(0.002)


async def customer_user(session: AsyncSession, container: Container) -> Account:
    """A customer login made directly (independent of the registration form)."""
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    user = await create_user(
        session=session,
        crypto=container.crypto,
        clock=container.clock,
        email=email,
        password_hash=await container.hasher.hash(STAFF_PASSWORD),
        kind=UserKind.CUSTOMER,
    )
    await session.commit()
    return Account(email=email, password=STAFF_PASSWORD, user_id=str(user.id))


async def access_rows(container: Container) -> list[DataAccess]:
    async with container.database.unit_of_work() as fresh:
        return list((await fresh.scalars(select(DataAccess).order_by(DataAccess.id))).all())


async def audit_rows(container: Container, customer_id: uuid.UUID) -> list[AuditEntry]:
    async with container.database.unit_of_work() as fresh:
        statement = (
            select(AuditEntry)
            .where(AuditEntry.entity_type == "customer", AuditEntry.entity_id == customer_id)
            .order_by(AuditEntry.id)
        )
        return list((await fresh.scalars(statement)).all())


async def listed_ids(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[str]:
    response = await client.get(CUSTOMERS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# ---------------------------------------------------------------------- role matrix


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
async def test_support_and_fraud_read_but_cannot_change(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, role: StaffRole
) -> None:
    """P13: reading roles find and open customers and read notes; no writes, no access log."""
    customer = await make_customer(session, container)
    staff = await signed_in_staff(client, container, session, role=role)
    cid = str(customer.id)

    assert await listed_ids(client, staff.headers) == [cid]
    opened = await client.get(f"{CUSTOMERS}/{cid}", headers=staff.headers)
    assert opened.status_code == 200, opened.text
    notes = await client.get(f"{CUSTOMERS}/{cid}/notes", headers=staff.headers)
    assert notes.status_code == 200, notes.text

    for path, body in [
        (f"{CUSTOMERS}/{cid}/suspend", {"reason": "unpaid"}),
        (f"{CUSTOMERS}/{cid}/reactivate", None),
        (f"{CUSTOMERS}/{cid}/close", {"reason": "asked to"}),
        (f"{CUSTOMERS}/{cid}/notes", {"body": "called about invoice"}),
    ]:
        response = await client.post(path, json=body, headers=staff.headers)
        assert response.status_code == 403, (path, response.text)
        assert problem_code(response) == "insufficient_scope"
    log = await client.get(ACCESS_LOG, headers=staff.headers)
    assert log.status_code == 403
    assert problem_code(log) == "insufficient_scope"
    assert await audit_rows(container, customer.id) == []


@pytest.mark.parametrize("role", WRITER_ROLES)
async def test_billing_and_admin_write(
    client: httpx.AsyncClient, container: Container, session: AsyncSession, role: StaffRole
) -> None:
    customer = await make_customer(session, container)
    staff = await signed_in_staff(client, container, session, role=role)
    cid = str(customer.id)
    note = await client.post(
        f"{CUSTOMERS}/{cid}/notes", json={"body": "prefers email"}, headers=staff.headers
    )
    assert note.status_code == 201, note.text
    suspended = await client.post(
        f"{CUSTOMERS}/{cid}/suspend", json={"reason": "unpaid"}, headers=staff.headers
    )
    assert suspended.status_code == 200, suspended.text
    log = await client.get(ACCESS_LOG, headers=staff.headers)
    assert log.status_code == (200 if role is StaffRole.ADMIN else 403)


async def test_customers_and_anonymous_callers_are_refused(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """P12/P13: no customer (nor anyone unauthenticated) reaches another person's record."""
    customer = await make_customer(session, container)
    await session.commit()
    cid = str(customer.id)
    me = await signed_in_customer(client, await customer_user(session, container))
    for method, path, body in [
        ("GET", CUSTOMERS, None),
        ("GET", f"{CUSTOMERS}/{cid}", None),
        ("GET", f"{CUSTOMERS}/{cid}/notes", None),
        ("POST", f"{CUSTOMERS}/{cid}/notes", {"body": "x"}),
        ("POST", f"{CUSTOMERS}/{cid}/suspend", {"reason": "x"}),
        ("GET", ACCESS_LOG, None),
    ]:
        response = await client.request(method, path, json=body, headers=me.headers)
        assert response.status_code == 403, (method, path, response.text)
        assert problem_code(response) == "insufficient_scope"
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
    assert await access_rows(container) == []


# ---------------------------------------------------------------------- finding


async def test_listing_shows_no_contact_details(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """P12: the listing minimises personal data; contact details need the logged opening."""
    await make_customer(
        session,
        container,
        company="Analytical Engines Ltd",
        phone="+4930123456",
        address_line1="Unter den Linden 1",
        vat_id="DE123456789",
        date_of_birth="1815-12-10",
    )
    staff = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    response = await client.get(CUSTOMERS, headers=staff.headers)
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert set(item) == {
        "id",
        "number",
        "status",
        "first_name",
        "last_name",
        "company",
        "country",
        "identity_status",
        "created_at",
    }
    assert item["company"] == "Analytical Engines Ltd"
    for secret in ("+4930123456", "Unter den Linden", "DE123456789", "1815", "@example.com"):
        assert secret not in response.text
    assert await access_rows(container) == []  # listings record nothing (see admin_service)


async def test_every_filter_and_search(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    base = datetime(2026, 1, 10, tzinfo=UTC)
    ada = await make_customer(
        session,
        container,
        first_name="Ada",
        last_name="Lovelace",
        email="Ada@Example.com",
        country="GB",
        created_at=base,
    )
    grace = await make_customer(
        session,
        container,
        first_name="Grace",
        last_name="Hopper",
        status="suspended",
        country="US",
        identity_status="verified",
        created_at=base + timedelta(days=1),
    )
    under = await make_customer(
        session,
        container,
        first_name="a_b",
        last_name="Percent%",
        status="prospect",
        identity_status="email_verified",
        created_at=base + timedelta(days=2),
    )
    alan = await make_customer(
        session,
        container,
        first_name="Alan",
        last_name="Turing",
        status="closed",
        created_at=base + timedelta(days=3),
    )
    staff = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    h = staff.headers
    ids = {c: str(c.id) for c in (ada, grace, under, alan)}

    assert await listed_ids(client, h) == [ids[alan], ids[under], ids[grace], ids[ada]]
    assert await listed_ids(client, h, status="suspended") == [ids[grace]]
    assert await listed_ids(client, h, status="prospect") == [ids[under]]
    assert await listed_ids(client, h, country="us") == [ids[grace]]
    assert await listed_ids(client, h, identity_status="verified") == [ids[grace]]
    assert await listed_ids(client, h, identity_status="email_verified") == [ids[under]]
    day = base + timedelta(days=1)
    assert await listed_ids(client, h, created_from=day.isoformat()) == [
        ids[alan],
        ids[under],
        ids[grace],
    ]
    assert await listed_ids(
        client,
        h,
        created_from=day.isoformat(),
        created_to=(day + timedelta(days=2)).isoformat(),
    ) == [ids[under], ids[grace]]
    # Another zone names the same instant: 2026-01-11T01:00+01:00 is midnight UTC.
    assert await listed_ids(client, h, created_to="2026-01-11T01:00:00+01:00") == [ids[ada]]

    assert await listed_ids(client, h, email="ada@example.com") == [ids[ada]]
    assert await listed_ids(client, h, email=" ADA@example.COM ") == [ids[ada]]
    assert await listed_ids(client, h, email="ada@example.co") == []
    assert await listed_ids(client, h, number=grace.number) == [ids[grace]]
    assert await listed_ids(client, h, number=grace.number.lower()) == [ids[grace]]
    assert await listed_ids(client, h, number=grace.number[:-1]) == []  # exact, not prefix
    assert await listed_ids(client, h, name="a") == [ids[alan], ids[under], ids[ada]]
    assert await listed_ids(client, h, name="AD") == [ids[ada]]
    assert await listed_ids(client, h, name="ada love") == [ids[ada]]
    assert await listed_ids(client, h, name="lovelace") == []  # a prefix, not a substring
    # LIKE wildcards in the input are literal characters.
    assert await listed_ids(client, h, name="a_") == [ids[under]]
    assert await listed_ids(client, h, name="%") == []
    assert await listed_ids(client, h, name="a_b percent%") == [ids[under]]
    assert await listed_ids(client, h, status="active", country="GB", name="ada") == [ids[ada]]


async def test_a_prospect_recorded_through_the_api_is_found_by_email_number_and_name(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """The search hashes and lower-cases exactly as the customer record service stores."""
    admin = await signed_in_staff(client, container, session, role=StaffRole.ADMIN)
    created = await client.post(
        f"{CUSTOMERS}/prospects",
        json={
            "first_name": "Émilie",
            "last_name": "du Châtelet",
            "email": "Emilie@Example.org",
            "country": "FR",
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    detail = await client.get(f"{CUSTOMERS}/{cid}", headers=admin.headers)
    number = detail.json()["number"]
    assert await listed_ids(client, admin.headers, email="emilie@example.org") == [cid]
    assert await listed_ids(client, admin.headers, number=number) == [cid]
    assert await listed_ids(client, admin.headers, name="ÉMILIE DU") == [cid]
    assert await listed_ids(client, admin.headers, status="prospect", country="FR") == [cid]


async def test_bad_filters_are_explained(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    staff = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    for params in [
        {"status": "deleted"},
        {"created_from": "2026-01-10T00:00:00"},  # naive: refused
        {"created_from": "2026-01-10T00:00:00Z", "created_to": "2026-01-09T00:00:00Z"},
        {"limit": 201},
        {"country": "DEU"},
        {"name": "a\x00b"},
    ]:
        response = await client.get(CUSTOMERS, params=params, headers=staff.headers)
        assert response.status_code == 422, (params, response.text)
        assert problem_code(response) == "validation_failed"
    bad_cursor = await client.get(CUSTOMERS, params={"cursor": "nope"}, headers=staff.headers)
    assert bad_cursor.status_code == 400
    assert problem_code(bad_cursor) == "invalid_cursor"


async def test_pagination_walks_every_row_once(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    created = [str((await make_customer(session, container)).id) for _ in range(7)]
    staff = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(CUSTOMERS, params=params, headers=staff.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(created))


async def test_listing_issues_a_constant_number_of_statements(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """Issue 4: the same statements for a page of 5 as for a page of 50."""
    for _ in range(55):
        await make_customer(session, container, company="Acme")
    staff = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    await client.get(CUSTOMERS, params={"limit": 1}, headers=staff.headers)  # warm up
    counts = {}
    for limit in (5, 50):
        with count_statements(container) as statements:
            response = await client.get(
                CUSTOMERS, params={"limit": limit, "country": "DE"}, headers=staff.headers
            )
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        counts[limit] = len(statements)
    assert counts[5] == counts[50], counts
    assert counts[5] <= 3, counts  # the session check and the page


# ---------------------------------------------------------------------- opening (logged)


async def test_opening_a_record_is_logged_and_visible_to_admins(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """P13: every time staff open a customer's personal data it is logged — who, which
    customer, when, from where — and admins can read that log; P12: the record is decrypted
    only for that opening."""
    customer = await make_customer(
        session,
        container,
        phone="+4930123456",
        address_line1="Unter den Linden 1",
        city="Berlin",
        postal_code="10117",
        vat_id="DE123456789",
        date_of_birth="1815-12-10",
    )
    other = await make_customer(session, container)
    support = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    admin = await signed_in_staff(client, container, session, role=StaffRole.ADMIN)
    cid = str(customer.id)

    opened = await client.get(
        f"{CUSTOMERS}/{cid}", headers={**support.headers, "X-Forwarded-For": "203.0.113.9"}
    )
    assert opened.status_code == 200, opened.text
    record = opened.json()
    assert record["phone"] == "+4930123456"
    assert record["address_line1"] == "Unter den Linden 1"
    assert record["vat_id"] == "DE123456789"
    assert record["date_of_birth"] == "1815-12-10"
    assert record["email"] == customer.email
    await next_millisecond()
    await client.get(f"{CUSTOMERS}/{other.id}", headers=admin.headers)

    [first, second] = await access_rows(container)
    assert first.customer_id == customer.id
    assert str(first.actor_id) == support.user_id
    assert first.api_key_id is None
    assert first.purpose == "customers.read"
    assert first.ip is not None
    assert first.created_at == container.clock.now()
    assert second.customer_id == other.id

    log = await client.get(ACCESS_LOG, headers=admin.headers)
    assert log.status_code == 200, log.text
    items = log.json()["items"]
    assert [item["customer_id"] for item in items] == [str(other.id), cid]  # newest first
    assert items[1]["actor_id"] == support.user_id
    assert items[1]["purpose"] == "customers.read"
    assert items[1]["ip"] == first.ip

    by_customer = await client.get(ACCESS_LOG, params={"customer_id": cid}, headers=admin.headers)
    assert [item["customer_id"] for item in by_customer.json()["items"]] == [cid]
    by_actor = await client.get(
        ACCESS_LOG, params={"actor_id": admin.user_id}, headers=admin.headers
    )
    assert [item["customer_id"] for item in by_actor.json()["items"]] == [str(other.id)]
    nobody = await client.get(ACCESS_LOG, params={"actor_id": NOBODY}, headers=admin.headers)
    assert nobody.json()["items"] == []
    paged = await client.get(ACCESS_LOG, params={"limit": 1}, headers=admin.headers)
    assert len(paged.json()["items"]) == 1
    assert paged.json()["next_cursor"] is not None

    # Reading the access log is not itself an opening of a customer's data.
    assert len(await access_rows(container)) == 2


async def test_unknown_customer_is_404(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    admin = await signed_in_staff(client, container, session, role=StaffRole.ADMIN)
    for method, path, body in [
        ("GET", f"{CUSTOMERS}/{NOBODY}", None),
        ("GET", f"{CUSTOMERS}/{NOBODY}/notes", None),
        ("POST", f"{CUSTOMERS}/{NOBODY}/notes", {"body": "hello"}),
        ("POST", f"{CUSTOMERS}/{NOBODY}/suspend", {"reason": "x"}),
        ("POST", f"{CUSTOMERS}/{NOBODY}/reactivate", None),
        ("POST", f"{CUSTOMERS}/{NOBODY}/close", {"reason": "x"}),
    ]:
        response = await client.request(method, path, json=body, headers=admin.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert problem_code(response) == "customer_not_found"
    assert await access_rows(container) == []


async def test_api_key_with_customers_read_lists_and_its_access_is_logged(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """P13: an integration's opening is logged against its key, not a person."""
    customer = await make_customer(session, container)
    admin = await signed_in_staff(client, container, session, role=StaffRole.ADMIN)
    key = await create_key(client, admin, scopes=("customers:read",))
    headers = bearer(key["key"])

    assert await listed_ids(client, headers) == [str(customer.id)]
    opened = await client.get(f"{CUSTOMERS}/{customer.id}", headers=headers)
    assert opened.status_code == 200, opened.text
    [entry] = await access_rows(container)
    assert entry.customer_id == customer.id
    assert str(entry.api_key_id) == key["id"]
    assert entry.actor_id is None

    log = await client.get(ACCESS_LOG, headers=admin.headers)
    assert log.json()["items"][0]["api_key_id"] == key["id"]
    await client.get(f"{CUSTOMERS}/{customer.id}", headers=admin.headers)  # a person's opening
    by_key = await client.get(ACCESS_LOG, params={"api_key_id": key["id"]}, headers=admin.headers)
    assert [item["api_key_id"] for item in by_key.json()["items"]] == [key["id"]]
    other_key = await client.get(
        ACCESS_LOG, params={"api_key_id": str(uuid.uuid4())}, headers=admin.headers
    )
    assert other_key.json()["items"] == []
    refused = await client.post(
        f"{CUSTOMERS}/{customer.id}/suspend", json={"reason": "x"}, headers=headers
    )
    assert refused.status_code == 403
    assert (await client.get(ACCESS_LOG, headers=headers)).status_code == 403


# ---------------------------------------------------------------------- status changes


async def test_status_transitions_are_checked_stamped_and_audited(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """P10: every status change is kept in the audit trail with the staff member and IP."""
    customer = await make_customer(session, container)
    billing = await signed_in_staff(client, container, session, role=StaffRole.BILLING)
    h = billing.headers
    cid = str(customer.id)
    clock = container.clock

    suspended = await client.post(
        f"{CUSTOMERS}/{cid}/suspend", json={"reason": "unpaid"}, headers=h
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["suspended_at"] is not None

    again = await client.post(f"{CUSTOMERS}/{cid}/suspend", json={"reason": "again"}, headers=h)
    assert again.status_code == 409
    assert problem_code(again) == "invalid_status_transition"
    assert again.json()["current_status"] == "suspended"

    await next_millisecond()
    reactivated = await client.post(f"{CUSTOMERS}/{cid}/reactivate", headers=h)
    assert reactivated.status_code == 200, reactivated.text
    assert reactivated.json()["status"] == "active"
    assert reactivated.json()["suspended_at"] is None
    twice = await client.post(f"{CUSTOMERS}/{cid}/reactivate", headers=h)
    assert twice.status_code == 409

    await next_millisecond()
    closed = await client.post(f"{CUSTOMERS}/{cid}/close", json={"reason": "asked to"}, headers=h)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"] is not None
    # Closed is final.
    for path, body in [
        ("suspend", {"reason": "x"}),
        ("reactivate", None),
        ("close", {"reason": "x"}),
    ]:
        response = await client.post(f"{CUSTOMERS}/{cid}/{path}", json=body, headers=h)
        assert response.status_code == 409, path
        assert problem_code(response) == "invalid_status_transition"

    entries = await audit_rows(container, customer.id)
    assert [entry.action for entry in entries] == ["suspended", "reactivated", "closed"]
    for entry in entries:
        assert str(entry.actor_id) == billing.user_id
        assert entry.actor_kind == "staff"
        assert entry.ip is not None
        assert entry.created_at == clock.now()
        assert "status" in entry.changes

    # The reasons are kept, as encrypted internal notes.
    notes = await client.get(f"{CUSTOMERS}/{cid}/notes", headers=h)
    assert [note["body"] for note in notes.json()["items"]] == [
        "[closed] asked to",
        "[suspended] unpaid",
    ]


async def test_prospects_cannot_be_suspended_but_can_be_closed(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    prospect = await make_customer(session, container, status="prospect")
    admin = await signed_in_staff(client, container, session, role=StaffRole.ADMIN)
    for path, body in [("suspend", {"reason": "x"}), ("reactivate", None)]:
        response = await client.post(
            f"{CUSTOMERS}/{prospect.id}/{path}", json=body, headers=admin.headers
        )
        assert response.status_code == 409, path
        assert problem_code(response) == "invalid_status_transition"
    closed = await client.post(
        f"{CUSTOMERS}/{prospect.id}/close", json={"reason": "duplicate lead"}, headers=admin.headers
    )
    assert closed.status_code == 200
    missing_reason = await client.post(
        f"{CUSTOMERS}/{prospect.id}/close", json={"reason": "  "}, headers=admin.headers
    )
    assert missing_reason.status_code == 422


# ---------------------------------------------------------------------- notes


async def test_notes_are_encrypted_at_rest_and_read_back_by_support(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    """P12: note text (which may name people) is stored encrypted; support can read it."""
    customer = await make_customer(session, container)
    billing = await signed_in_staff(client, container, session, role=StaffRole.BILLING)
    support = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    secret = "Spoke with Charles Babbage, her accountant, about invoice 42"

    created = await client.post(
        f"{CUSTOMERS}/{customer.id}/notes", json={"body": f"  {secret}  "}, headers=billing.headers
    )
    assert created.status_code == 201, created.text
    note = created.json()
    assert note["body"] == secret
    assert note["author_id"] == billing.user_id
    assert note["customer_id"] == str(customer.id)

    async with container.database.engine.connect() as connection:
        raw = (await connection.execute(text("SELECT body FROM customer_notes"))).scalars().all()
    assert len(raw) == 1
    assert "Babbage" not in raw[0]
    assert secret not in raw[0]

    listed = await client.get(f"{CUSTOMERS}/{customer.id}/notes", headers=support.headers)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["body"] == secret
    assert item["author_id"] == billing.user_id
    assert item["created_at"] is not None
    # Reading notes opens personal data: logged (P13).
    [entry] = await access_rows(container)
    assert entry.purpose == "customers.notes.read"
    assert str(entry.actor_id) == support.user_id
    assert [e.action for e in await audit_rows(container, customer.id)] == ["note_added"]

    async with container.database.unit_of_work() as fresh:
        stored = (await fresh.scalars(select(CustomerNote))).one()
    assert stored.body == secret  # decrypted by the column type


async def test_note_body_is_bounded(
    client: httpx.AsyncClient, container: Container, session: AsyncSession
) -> None:
    customer = await make_customer(session, container)
    admin = await signed_in_staff(client, container, session, role=StaffRole.ADMIN)
    for body in ["", "   ", "x" * 5001]:
        response = await client.post(
            f"{CUSTOMERS}/{customer.id}/notes", json={"body": body}, headers=admin.headers
        )
        assert response.status_code == 422, len(body)
        assert problem_code(response) == "validation_failed"
    longest = await client.post(
        f"{CUSTOMERS}/{customer.id}/notes", json={"body": "x" * 5000}, headers=admin.headers
    )
    assert longest.status_code == 201
    multiline = await client.post(
        f"{CUSTOMERS}/{customer.id}/notes",
        json={"body": "line one\nline two"},
        headers=admin.headers,
    )
    assert multiline.status_code == 201
