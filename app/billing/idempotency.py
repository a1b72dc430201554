"""Idempotency-Key for requests that move money (Stripe's semantics).

A client sends `Idempotency-Key: <1..255 printable ASCII>` with a POST. Keys are scoped to the
caller (`user:<id>` or `api_key:<id>`) and kept `billing.idempotency_ttl_seconds`:

- the first request claims the key: an in-progress record, inserted and committed in its own
  short transaction so every concurrent request sees it (the unique (scope, key) constraint
  decides a tie);
- the operation then runs in the request's transaction, and the response is stored on the
  record in that same transaction: the money movement and the stored response commit
  together or not at all;
- a retry with the same body gets the stored status and body again, byte for byte, with
  `Idempotent-Replayed: true`, and the operation does not run again;
- the same key with another request is 422 `idempotency_key_reused`; while the first request
  still runs (its lock is live) a retry is 409 `idempotency_request_in_progress`; a claim whose
  lock passed (its request died) is taken over by the next request with the same body;
- when the operation fails (a `DomainError` the client may fix, or anything else), the claim
  is deleted so a corrected retry can run, and the error goes on as it would have;
- expired records count as absent; `prune_expired` deletes them (a scheduled job calls it).

A router uses it in two lines:

    async def record_payment(principal: Writer, body: PaymentIn, idem: IdempotencyDep,
                             payments: PaymentServiceDep) -> Response:
        return await idem.respond(principal=principal,
                                  operation=lambda: payments.record(principal, body))

with `response_model=PaymentOut` and `responses=problem_responses(400, 409, 422)` on the route.
The request's session must not have written anything before `respond` is called (on SQLite a
pending write would hold the database lock the claim needs).

`OptionalIdempotencyDep` is the same for operations where the key is the client's choice
(adding funds by hand, credit notes): with a key, the semantics above; without one, the
operation simply runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import anyio
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import ContainerDep, SessionDep
from app.auth.principal import Principal
from app.billing.idempotency_repository import IdempotencyRepository
from app.core.container import Container
from app.core.errors import Conflict, DomainError
from app.models.payment import IdempotencyRecord, IdempotencyStatus

logger = logging.getLogger("hostledger.billing.idempotency")

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII, no control characters
# A claim that loses an insert race or a takeover race looks again; a few rounds settle it.
_CLAIM_ROUNDS = 3

Operation = Callable[[], Awaitable[tuple[int, BaseModel]]]

KEY_DESCRIPTION = (
    "Required. A unique key you choose for this operation (1-255 printable ASCII characters, "
    "e.g. a UUID), scoped to your account or API key and kept for 24 hours. Retrying with the "
    "same key and the same request returns the first response again (with "
    "`Idempotent-Replayed: true`) instead of repeating the operation. Missing: 400 "
    "`idempotency_key_required`; malformed: 400 `idempotency_key_invalid`; reused with a "
    "different request: 422 `idempotency_key_reused`; sent while the first request is still "
    "running: 409 `idempotency_request_in_progress`."
)
OPTIONAL_KEY_DESCRIPTION = (
    "Optional. Send a unique key you choose (1-255 printable ASCII characters, e.g. a UUID) to "
    "make a retry safe: the same key and the same request within 24 hours return the first "
    "response again (with `Idempotent-Replayed: true`) instead of repeating the operation. "
    "Malformed: 400 `idempotency_key_invalid`; reused with a different request: 422 "
    "`idempotency_key_reused`; sent while the first request is still running: 409 "
    "`idempotency_request_in_progress`. Without a key every request runs."
)


# --------------------------------------------------------------------------- errors


class IdempotencyKeyRequired(DomainError):
    status = 400
    code = "idempotency_key_required"
    title = "This request needs an Idempotency-Key header"


class IdempotencyKeyInvalid(DomainError):
    status = 400
    code = "idempotency_key_invalid"
    title = "The Idempotency-Key must be 1 to 255 printable ASCII characters"


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was already used for a different request"


class IdempotencyRequestInProgress(Conflict):
    code = "idempotency_request_in_progress"
    title = "A request with this Idempotency-Key is still being processed"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail or "Retry shortly: the first request with this key has not finished yet.",
            headers={"Retry-After": "1"},
        )


# --------------------------------------------------------------------------- request identity


def validated_key(raw: str | None) -> str:
    """The key as sent, or 400: missing, empty, too long, or not printable ASCII."""
    if raw is None:
        raise IdempotencyKeyRequired()
    if _KEY_PATTERN.fullmatch(raw) is None:
        raise IdempotencyKeyInvalid()
    return raw


def _canonical_body(body: bytes) -> bytes:
    """JSON re-dumped with sorted keys (so whitespace and key order do not matter); anything
    that is not JSON as its raw bytes. The tag keeps the two kinds apart."""
    try:
        parsed = json.loads(body)
        canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8, or absurdly deep)
        return b"raw:" + body
    return b"json:" + canonical.encode("ascii")


def request_fingerprint(*, method: str, path: str, body: bytes, query: str = "") -> str:
    """sha256 over the method, the path (with the query string, its parameters sorted, when
    there is one) and the canonical body: what makes two requests "the same request"."""
    target = path
    if query:
        target += "?" + urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    digest = hashlib.sha256()
    digest.update(method.upper().encode("utf-8") + b"\n")
    digest.update(target.encode("utf-8") + b"\n")
    digest.update(_canonical_body(body))
    return digest.hexdigest()


def scope_for(principal: Principal) -> str:
    """Keys belong to their caller: an API key has its own namespace, a person theirs."""
    if principal.api_key_id is not None:
        return f"api_key:{principal.api_key_id}"
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    raise ValueError("a principal is either an API key or a user")


def _render(content: Any) -> str:
    """The JSON text of a response, rendered as Starlette's JSONResponse renders it."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# --------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class IdempotentResult:
    """A response to send: the operation's, or the stored one replayed."""

    status_code: int
    content: str  # the JSON document, identical on every replay
    replayed: bool

    def json(self) -> Any:
        return json.loads(self.content)

    def response(self) -> Response:
        headers = {REPLAYED_HEADER: "true"} if self.replayed else {}
        return Response(
            content=self.content,
            status_code=self.status_code,
            media_type="application/json",
            headers=headers,
        )


