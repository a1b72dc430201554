"""Data-key rotation (issue 4, protection at rest; P12): `hostledger keys rotate` re-seals every
encrypted value under the first key of HOSTLEDGER_DATA_KEYS, batch by batch, and can be re-run."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.core import crypto
from app.core.config import generate_secrets
from app.core.container import Container
from app.core.crypto import Keyring, install_field_keyring
from app.core.keys import RotationError, encrypted_tables, key_status, rotate
from app.models import Base, Customer, CustomerNote, OutboxMessage, User
from tests.factories import make_staff

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def restore_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests here install other rings; the rest of the suite shares the process, so the
    installed ring (or its absence) is put back afterwards."""
    monkeypatch.setattr(crypto, "_field_keyring", crypto._field_keyring)


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


async def _raw_ciphertexts(container: Container) -> dict[str, list[str]]:
    """Every non-NULL encrypted value of every table, as stored (no decryption)."""
    found: dict[str, list[str]] = {}
    async with container.database.engine.connect() as connection:
        for target in encrypted_tables(Base.metadata):
            rows = await connection.execute(select(*(target.raw(c) for c in target.columns)))
            found[target.name] = [value for row in rows for value in row if value is not None]
    return found


async def _seed(container: Container) -> dict[str, str]:
    """Users, outbox mail, a customer and a note, all sealed under the test ring's key."""
    async with container.database.unit_of_work() as session:
        staff = [await make_staff(session, container) for _ in range(3)]
        emails = {str(user.id): user.email for user in staff}
        for index in range(4):
            session.add(
                OutboxMessage(
                    template="password_reset",
                    recipient=f"mail{index}@example.net",
                    payload='{"name": "Ada"}',
                    created_at=NOW,
                )
            )
        customer = Customer(
            number="C-000001",
            status="active",
            first_name="Ada",
            last_name="Lovelace",
            search_name="ada lovelace",
            email="ada@example.net",
            email_index="a" * 64,
            country="DE",
            phone="+4930123456",
            address_line1="Unter den Linden 1",
            city="Berlin",
            postal_code="10117",
            vat_id="DE123456789",
            date_of_birth="1990-01-02",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(customer)
        await session.flush()
        session.add(CustomerNote(customer_id=customer.id, body="called about VAT", created_at=NOW))
    return emails


async def test_rotate_reseals_every_value_under_the_new_primary(
    container: Container, restore_keyring: None
) -> None:
    emails = await _seed(container)
    before = await _raw_ciphertexts(container)
    old_kid = container.crypto.fields.primary_kid
    assert all(Keyring.key_id_of(v) == old_kid for values in before.values() for v in values)
    new_key = os.urandom(32)
    ring = Keyring([("k2", new_key), *container.settings.secrets.data_keys])
    install_field_keyring(ring)
    progress: list[tuple[str, int, int]] = []

    report = await rotate(
        container.database,
        ring,
        batch_size=2,
        on_progress=lambda table, done, total: progress.append((table, done, total)),
    )

    by_table = {t.table: t.rotated for t in report.tables}
    assert by_table["users"] == 3
    assert by_table["outbox_messages"] == 4
    assert by_table["customers"] == 1
    assert by_table["customer_notes"] == 1
    assert report.rotated == sum(by_table.values())
    assert ("outbox_messages", 2, 4) in progress
    assert ("outbox_messages", 4, 4) in progress
    after = await _raw_ciphertexts(container)
    assert {t: len(v) for t, v in after.items()} == {t: len(v) for t, v in before.items()}
    assert all(Keyring.key_id_of(v) == "k2" for values in after.values() for v in values)

    # The old key can go: a ring with only the new key reads everything, unchanged.
    install_field_keyring(Keyring([("k2", new_key)]))
    async with container.database.unit_of_work(read_only=True) as session:
        users = (await session.scalars(select(User))).all()
        assert {str(u.id): u.email for u in users} == emails
        recipients = set((await session.scalars(select(OutboxMessage.recipient))).all())
        assert recipients == {f"mail{i}@example.net" for i in range(4)}
        customer = (await session.scalars(select(Customer))).one()
        assert (customer.phone, customer.vat_id, customer.date_of_birth) == (
            "+4930123456",
            "DE123456789",
            "1990-01-02",
        )
        assert (await session.scalars(select(CustomerNote.body))).one() == "called about VAT"

    again = await rotate(container.database, ring, batch_size=2)
    assert again.rotated == 0
    assert await _raw_ciphertexts(container) == after


async def test_status_counts_values_per_key_id(container: Container, restore_keyring: None) -> None:
    await _seed(container)
    old_kid = container.crypto.fields.primary_kid
    ring = Keyring([("k2", os.urandom(32)), *container.settings.secrets.data_keys])
    statuses = {s.table: s for s in await key_status(container.database, ring)}
    assert statuses["users"].rows == 3
    assert statuses["users"].rows_to_rotate == 3
    assert statuses["users"].values_by_kid == {old_kid: 3}  # email; no display name or TOTP
    assert statuses["customers"].values_by_kid == {old_kid: 7}
    assert statuses["outbox_messages"].values_by_kid == {old_kid: 8}

    await rotate(container.database, ring)
    statuses = {s.table: s for s in await key_status(container.database, ring)}
    assert statuses["outbox_messages"].values_by_kid == {"k2": 8}
    assert all(s.rows_to_rotate == 0 for s in statuses.values())


async def test_rotation_without_the_old_key_stops_and_changes_nothing(
    container: Container, restore_keyring: None
) -> None:
    await _seed(container)
    before = await _raw_ciphertexts(container)
    with pytest.raises(RotationError, match="add that key to HOSTLEDGER_DATA_KEYS"):
        await rotate(container.database, Keyring([("k9", os.urandom(32))]))
    assert await _raw_ciphertexts(container) == before


def test_every_encrypted_column_is_discovered() -> None:
    columns = {f"{t.name}.{c.name}" for t in encrypted_tables(Base.metadata) for c in t.columns}
    assert {
        "users.email",
        "users.totp_secret",
        "customers.phone",
        "customers.vat_id",
        "customers.date_of_birth",
        "customer_notes.body",
        "outbox_messages.recipient",
        "erasure_requests.reason",
    } <= columns


def test_keys_commands_rotate_and_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, restore_keyring: None
) -> None:
    monkeypatch.setenv("HOSTLEDGER_ENV", "test")
    monkeypatch.setenv("HOSTLEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    monkeypatch.setenv("HOSTLEDGER_PASSWORD_MEMORY_KIB", "64")
    monkeypatch.setenv("HOSTLEDGER_PASSWORD_TIME_COST", "1")
    secrets = generate_secrets()
    for name, value in secrets.items():
        monkeypatch.setenv(f"HOSTLEDGER_{name.upper()}", value)
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    created = runner.invoke(
        cli,
        ["create-admin", "--email", "root@example.com", "--name", "Root"],
        env={"HOSTLEDGER_ADMIN_PASSWORD": "plum-vortex-quietly-41-harbour"},
    )
    assert created.exit_code == 0, created.output

    monkeypatch.setenv("HOSTLEDGER_DATA_KEYS", f"k2:{_b64(os.urandom(32))},{secrets['data_keys']}")
    status = runner.invoke(cli, ["keys", "status"])
    assert status.exit_code == 0, status.output
    assert "primary data key: k2" in status.output
    assert "k1: 2" in status.output  # the admin's email and display name

    rotated = runner.invoke(cli, ["keys", "rotate", "--batch-size", "1"])
    assert rotated.exit_code == 0, rotated.output
    assert "re-encrypted under key k2" in rotated.output
    assert "1 rows re-encrypted" in rotated.output

    again = runner.invoke(cli, ["keys", "rotate"])
    assert again.exit_code == 0, again.output
    assert "0 rows re-encrypted" in again.output
    status = runner.invoke(cli, ["keys", "status"])
    assert "k2: 2" in status.output


def test_keys_rotate_without_the_old_key_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, restore_keyring: None
) -> None:
    monkeypatch.setenv("HOSTLEDGER_ENV", "test")
    monkeypatch.setenv("HOSTLEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    for name, value in generate_secrets().items():
        monkeypatch.setenv(f"HOSTLEDGER_{name.upper()}", value)
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    assert (
        runner.invoke(
            cli,
            ["create-admin", "--email", "root@example.com"],
            env={"HOSTLEDGER_ADMIN_PASSWORD": "plum-vortex-quietly-41-harbour"},
        ).exit_code
        == 0
    )
    monkeypatch.setenv("HOSTLEDGER_DATA_KEYS", f"k2:{_b64(os.urandom(32))}")
    result = runner.invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 1
    assert "rotation stopped" in result.output
    assert "root@example.com" not in result.output
