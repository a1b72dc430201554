"""The generic repository: the only place SQL is built, one subclass per aggregate."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, any_, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.core.errors import NotFound
from app.core.pagination import PageParams, decode_cursor, encode_cursor
from app.models.base import Base

ModelT = TypeVar("ModelT", bound=Base)


def one_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Collection[Any], *, dialect: str
) -> ColumnElement[bool]:
    """`column IN (values)` for a batch of values. On PostgreSQL it is `column = ANY(:array)`:
    one parameter whatever the count, so the SQL text is the same for every batch and psycopg
    reuses its parse of it, instead of one placeholder per value in a text it parses anew (the
    billing run spent 5 % of its time there)."""
    if dialect == "postgresql":
        return column == any_(literal(list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


class Repository(Generic[ModelT]):
    model: ClassVar[type[Any]]
    not_found: ClassVar[type[NotFound]] = NotFound

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, entity_id: uuid.UUID) -> ModelT | None:
        entity: ModelT | None = await self.session.get(self.model, entity_id)
        return entity

    async def get_or_raise(self, entity_id: uuid.UUID) -> ModelT:
        entity = await self.get(entity_id)
        if entity is None:
            raise self.not_found()
        return entity

    async def lock(self, entity_id: uuid.UUID) -> ModelT:
        """The row, locked until the transaction ends (`SELECT … FOR UPDATE`; SQLite has no row
        locks and serialises writers instead), with its attributes read again from the database
        even if the session already held it."""
        statement = (
            select(self.model)
            .where(self.model.id == entity_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        entity: ModelT | None = (await self.session.scalars(statement)).first()
        if entity is None:
            raise self.not_found()
        return entity

    async def add(self, entity: ModelT) -> ModelT:
        self.session.add(entity)
        await self.session.flush()
        return entity

    async def paginate(
        self, statement: Select[Any], *, page: PageParams
    ) -> tuple[Sequence[ModelT], str | None]:
        """Newest first, keyed on the time-ordered id; one query whatever the depth."""
        id_column = self.model.id
        if page.cursor is not None:
            statement = statement.where(id_column < decode_cursor(page.cursor))
        statement = statement.order_by(id_column.desc()).limit(page.limit + 1)
        rows: list[Any] = list((await self.session.scalars(statement)).all())
        has_more = len(rows) > page.limit
        rows = rows[: page.limit]
        next_cursor = encode_cursor(rows[-1].id) if has_more and rows else None
        return rows, next_cursor

    def select(self) -> Select[Any]:
        return select(self.model)
