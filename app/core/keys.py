"""Data-key rotation for encrypted columns (P12): find every `EncryptedString` column in the
metadata, and re-seal under the primary key of the ring every value still sealed under another.

It works on the raw ciphertext through Core (never through the ORM models or the column type's
own decryption), so any table that gains an encrypted column is covered without changes here.
Rows are processed in small transactions, keyset-paginated by primary key, and only rows that
still need it are touched: an interrupted run is finished by running it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    Table,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.crypto import DecryptionError, EncryptedString, Keyring
from app.core.db import Database

DEFAULT_BATCH_SIZE = 500
# Called as on_progress(table name, rows done, rows to do) at the start of each table and after
# each committed batch.
ProgressCallback = Callable[[str, int, int], None]

_CIPHERTEXT_VERSION = "v1"
_PK_PARAM = "_hl_pk_{index}"
_VALUE_PARAM = "_hl_value_{name}"


class RotationError(RuntimeError):
    """A value could not be opened with any key of the ring (names the row, never the data)."""


@dataclass(frozen=True)
class EncryptedTable:
    table: Table
    columns: tuple[Column[Any], ...]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def primary_key(self) -> tuple[Column[Any], ...]:
        return tuple(self.table.primary_key.columns)

    def raw(self, column: Column[Any]) -> ColumnElement[str]:
        """The stored ciphertext, read without the column type's decryption."""
        return type_coerce(column, Text)


def encrypted_tables(metadata: MetaData) -> list[EncryptedTable]:
    """Every table with at least one `EncryptedString` column, in dependency order."""
    found: list[EncryptedTable] = []
    for table in metadata.sorted_tables:
        columns = tuple(c for c in table.columns if isinstance(c.type, EncryptedString))
        if not columns:
            continue
        if not table.primary_key.columns:
            raise RotationError(f"table {table.name} has encrypted columns but no primary key")
        found.append(EncryptedTable(table=table, columns=columns))
    return found


def _default_metadata() -> MetaData:
    from app.models import Base

    return Base.metadata


def _sealed_by(kid: str) -> str:
    return f"{_CIPHERTEXT_VERSION}.{kid}.%"


def _needs_rotation(target: EncryptedTable, primary_kid: str) -> ColumnElement[bool]:
    prefix = _sealed_by(primary_kid)
    return or_(
        *(and_(target.raw(c).is_not(None), target.raw(c).not_like(prefix)) for c in target.columns)
    )


@dataclass(frozen=True)
class TableRotation:
    table: str
    candidates: int  # rows that held a value under another key when the run started
    rotated: int  # rows re-sealed by this run


@dataclass
class RotationReport:
    primary_kid: str
    tables: list[TableRotation] = field(default_factory=list)

    @property
    def rotated(self) -> int:
        return sum(t.rotated for t in self.tables)


