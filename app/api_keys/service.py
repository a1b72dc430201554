"""API keys for integrations: `hlk_<prefix>_<secret>`, shown once, stored as a hash.

The prefix finds the row with one indexed lookup; the secret is compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.api_keys.repository import ApiKeyRepository
from app.auth.errors import InvalidToken
from app.auth.principal import AuthMethod, Principal
from app.core.client import ClientInfo
from app.core.container import Container
from app.core.security import token_digest
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
