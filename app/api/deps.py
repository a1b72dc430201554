"""Typed dependency aliases shared by every router.

Every dependency is `async def`, even when it does not await: FastAPI runs plain `def`
dependencies in a worker thread, which costs more than the work they do.
"""

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


async def get_container(request: Request) -> Container:
    return cast(Container, request.app.state.container)


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_settings(container: ContainerDep) -> Settings:
    return container.settings


async def get_clock(container: ContainerDep) -> Clock:
    return container.clock


async def get_crypto(container: ContainerDep) -> CryptoKit:
    return container.crypto


async def get_database(container: ContainerDep) -> Database:
    return container.database


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request, container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    Safe methods get an autocommit session (no BEGIN/COMMIT round trips): they must not make
    changes that need to stand or fall together; those belong to POST/PUT/PATCH/DELETE.
    """
    read_only = request.method in SAFE_METHODS
    async with container.database.unit_of_work(read_only=read_only) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
CryptoDep = Annotated[CryptoKit, Depends(get_crypto)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# scope="function": the commit runs when the endpoint returns, before the response goes out,
# so a client never sees success for work that then failed to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