async def rotate(
    database: Database,
    keyring: Keyring,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
    metadata: MetaData | None = None,
) -> RotationReport:
    """Re-seal every encrypted value not under `keyring.primary_kid`; safe to re-run."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = RotationReport(primary_kid=keyring.primary_kid)
    for target in encrypted_tables(metadata or _default_metadata()):
        report.tables.append(
            await _rotate_table(database, keyring, target, batch_size, on_progress)
        )
    return report


async def _rotate_table(
    database: Database,
    keyring: Keyring,
    target: EncryptedTable,
    batch_size: int,
    on_progress: ProgressCallback | None,
) -> TableRotation:
    pending = _needs_rotation(target, keyring.primary_kid)
    async with database.engine.connect() as connection:
        total = int(
            (
                await connection.execute(
                    select(func.count()).select_from(target.table).where(pending)
                )
            ).scalar_one()
        )
    if on_progress:
        on_progress(target.name, 0, total)
    done = 0
    last: tuple[Any, ...] | None = None
    while True:
        async with database.engine.begin() as connection:
            rows = await _next_batch(connection, target, pending, last, batch_size)
            if not rows:
                break
            await _write_batch(connection, keyring, target, rows)
        pk_width = len(target.primary_key)
        last = tuple(rows[-1][:pk_width])
        done += len(rows)
        if on_progress:
            on_progress(target.name, done, max(total, done))
    return TableRotation(table=target.name, candidates=total, rotated=done)


async def _next_batch(
    connection: AsyncConnection,
    target: EncryptedTable,
    pending: ColumnElement[bool],
    last: tuple[Any, ...] | None,
    batch_size: int,
) -> list[tuple[Any, ...]]:
    pk = target.primary_key
    statement = (
        select(*pk, *(target.raw(c) for c in target.columns))
        .where(pending)
        .order_by(*pk)
        .limit(batch_size)
        # A concurrent writer cannot slip a new value in between our read and our write.
        .with_for_update()
    )
    if last is not None:
        after = pk[0] > last[0] if len(pk) == 1 else tuple_(*pk) > tuple_(*last)
        statement = statement.where(after)
    return [tuple(row) for row in (await connection.execute(statement)).all()]


async def _write_batch(
    connection: AsyncConnection,
    keyring: Keyring,
    target: EncryptedTable,
    rows: Sequence[tuple[Any, ...]],
) -> None:
    pk = target.primary_key
    statement = (
        update(target.table)
        .where(*(c == bindparam(_PK_PARAM.format(index=i)) for i, c in enumerate(pk)))
        .values(
            {
                c.name: bindparam(_VALUE_PARAM.format(name=c.name), type_=Text)
                for c in target.columns
            }
        )
    )
    parameters: list[dict[str, Any]] = []
    for row in rows:
        keys, values = row[: len(pk)], row[len(pk) :]
        params: dict[str, Any] = {_PK_PARAM.format(index=i): v for i, v in enumerate(keys)}
        for column, value in zip(target.columns, values, strict=True):
            params[_VALUE_PARAM.format(name=column.name)] = _reseal(
                keyring, target, column, keys, value
            )
        parameters.append(params)
    await connection.execute(statement, parameters)


def _reseal(
    keyring: Keyring,
    target: EncryptedTable,
    column: Column[Any],
    keys: Sequence[Any],
    value: str | None,
) -> str | None:
    if value is None or Keyring.key_id_of(value) == keyring.primary_kid:
        return value
    assert isinstance(column.type, EncryptedString)  # noqa: S101 - by construction
    aad = column.type.context.encode()
    try:
        plaintext = keyring.open(value, aad=aad)
    except DecryptionError as exc:
        where = f"{target.name}.{column.name} (row {', '.join(str(k) for k in keys)})"
        kid = Keyring.key_id_of(value) or "?"
        raise RotationError(
            f"{where}: cannot open a value sealed under key {kid!r}: {exc};"
            " add that key to HOSTLEDGER_DATA_KEYS (after the new primary) and run again"
        ) from exc
    return keyring.seal(plaintext, aad=aad)


@dataclass(frozen=True)
class TableKeyStatus:
    table: str
    rows: int
    rows_to_rotate: int
    values_by_kid: dict[str, int]  # encrypted values (not NULL) per key id, over all columns


async def key_status(
    database: Database, keyring: Keyring, *, metadata: MetaData | None = None
) -> list[TableKeyStatus]:
    """Per table: rows, rows still holding a value under another key, values per key id."""
    statuses: list[TableKeyStatus] = []
    async with database.engine.connect() as connection:
        dialect = connection.dialect.name
        for target in encrypted_tables(metadata or _default_metadata()):
            rows = (
                await connection.execute(select(func.count()).select_from(target.table))
            ).scalar_one()
            to_rotate = (
                await connection.execute(
                    select(func.count())
                    .select_from(target.table)
                    .where(_needs_rotation(target, keyring.primary_kid))
                )
            ).scalar_one()
            kids = union_all(
                *(
                    select(_kid_expression(target.raw(c), dialect).label("kid"))
                    .select_from(target.table)
                    .where(target.raw(c).is_not(None))
                    for c in target.columns
                )
            ).subquery()
            by_kid = await connection.execute(
                select(kids.c.kid, func.count()).group_by(kids.c.kid).order_by(kids.c.kid)
            )
            statuses.append(
                TableKeyStatus(
                    table=target.name,
                    rows=int(rows),
                    rows_to_rotate=int(to_rotate),
                    values_by_kid={str(kid): int(n) for kid, n in by_kid.all()},
                )
            )
    return statuses


def _kid_expression(raw: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    """The `<kid>` of `v1.<kid>.<payload>`, computed by the database."""
    if dialect == "postgresql":
        return func.split_part(raw, ".", 2)
    # SQLite (and the fallback): the text between the first and the second dot.
    rest = func.substr(raw, func.instr(raw, ".") + 1)
    return func.substr(rest, 1, func.instr(rest, ".") - 1)
