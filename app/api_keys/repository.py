"""Queries for API keys."""

from __future__ import annotations

from sqlalchemy import select

from app.core.errors import NotFound
from app.core.repository import Repository
from app.models.security import ApiKey


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey
    not_found = ApiKeyNotFound

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        return (await self.session.scalars(select(ApiKey).where(ApiKey.prefix == prefix))).first()
