"""Cursor (keyset) pagination: stable under inserts, constant cost at any depth."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from app.core.crypto import b64url_decode, b64url_encode
from app.core.errors import DomainError

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class InvalidCursor(DomainError):
    status = 400
    code = "invalid_cursor"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` to get the next page; null on the last page"
    )


class PageParams(BaseModel):
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def page_json(items: Sequence[str], next_cursor: str | None) -> bytes:
    """A `Page` document from items that are JSON texts already (rendered by the database)."""
    return f'{{"items":[{",".join(items)}],"next_cursor":{json.dumps(next_cursor)}}}'.encode()


def encode_cursor(last_id: uuid.UUID) -> str:
    return b64url_encode(json.dumps({"after": str(last_id)}).encode())


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        data = json.loads(b64url_decode(cursor))
        return uuid.UUID(str(data["after"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc
