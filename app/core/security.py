"""Password hashing (argon2id via passlib's CryptContext) and random tokens.

Hashing is deliberately slow and memory-hard, so it runs in a worker thread, and a semaphore
bounds how many run at once: a login storm queues instead of exhausting memory, threads and the
database pool, and cheap authenticated reads keep being answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets

import anyio.to_thread
from passlib.context import CryptContext

from app.core.config import PasswordSettings


def build_crypt_context(settings: PasswordSettings) -> CryptContext:
    return CryptContext(
        schemes=["argon2"],
        deprecated="auto",
        argon2__type="ID",
        argon2__memory_cost=settings.memory_kib,
        argon2__time_cost=settings.time_cost,
        argon2__parallelism=settings.parallelism,
    )


class PasswordHasher:
    def __init__(self, settings: PasswordSettings) -> None:
        self._context = build_crypt_context(settings)
        self._slots = asyncio.Semaphore(settings.max_concurrent_hashes)
        # Verified against when the account does not exist, so unknown emails cost the same.
        self._dummy_hash = self._context.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await anyio.to_thread.run_sync(self._context.hash, password)

    async def verify_and_update(
        self, password: str, stored_hash: str | None
    ) -> tuple[bool, str | None]:
        """(matches, new hash if the parameters rose). A missing hash still costs a hash."""
        async with self._slots:
            if stored_hash is None:
                await anyio.to_thread.run_sync(self._context.verify, password, self._dummy_hash)
                return False, None
            valid, new_hash = await anyio.to_thread.run_sync(
                self._context.verify_and_update, password, stored_hash
            )
            return bool(valid), new_hash

    def hash_sync(self, password: str) -> str:
        """For the CLI, which has no event loop to keep free."""
        return str(self._context.hash(password))


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token (default 256 bits)."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """What we store instead of a bearer token: its SHA-256 (the token itself has full entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()
