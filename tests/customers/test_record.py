"""The customer record: created at registration with validated, normalised contact data (P1),
prospects that become customers (P2), identity status (P11), readable numbers under
concurrency."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.auth.service import AuthService
from app.core.client import ClientInfo
from app.core.container import Container
from app.customers.service import CustomerService
from app.models.audit import AuditEntry
from app.models.customer import Customer
from app.models.user import StaffRole
from app.notifications.mailer import MemoryMailer
from tests.auth.conftest import PASSWORD, Account
from tests.notifications.helpers import mailed_token, use_memory_mailer
from tests.users.helpers import API, SignedIn, signed_in_customer, signed_in_staff

REGISTER = f"{API}/auth/register"


def registration(**overrides: Any) -> dict[str, Any]:
    return {
        "email": "grace@example.com",
        "password": PASSWORD,
        "first_name": "Grace",
        "last_name": "Hopper",
        "country": "de",
        "phone": "030 1234567",
        "company": "  Compiler Werke GmbH ",
        "address_line1": "Königstraße 12",
        "city": "München",
        "postal_code": "80331",
        "region": "BY",
        "vat_id": "DE 136 695 976",
        **overrides,
    }


async def register_customer(client: httpx.AsyncClient, **overrides: Any) -> SignedIn:
    body = registration(**overrides)
    response = await client.post(REGISTER, json=body)
    assert response.status_code == 201, response.text
    account = Account(email=body["email"], password=body["password"], user_id=response.json()["id"])
    return await signed_in_customer(client, account)


async def customers_in_db(container: Container) -> list[Customer]:
    async with container.database.unit_of_work() as fresh:
        return list((await fresh.scalars(select(Customer).order_by(Customer.number))).all())


@pytest.fixture
def mailer(container: Container) -> MemoryMailer:
    return use_memory_mailer(container)


async def test_registration_creates_a_numbered_normalised_customer(
    client: httpx.AsyncClient,
) -> None:
    """P1: registration creates the customer record with a readable number and each contact
    field validated and normalised (E.164 phone, ISO codes, compact VAT id)."""
    me = await register_customer(client)
    response = await client.get(f"{API}/me", headers=me.headers)
    assert response.status_code == 200, response.text
    record = response.json()
    assert re.fullmatch(r"C-\d{6}", record["number"])
    assert record["status"] == "active"
    assert record["identity_status"] == "unverified"
    assert record["email"] == "grace@example.com"
    assert record["phone"] == "+49301234567"
    assert record["country"] == "DE"
    assert record["region"] == "DE-BY"
    assert record["postal_code"] == "80331"
    assert record["vat_id"] == "DE136695976"
    assert record["company"] == "Compiler Werke GmbH"
    assert record["address_line1"] == "Königstraße 12"
    assert record["city"] == "München"


async def test_registration_takes_billing_preferences_and_birth_date(
    client: httpx.AsyncClient,
) -> None:
    """P1: preferred currency and language and an optional date of birth are given at
    registration, validated like every other field."""
    me = await register_customer(client, currency="chf", language="DE", date_of_birth="1990-04-30")
    record = (await client.get(f"{API}/me", headers=me.headers)).json()
    assert (record["currency"], record["language"], record["date_of_birth"]) == (
        "CHF",
        "de",
        "1990-04-30",
    )
    response = await client.post(
        REGISTER,
        json=registration(
            email="other@example.com", currency="XXQ", language="zz", date_of_birth="2030-01-01"
        ),
    )
    assert response.status_code == 422, response.text
    found = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert {"body.currency", "body.language", "body.date_of_birth"} <= {f for f, _ in found}


async def test_every_invalid_field_is_named_at_once(client: httpx.AsyncClient) -> None:
    """P1: one answer names every invalid field (phone, VAT check digit, region, postal code,
    control characters) together with the password's problem, without echoing values."""
    response = await client.post(
        REGISTER,
        json=registration(
            password="short",
            phone="12",
            vat_id="DE136695977",
            region="ZH",
            postal_code="1234",
            city="Mün\x07chen",
            address_line1="Line\nbreak",
        ),
    )
    assert response.status_code == 422, response.text
    found = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert {
        ("password", "password_length"),
        ("body.phone", "phone_invalid"),
        ("body.vat_id", "vat_id_checksum"),
        ("body.region", "region_not_in_country"),
        ("body.postal_code", "postal_code_invalid"),
        ("body.city", "control_characters"),
        ("body.address_line1", "control_characters"),
    } <= found
    assert "136695977" not in response.text


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"country": "XX"}, "body.country", "country_unknown"),
        ({"country": "AT", "vat_id": "DE136695976"}, "body.vat_id", "vat_id_country_mismatch"),
        (
            {"country": "US", "postal_code": "ABCDE", "region": None, "vat_id": None},
            "body.postal_code",
            "postal_code_invalid",
        ),
        ({"phone": "+1 202 555 01"}, "body.phone", "phone_invalid"),
        ({"company": "x" * 201}, "body.company", "too_long"),
    ],
)
async def test_each_contact_rule_explains_itself(
    client: httpx.AsyncClient, overrides: dict[str, Any], field: str, code: str
) -> None:
    """P1: country, VAT prefix, postal format, phone and length rules each name their field."""
    response = await client.post(REGISTER, json=registration(**overrides))
    assert response.status_code == 422, response.text
    assert (field, code) in {(e["field"], e["code"]) for e in response.json()["errors"]}