@dataclass(frozen=True)
class _Claim:
    record_id: uuid.UUID


class IdempotencyService:
    """Runs an operation at most once per (scope, key); see the module docstring."""

    def __init__(self, *, session: AsyncSession, container: Container) -> None:
        self.session = session  # the request's: the operation and the stored response
        self.container = container
        self.clock = container.clock
        self.ttl = timedelta(seconds=container.settings.billing.idempotency_ttl_seconds)
        self.lock = timedelta(seconds=container.settings.billing.idempotency_lock_seconds)

    async def run(
        self, *, scope: str, key: str | None, fingerprint: str, operation: Operation
    ) -> IdempotentResult:
        """Run `operation` at most once for `key` (see the module docstring); a missing key
        is 400 `idempotency_key_required`."""
        key = validated_key(key)
        claimed = await self._claim(scope=scope, key=key, fingerprint=fingerprint)
        if isinstance(claimed, IdempotentResult):
            return claimed
        try:
            status_code, model = await operation()
            content = _render(model.model_dump(mode="json", by_alias=True))
            # Surface the operation's constraint errors now, while the claim can still be
            # released, rather than at the commit after we return.
            await self.session.flush()
            stored = await IdempotencyRepository(self.session).complete(
                record_id=claimed.record_id, response_status=status_code, response_body=content
            )
            if not stored:
                # Our lock ran out and another request took the key over: it runs the
                # operation; ours must not commit.
                raise IdempotencyRequestInProgress(
                    "This request took too long and another request with the same key took "
                    "it over; retry to get its result."
                )
        except BaseException:
            await self._abandon(claimed)
            raise
        return IdempotentResult(status_code=status_code, content=content, replayed=False)

    async def _claim(self, *, scope: str, key: str, fingerprint: str) -> _Claim | IdempotentResult:
        for _ in range(_CLAIM_ROUNDS):
            try:
                async with self.container.database.unit_of_work() as session:
                    outcome = await self._try_claim(
                        IdempotencyRepository(session),
                        scope=scope,
                        key=key,
                        fingerprint=fingerprint,
                    )
            except IntegrityError:
                continue  # a concurrent request inserted the same key first: look again
            if outcome is not None:
                return outcome
        raise IdempotencyRequestInProgress()

    async def _try_claim(
        self, repository: IdempotencyRepository, *, scope: str, key: str, fingerprint: str
    ) -> _Claim | IdempotentResult | None:
        """One round in one short transaction: None means "changed under us, look again"."""
        now = self.clock.now()
        record = await repository.find(scope=scope, key=key)
        if record is not None:
            decision = self._decide(record, fingerprint=fingerprint, now=now)
            if decision is not None:
                return decision
            # Expired, or a dead request's claim: replace it, unless someone else just did.
            if not await repository.delete_if_replaceable(record_id=record.id, now=now):
                return None
            if record.expires_at > now:
                logger.warning("idempotency claim %s taken over after its lock ran out", record.id)
        created = await repository.insert_claim(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            now=now,
            locked_until=now + self.lock,
            expires_at=now + self.ttl,
        )
        return _Claim(record_id=created.id)

    @staticmethod
    def _decide(
        record: IdempotencyRecord, *, fingerprint: str, now: datetime
    ) -> IdempotentResult | None:
        """Replay, or refuse, or None when the record may be replaced."""
        if record.expires_at <= now:
            return None
        if record.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused("Use a new Idempotency-Key for a different request.")
        if record.status == IdempotencyStatus.COMPLETED.value:
            if record.response_status is None or record.response_body is None:
                raise IdempotencyRequestInProgress()  # cannot happen: completed sets both
            return IdempotentResult(
                status_code=record.response_status, content=record.response_body, replayed=True
            )
        if record.locked_until > now:
            raise IdempotencyRequestInProgress()
        return None

    async def _abandon(self, claim: _Claim) -> None:
        """Free the key after a failed operation. The request's transaction is rolled back
        first (it would be anyway, the error is re-raised): on SQLite its pending writes hold
        the database lock the release needs. Shielded so a cancelled request still releases;
        if the release fails, the claim's lock runs out instead."""
        with anyio.CancelScope(shield=True):
            try:
                await self.session.rollback()
                async with self.container.database.unit_of_work() as session:
                    await IdempotencyRepository(session).release(record_id=claim.record_id)
            except Exception:
                logger.exception("could not release idempotency claim %s", claim.record_id)


