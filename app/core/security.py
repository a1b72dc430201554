"""Password hashing (argon2id via passlib's CryptContext) and random tokens.

Hashing is deliberately slow and memory-hard, so it runs in a worker thread, and a semaphore
bounds how many run at once: a login storm queues instead of exhausting memory, threads and the
database pool, and cheap authenticated reads keep being answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anyio.to_thread
from jose import JWTError, jwt
from passlib.context import CryptContext

from app.core.config import PasswordSettings
from app.core.errors import ServiceUnavailable


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


class ServiceBusy(ServiceUnavailable):
    """Too many credential checks queued; the caller should retry shortly."""

    code = "service_busy"

    def __init__(self) -> None:
        super().__init__(
            "Too many sign-ins are being processed; retry in a moment.",
            headers={"Retry-After": "1"},
        )


class ConcurrencyGate:
    """Admission control for expensive flows. Waiting happens here, before any database
    connection is taken, so a login storm queues in memory instead of draining the pool
    that every other request needs."""

    def __init__(self, *, slots: int, max_wait_seconds: float) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._max_wait = max_wait_seconds

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self._max_wait)
        except TimeoutError as exc:
            raise ServiceBusy from exc
        try:
            yield
        finally:
            self._slots.release()


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token (default 256 bits)."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """What we store instead of a bearer token: its SHA-256 (the token itself has full entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenError(Exception):
    """The access token is malformed, forged, expired or missing a required claim."""


JWT_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ("exp", "iat", "aud", "iss", "sub")


class AccessTokenCodec:
    """Short-lived JWT access tokens (python-jose), HS256 pinned, key id in the header.

    The signing keys are keyed by id so a new key can be introduced while tokens signed by the
    previous one (at most one access lifetime old) still verify.
    """

    def __init__(
        self,
        *,
        keys: dict[str, bytes],
        current_kid: str,
        issuer: str,
        audience: str,
        lifetime_seconds: int,
    ) -> None:
        self._keys = keys
        self._current_kid = current_kid
        self.issuer = issuer
        self.audience = audience
        self.lifetime_seconds = lifetime_seconds
        # Verifying a signature is a pure function of the token (about 0.1 ms with
        # python-jose), so a client reusing its token pays for it once; failures are never
        # cached, expiry and the session are checked on every request regardless.
        self._verified = functools.lru_cache(maxsize=4096)(self._verify)

    def encode(self, *, subject: str, session_id: str, now: datetime) -> tuple[str, int]:
        issued = int(now.timestamp())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "sid": session_id,
            "iat": issued,
            "exp": issued + self.lifetime_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        token = jwt.encode(
            claims,
            self._keys[self._current_kid],
            algorithm=JWT_ALGORITHM,
            headers={"kid": self._current_kid},
        )
        return str(token), self.lifetime_seconds

    def decode(self, token: str, *, now: datetime) -> dict[str, Any]:
        claims = self._verified(token)
        if not isinstance(claims["exp"], int) or claims["exp"] <= int(now.timestamp()):
            raise TokenError("token expired")
        return dict(claims)

    def _verify(self, token: str) -> dict[str, Any]:
        """Signature, algorithm, key and static claims: a pure function of the token."""
        try:
            header = jwt.get_unverified_header(token)
        except JWTError as exc:
            raise TokenError("malformed token") from exc
        # Never let the token choose how it is verified: the algorithm is pinned, the key is ours.
        if header.get("alg") != JWT_ALGORITHM:
            raise TokenError("unexpected algorithm")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise TokenError("unknown key id")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[JWT_ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # python-jose's require_exp would force its own wall-clock check; expiry is
                # checked in `decode` against the injected clock, on every call.
                options={
                    "verify_exp": False,
                    **{f"require_{claim}": True for claim in _REQUIRED_CLAIMS if claim != "exp"},
                },
            )
        except JWTError as exc:
            raise TokenError("invalid token") from exc
        for claim in (*_REQUIRED_CLAIMS, "sid"):
            if claim not in claims:
                raise TokenError(f"missing claim {claim}")
        return claims
