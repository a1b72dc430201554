"""API keys for integrations: `hlk_<prefix>_<secret>`, shown once, stored as a hash.

The prefix finds the row with one indexed lookup; the secret is compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.api_keys.repository import ApiKeyRepository
from app.auth.errors import InvalidToken
from app.auth.permissions import API_KEY_SCOPES, SCOPES
from app.auth.principal import AuthMethod, Principal
from app.auth.session_store import AuthUser
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.errors import FieldError, InvalidInput
from app.core.pagination import PageParams
from app.core.security import token_digest
from app.models.security import ApiKey
from app.security_events import service as events
from app.security_events.service import EventType

KEY_PREFIX = "hlk_"


def split_key(presented: str) -> tuple[str, str] | None:
    if not presented.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = presented[len(KEY_PREFIX) :].partition("_")
    if not sep or not prefix or not secret or len(prefix) > 16:
        return None
    return prefix, secret


def new_key() -> tuple[str, str, str]:
    """(full key to show once, lookup prefix, secret hash to store)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{prefix}_{secret}", prefix, token_digest(secret)


async def authenticate_api_key(
    *, session: AsyncSession, container: Container, presented: str, client: ClientInfo
) -> Principal:
    parts = split_key(presented)
    if parts is None:
        raise InvalidToken("The API key is not valid.")
    prefix, secret = parts
    key = await ApiKeyRepository(session).get_by_prefix(prefix)
    now = container.clock.now()
    if (
        key is None
        or not hmac.compare_digest(key.secret_hash, token_digest(secret))
        or key.revoked_at is not None
        or (key.expires_at is not None and key.expires_at <= now)
    ):
        raise InvalidToken("The API key is not valid, expired or revoked.")
    # Use is recorded at most once per touch interval, so a busy integration costs no writes.
    touch = timedelta(seconds=container.settings.session.touch_interval)
    if key.last_used_at is None or now - key.last_used_at >= touch:
        key.last_used_at = now
        await events.record(
            session, event_type=EventType.API_KEY_USED, at=now, client=client, api_key_id=key.id
        )
    return Principal(method=AuthMethod.API_KEY, scopes=frozenset(key.scopes), api_key_id=key.id)


# --------------------------------------------------------------------------- administration


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its full secret form, to show once (only the hash is stored)."""

    key: ApiKey
    full_key: str


def check_key_scopes(
    requested: Sequence[str], *, grantor_scopes: frozenset[str], field: str = "body.scopes"
) -> list[str]:
    """The scopes a key may hold: known, allowed for keys, and held by whoever grants them."""
    errors: list[FieldError] = []
    for position, scope in enumerate(requested):
        if scope not in SCOPES:
            code, message = "scope_unknown", "This scope does not exist."
        elif scope not in API_KEY_SCOPES:
            code, message = "scope_not_allowed", "API keys may not hold this scope."
        elif scope not in grantor_scopes:
            code, message = "scope_not_held", "You cannot grant a scope you do not hold."
        else:
            continue
        errors.append(FieldError(field=f"{field}.{position}", code=code, message=message))
    if errors:
        allowed = ", ".join(sorted(API_KEY_SCOPES))
        raise InvalidInput(errors, detail=f"API keys may hold only these scopes: {allowed}.")
    return sorted(set(requested))


async def create_api_key(
    *,
    session: AsyncSession,
    container: Container,
    creator: AuthUser,
    creator_scopes: frozenset[str],
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None,
    client: ClientInfo,
) -> CreatedKey:
    granted = check_key_scopes(scopes, grantor_scopes=creator_scopes)
    now = container.clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(
            [
                FieldError(
                    field="body.expires_at",
                    code="expires_at_in_past",
                    message="The expiry must be in the future.",
                )
            ]
        )
    full_key, prefix, secret_hash = new_key()
    key = await ApiKeyRepository(session).add(
        ApiKey(
            name=name,
            prefix=prefix,
            secret_hash=secret_hash,
            scopes=granted,
            created_by_id=creator.id,
            created_at=now,
            expires_at=expires_at,
            last_used_at=None,
            revoked_at=None,
        )
    )
    await events.record(
        session,
        event_type=EventType.API_KEY_CREATED,
        at=now,
        client=client,
        actor_id=creator.id,
        api_key_id=key.id,
        details={"prefix": prefix, "scopes": granted},
    )
    return CreatedKey(key=key, full_key=full_key)


async def list_api_keys(
    *, session: AsyncSession, page: PageParams
) -> tuple[Sequence[ApiKey], str | None]:
    repository = ApiKeyRepository(session)
    return await repository.paginate(repository.listing(), page=page)


async def revoke_api_key(
    *,
    session: AsyncSession,
    container: Container,
    actor: AuthUser,
    key_id: uuid.UUID,
    client: ClientInfo,
) -> ApiKey:
    """Idempotent: revoking a revoked key changes nothing and records nothing."""
    key = await ApiKeyRepository(session).get_or_raise(key_id)
    if key.revoked_at is not None:
        return key
    now = container.clock.now()
    key.revoked_at = now
    await events.record(
        session,
        event_type=EventType.API_KEY_REVOKED,
        at=now,
        client=client,
        actor_id=actor.id,
        api_key_id=key.id,
        details={"prefix": key.prefix},
    )
    return key
