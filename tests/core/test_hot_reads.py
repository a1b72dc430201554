"""The hot reader runs Core statements compiled once: bound and literal parameters, and our
TypeDecorators' result processing, the same on PostgreSQL (raw psycopg) and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Integer, bindparam, literal, select, type_coerce

from app.core.container import Container
from app.core.hot_reads import CompiledQuery
from app.core.types import UTCDateTime

# `literal("open")` becomes a parameter with a value of its own, which must be sent too.
TYPED = CompiledQuery(
    select(
        type_coerce(bindparam("at"), UTCDateTime()).label("at"),
        literal("open").label("status"),
        (literal(2) + bindparam("n", type_=Integer)).label("total"),
    )
)


async def test_rows_come_back_typed_with_every_parameter_sent(container: Container) -> None:
    reader = container.hot_reader
    at = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))

    row = await reader.fetch_one(TYPED, {"at": at, "n": 3})
    rows = await reader.fetch_all(TYPED, {"at": at, "n": 40})

    assert TYPED.columns == ("at", "status", "total")
    assert row is not None
    assert row[0] == at
    assert row[0].tzinfo == UTC  # UTCDateTime's result processing, on both databases
    assert row[1:] == ("open", 5)
    assert rows == [(at, "open", 42)]


async def test_observers_hear_of_every_statement_that_bypasses_engine_events(
    container: Container, is_postgres: bool
) -> None:
    heard: list[str] = []
    container.hot_reader.observers.append(heard.append)
    try:
        await container.hot_reader.fetch_one(TYPED, {"at": datetime.now(UTC), "n": 1})
    finally:
        container.hot_reader.observers.remove(heard.append)
    # SQLite's reader goes through the engine, where engine events already see it.
    assert len(heard) == (1 if is_postgres else 0)


def test_an_expanding_in_is_refused_when_compiled_for_psycopg() -> None:
    query = CompiledQuery(select(literal(1)).where(literal("a").in_(["a", "b"])))
    with pytest.raises(ValueError, match="expanding IN"):
        _ = query.psycopg
