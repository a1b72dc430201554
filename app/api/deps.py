"""Typed dependency aliases shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import Clock
from app.core.config import Settings
from app.core.container import Container
from app.core.crypto import CryptoKit
from app.core.db import Database


def get_container(request: Request) -> Container:
    return cast(Container, request.app.state.container)


ContainerDep = Annotated[Container, Depends(get_container)]


def get_settings(container: ContainerDep) -> Settings:
    return container.settings


def get_clock(container: ContainerDep) -> Clock:
    return container.clock


def get_crypto(container: ContainerDep) -> CryptoKit:
    return container.crypto


def get_database(container: ContainerDep) -> Database:
    return container.database


async def get_session(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with container.database.unit_of_work() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
CryptoDep = Annotated[CryptoKit, Depends(get_crypto)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# scope="function": the commit runs when the endpoint returns, before the response goes out,
# so a client never sees success for work that then failed to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
