"""The database layer: unit of work, repository base, portable types (foundation, item 3)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from app.api.deps import SessionDep
from app.auth.repository import UserNotFound, UserRepository
from app.core.clock import FrozenClock
from app.core.container import Container
from app.core.ids import new_id
from app.core.pagination import InvalidCursor, PageParams
from app.models.user import User
from tests.factories import make_staff, unique_email


def _writer_router(container: Container) -> APIRouter:
    router = APIRouter(prefix="/_probe", tags=["probe"])

    @router.post("/write-then-fail")
    async def write_then_fail(session: SessionDep) -> None:
        await make_staff(session, container, email="rolled-back@example.com")
        raise RuntimeError("after the write")

    @router.post("/write")
    async def write(session: SessionDep) -> dict[str, str]:
        user = await make_staff(session, container, email="committed@example.com")
        return {"id": str(user.id)}

    return router


@pytest.fixture
def app(app: FastAPI, container: Container) -> FastAPI:
    app.include_router(_writer_router(container))
    return app


async def _count_users(container: Container) -> int:
    async with container.database.sessionmaker() as session:
        return len((await session.scalars(select(User))).all())


async def test_request_commits_on_success(client: httpx.AsyncClient, container: Container) -> None:
    response = await client.post("/_probe/write")
    assert response.status_code == 200
    assert await _count_users(container) == 1


async def test_request_rolls_back_on_error(client: httpx.AsyncClient, container: Container) -> None:
    response = await client.post("/_probe/write-then-fail")
    assert response.status_code == 500
    assert await _count_users(container) == 0


async def test_get_or_raise_is_a_domain_not_found(container: Container) -> None:
    async with container.database.unit_of_work() as session:
        with pytest.raises(UserNotFound) as caught:
            await UserRepository(session).get_or_raise(uuid.uuid4())
    assert caught.value.status == 404
    assert caught.value.code == "user_not_found"


async def test_cursor_pagination_walks_every_row_once_newest_first(
    container: Container,
) -> None:
    async with container.database.unit_of_work() as session:
        created = [(await make_staff(session, container)).id for _ in range(7)]
    seen: list[uuid.UUID] = []
    cursor = None
    async with container.database.sessionmaker() as session:
        repo = UserRepository(session)
        for _ in range(10):
            rows, cursor = await repo.paginate(
                repo.select(), page=PageParams(limit=3, cursor=cursor)
            )
            seen.extend(row.id for row in rows)
            if cursor is None:
                break
    assert seen == sorted(created, reverse=True)


async def test_tampered_cursor_is_a_400_domain_error(container: Container) -> None:
    async with container.database.sessionmaker() as session:
        repo = UserRepository(session)
        with pytest.raises(InvalidCursor):
            await repo.paginate(repo.select(), page=PageParams(limit=3, cursor="not-a-cursor"))


def test_ids_are_time_ordered_uuid7() -> None:
    first, second = new_id(at_ms=1_000), new_id(at_ms=2_000)
    assert first.version == 7
    assert first < second


async def test_datetimes_come_back_timezone_aware_utc(container: Container) -> None:
    clock = FrozenClock(datetime(2026, 3, 1, 10, 30, tzinfo=UTC))
    async with container.database.unit_of_work() as session:
        user = await make_staff(session, dataclasses.replace(container, clock=clock))
        user_id = user.id
    async with container.database.sessionmaker() as session:
        loaded = await session.get(User, user_id)
    assert loaded is not None
    assert loaded.created_at == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert loaded.created_at.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(container: Container) -> None:
    async with container.database.sessionmaker() as session:
        user = await make_staff(session, container)
        user.email_verified_at = datetime(2026, 1, 1)  # noqa: DTZ001
        with pytest.raises(StatementError, match="naive"):
            await session.flush()


async def test_email_is_encrypted_at_rest_and_found_by_blind_index(
    container: Container,
) -> None:
    """P12: the raw row holds ciphertext; lookups use the keyed index."""
    email = unique_email("private")
    async with container.database.unit_of_work() as session:
        await make_staff(session, container, email=email)
    async with container.database.engine.connect() as connection:
        raw = (await connection.execute(text("SELECT email, email_index FROM users"))).one()
    assert email not in raw.email
    assert raw.email.startswith("v1.")
    assert email not in raw.email_index


@pytest.mark.sqlite_only
async def test_foreign_keys_and_wal_are_on_for_sqlite(container: Container) -> None:
    async with container.database.engine.connect() as connection:
        foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
        journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
    assert foreign_keys == 1
    assert journal == "wal"


def test_ids_made_in_one_process_strictly_increase() -> None:
    """Many ids in the same millisecond still sort in creation order (no random tie-breaks)."""
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(value.version == 7 for value in ids[:10])
