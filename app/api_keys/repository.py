"""Queries for API keys."""

from __future__ import annotations

from sqlalchemy import Select, select

from app.core.errors import NotFound
from app.core.repository import Repository
from app.models.security import ApiKey


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey
    not_found = ApiKeyNotFound

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        return (await self.session.scalars(select(ApiKey).where(ApiKey.prefix == prefix))).first()

    def listing(self) -> Select[tuple[ApiKey]]:
        """Every key, revoked and expired ones included (they stay listed for the record)."""
        return self.select()
