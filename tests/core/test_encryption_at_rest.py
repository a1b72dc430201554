"""Protection at rest (P12): personal values never reach the database in plaintext. Every raw
row of every table is read back (and, on SQLite, the database file itself) and searched."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.container import Container
from app.models import Base, Customer, CustomerNote, OutboxMessage
from tests.factories import make_staff

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STAFF_EMAIL = "margaret.hamilton@apollo.example"
PLAINTEXTS = [
    STAFF_EMAIL,
    "grace.hopper@navy.example",  # the customer's email
    "+4930123456",
    "Unter den Linden 1",
    "Berlin",  # the city (the 5-digit postal code alone could occur in a random id)
    "Flat 7, rear building",
    "Charlottenburg-Wilmersdorf",
    "DE123456789",
    "1990-01-02",
    "prefers calls after five",  # a staff note
    "outbox-recipient@mail.example",
    "reset-link-token-qwerty",  # inside an outbox payload
]


async def _store_personal_data(container: Container) -> None:
    async with container.database.unit_of_work() as session:
        staff = await make_staff(session, container, email=STAFF_EMAIL)
        customer = Customer(
            number="C-000001",
            status="active",
            first_name="Grace",
            last_name="Hopper",
            search_name="grace hopper",
            email="grace.hopper@navy.example",
            email_index=container.crypto.blind_index.digest(
                "grace.hopper@navy.example", context="customers.email"
            ),
            country="DE",
            phone="+4930123456",
            address_line1="Unter den Linden 1",
            address_line2="Flat 7, rear building",
            city="Berlin",
            region="Charlottenburg-Wilmersdorf",
            postal_code="10117",
            vat_id="DE123456789",
            date_of_birth="1990-01-02",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(customer)
        await session.flush()
        session.add(
            CustomerNote(
                customer_id=customer.id,
                author_id=staff.id,
                body="prefers calls after five",
                created_at=NOW,
            )
        )
        session.add(
            OutboxMessage(
                template="password_reset",
                recipient="outbox-recipient@mail.example",
                payload='{"link": "https://spa/#token=reset-link-token-qwerty"}',
                created_at=NOW,
            )
        )


async def _every_raw_value(container: Container) -> list[str]:
    """Every cell of every table, as the database returns it (no column types applied)."""
    values: list[str] = []
    async with container.database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = await connection.execute(text(f'SELECT * FROM "{table.name}"'))  # noqa: S608
            values += [str(cell) for row in rows for cell in row if cell is not None]
    return values


async def test_personal_values_are_not_stored_in_plaintext(container: Container) -> None:
    await _store_personal_data(container)
    raw = "\n".join(await _every_raw_value(container))
    assert "Grace" in raw  # the scan sees the rows (names stay plain: they are searched)
    assert "v1." in raw
    leaked = [value for value in PLAINTEXTS if value in raw]
    assert leaked == []


@pytest.mark.sqlite_only
async def test_the_sqlite_file_holds_no_plaintext(
    container: Container, migrated_database_url: str
) -> None:
    await _store_personal_data(container)
    async with container.database.engine.connect() as connection:
        await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    database = Path(make_url(migrated_database_url).database or "")
    files = [p for p in (database, Path(f"{database}-wal")) if p.exists()]
    content = b"".join(p.read_bytes() for p in files)
    assert b"Grace" in content  # the rows are in what we read
    leaked = [
        value
        for value in PLAINTEXTS
        if value.encode() in content or value.encode("utf-16-le") in content
    ]
    assert leaked == []