async def test_country_is_required(client: httpx.AsyncClient) -> None:
    """P1: the contact information is required for registration."""
    body = registration()
    del body["country"]
    response = await client.post(REGISTER, json=body)
    assert response.status_code == 422
    assert "body.country" in {e["field"] for e in response.json()["errors"]}


async def test_a_registering_prospect_becomes_that_customer(
    client: httpx.AsyncClient, container: Container, session: Any
) -> None:
    """P2: staff record a prospect; when that person registers with the same email, the
    prospect becomes the customer (same record and number) instead of a duplicate."""
    staff = await signed_in_staff(client, container, session, role=StaffRole.BILLING)
    created = await client.post(
        f"{API}/customers/prospects",
        json={
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "Grace@Example.com",
            "country": "DE",
            "phone": "+49 30 7654321",
            "source": "trade-fair-2026",
        },
        headers=staff.headers,
    )
    assert created.status_code == 201, created.text
    prospect = created.json()
    assert prospect["status"] == "prospect"
    assert prospect["phone"] == "+49307654321"

    me = await register_customer(client)
    record = (await client.get(f"{API}/me", headers=me.headers)).json()
    assert record["id"] == prospect["id"]
    assert record["number"] == prospect["number"]
    assert record["status"] == "active"
    assert record["phone"] == "+49301234567"  # the contact given at registration wins
    rows = await customers_in_db(container)
    assert len(rows) == 1
    assert rows[0].source == "trade-fair-2026"
    assert str(rows[0].user_id) == me.user_id


async def test_prospects_need_customers_write_and_valid_details(
    client: httpx.AsyncClient, container: Container, session: Any
) -> None:
    """P2, P1: support staff may not create prospects; invalid details are named."""
    support = await signed_in_staff(client, container, session, role=StaffRole.SUPPORT)
    body = {"first_name": "A", "last_name": "B", "email": "p@example.com", "country": "DE"}
    denied = await client.post(f"{API}/customers/prospects", json=body, headers=support.headers)
    assert denied.status_code == 403
    admin = await signed_in_staff(client, container, session)
    bad = await client.post(
        f"{API}/customers/prospects",
        json={**body, "email": "nope", "country": "ZZ"},
        headers=admin.headers,
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"body.email", "body.country"} <= fields


async def test_verified_email_marks_the_identity_status(
    client: httpx.AsyncClient, container: Container, mailer: MemoryMailer
) -> None:
    """P11: once the account's email is verified the record says `email_verified`."""
    me = await register_customer(client)
    token = await mailed_token(container, mailer, to="grace@example.com", template="verify_email")
    verified = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert verified.status_code == 204, verified.text
    record = (await client.get(f"{API}/me", headers=me.headers)).json()
    assert record["identity_status"] == "email_verified"


async def test_staff_verify_identity_with_a_note(
    client: httpx.AsyncClient, container: Container, session: Any
) -> None:
    """P11, P10: staff verify a customer's identity with a note; the change is audited."""
    me = await register_customer(client)
    customer_id = (await client.get(f"{API}/me", headers=me.headers)).json()["id"]
    staff = await signed_in_staff(client, container, session, role=StaffRole.BILLING)
    response = await client.post(
        f"{API}/customers/{customer_id}/identity/verify",
        json={"note": "Passport checked on video call"},
        headers=staff.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["identity_status"] == "verified"
    # Staff get the staff view back, the same shape GET /customers/{id} answers.
    staff_view = (await client.get(f"{API}/customers/{customer_id}", headers=staff.headers)).json()
    assert response.json().keys() == staff_view.keys()
    assert response.json()["identity_note"] == "Passport checked on video call"
    async with container.database.unit_of_work() as fresh:
        row = await fresh.get(Customer, uuid.UUID(customer_id))
        assert row is not None
        assert row.identity_note == "Passport checked on video call"
        assert str(row.identity_verified_by_id) == staff.user_id
        entry = (
            await fresh.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity_id == row.id, AuditEntry.action == "identity_verified"
                )
            )
        ).one()
    assert entry.actor_kind == "staff"
    assert "Passport" not in str(entry.changes)
    missing = await client.post(
        f"{API}/customers/{uuid.uuid4()}/identity/verify",
        json={"note": "x"},
        headers=staff.headers,
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "customer_not_found"


@pytest.mark.postgres_only
async def test_concurrent_registrations_get_distinct_sequential_numbers(
    container: Container,
) -> None:
    """Readable numbers are taken under a row lock: 20 registrations at once, in their own
    transactions, get 20 distinct consecutive numbers."""

    async def one(index: int) -> str:
        async with container.database.unit_of_work() as unit:
            service = CustomerService(session=unit, container=container)
            _user, customer = await service.register(
                auth=AuthService(session=unit, container=container),
                email=f"racer{index}@example.com",
                password=PASSWORD,
                contact={"first_name": "Race", "last_name": f"R{index}", "country": "DE"},
                client=ClientInfo(ip=f"10.0.0.{index + 1}", user_agent="test"),
            )
            return customer.number

    numbers = await asyncio.gather(*(one(i) for i in range(20)))
    assert sorted(numbers) == [f"C-{n:06d}" for n in range(1, 21)]
    async with container.database.unit_of_work() as fresh:
        assert await fresh.scalar(select(func.count()).select_from(Customer)) == 20