async def prune_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete the records whose time has passed; returns how many. For a scheduled job,
    inside its own unit of work."""
    return await IdempotencyRepository(session).delete_expired(now=now)


# --------------------------------------------------------------------------- the dependency


@dataclass(frozen=True)
class IdempotentRequest:
    """What `IdempotencyDep` gives a route: the validated key (None: the client sent none to
    an operation where it is optional), the request's fingerprint and the service bound to
    the request's session."""

    key: str | None
    fingerprint: str
    service: IdempotencyService

    @staticmethod
    def scope_for(principal: Principal) -> str:
        return scope_for(principal)

    async def run(self, *, principal: Principal, operation: Operation) -> IdempotentResult:
        if self.key is None:
            status_code, model = await operation()
            content = _render(model.model_dump(mode="json", by_alias=True))
            return IdempotentResult(status_code=status_code, content=content, replayed=False)
        return await self.service.run(
            scope=scope_for(principal),
            key=self.key,
            fingerprint=self.fingerprint,
            operation=operation,
        )

    async def respond(self, *, principal: Principal, operation: Operation) -> Response:
        """Run (or replay) and build the response: what a route returns."""
        return (await self.run(principal=principal, operation=operation)).response()


async def _idempotent_request(
    request: Request, session: AsyncSession, container: Container, *, key: str | None
) -> IdempotentRequest:
    body = await request.body()  # cached by Starlette: the body parameter reads it again
    fingerprint = request_fingerprint(
        method=request.method, path=request.url.path, query=request.url.query, body=body
    )
    return IdempotentRequest(
        key=key,
        fingerprint=fingerprint,
        service=IdempotencyService(session=session, container=container),
    )


async def idempotent_request(
    request: Request,
    session: SessionDep,
    container: ContainerDep,
    idempotency_key: Annotated[
        str | None, Header(alias=IDEMPOTENCY_HEADER, description=KEY_DESCRIPTION)
    ] = None,
) -> IdempotentRequest:
    # Optional to FastAPI so a missing key is our 400 problem, not a generic 422.
    key = validated_key(idempotency_key)
    return await _idempotent_request(request, session, container, key=key)


async def optionally_idempotent_request(
    request: Request,
    session: SessionDep,
    container: ContainerDep,
    idempotency_key: Annotated[
        str | None, Header(alias=IDEMPOTENCY_HEADER, description=OPTIONAL_KEY_DESCRIPTION)
    ] = None,
) -> IdempotentRequest:
    key = None if idempotency_key is None else validated_key(idempotency_key)
    return await _idempotent_request(request, session, container, key=key)


IdempotencyDep = Annotated[IdempotentRequest, Depends(idempotent_request)]
OptionalIdempotencyDep = Annotated[IdempotentRequest, Depends(optionally_idempotent_request)]

__all__ = [
    "IDEMPOTENCY_HEADER",
    "REPLAYED_HEADER",
    "IdempotencyDep",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyRequired",
    "IdempotencyKeyReused",
    "IdempotencyRequestInProgress",
    "IdempotencyService",
    "IdempotentRequest",
    "IdempotentResult",
    "OptionalIdempotencyDep",
    "idempotent_request",
    "optionally_idempotent_request",
    "prune_expired",
    "request_fingerprint",
    "scope_for",
]
