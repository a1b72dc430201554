"""Signed-in staff, API keys and database look-ups shared by the staff-facing tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.container import Container
from app.models.security import ApiKey, SecurityEvent
from app.models.user import StaffRole
from tests.auth.conftest import Account, token_login
from tests.factories import make_staff

STAFF_PASSWORD = "granite-violet-sundial-83-meadow"
API = "/api/v1"


@dataclass
class SignedIn:
    account: Account
    headers: dict[str, str]  # bearer access token

    @property
    def user_id(self) -> str:
        return self.account.user_id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signed_in_staff(
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    role: StaffRole = StaffRole.ADMIN,
) -> SignedIn:
    """A staff member with a real password hash, signed in with a JWT (no CSRF needed)."""
    password_hash = await container.hasher.hash(STAFF_PASSWORD)
    user = await make_staff(session, container, role=role, password_hash=password_hash)
    await session.commit()  # the API runs in its own transactions
    account = Account(email=user.email, password=STAFF_PASSWORD, user_id=str(user.id))
    tokens = await token_login(client, account)
    return SignedIn(account=account, headers=bearer(tokens["access_token"]))


async def signed_in_customer(client: httpx.AsyncClient, account: Account) -> SignedIn:
    tokens = await token_login(client, account)
    return SignedIn(account=account, headers=bearer(tokens["access_token"]))


async def create_key(
    client: httpx.AsyncClient,
    admin: SignedIn,
    *,
    scopes: Sequence[str] = ("users:read",),
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/api-keys",
        json={"name": "integration", "scopes": list(scopes), **extra},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def events_of(container: Container, event_type: str, **where: Any) -> list[SecurityEvent]:
    """Recorded events, read in a fresh transaction (never a stale snapshot)."""
    async with container.database.unit_of_work() as fresh:
        statement = select(SecurityEvent).where(SecurityEvent.event_type == event_type)
        for column, value in where.items():
            if isinstance(value, str):
                value = uuid.UUID(value)
            statement = statement.where(getattr(SecurityEvent, column) == value)
        return list((await fresh.scalars(statement.order_by(SecurityEvent.id))).all())


async def stored_key(container: Container, key_id: str) -> ApiKey:
    async with container.database.unit_of_work() as fresh:
        key = await fresh.get(ApiKey, uuid.UUID(key_id))
        assert key is not None
        return key


@contextmanager
def count_statements(container: Container) -> Iterator[list[str]]:
    """Every SQL statement sent to the database inside the block."""
    statements: list[str] = []

    def listener(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = container.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    code: str = response.json()["code"]
    return code
