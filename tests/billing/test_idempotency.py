"""Idempotency-Key through the real stack: a test-only route mounted on the app, whose operation
writes an outbox row, so every test can count how often the operation really ran."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import ContainerDep, SessionDep
from app.auth.dependencies import PrincipalDep
from app.auth.principal import AuthMethod, Principal
from app.billing.idempotency import (
    IdempotencyDep,
    prune_expired,
    request_fingerprint,
    scope_for,
)
from app.core.clock import FrozenClock
from app.core.container import Container
from app.core.errors import DomainError, problem_responses
from app.models.payment import IdempotencyRecord, IdempotencyStatus
from app.models.security import OutboxMessage
from tests.auth.conftest import register, token_login
from tests.users.helpers import bearer

PATH = "/test-idempotent"
TEMPLATE = "test-idempotent"


class Payload(BaseModel):
    amount: int
    note: str | None = None
    fail: str | None = None  # "domain", "crash" or "steal"
    delay: float = 0.0


class Outcome(BaseModel):
    message_id: uuid.UUID
    amount: int
    runs: int  # the operation's rows so far, this one included


class Declined(DomainError):
    status = 422
    code = "test_declined"


async def _operation_rows(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == TEMPLATE)
    )
    return int(count or 0)


async def _steal_claim(container: Container, *, scope: str, key: str, fingerprint: str) -> None:
    """What a second request does when our lock has run out: replace our claim with its own."""
    now = container.clock.now()
    async with container.database.unit_of_work() as other:
        record = await other.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        assert record is not None
        await other.delete(record)
        await other.flush()
        other.add(
            IdempotencyRecord(
                scope=scope,
                key=key,
                request_fingerprint=fingerprint,
                status=IdempotencyStatus.IN_PROGRESS.value,
                created_at=now,
                locked_until=now + timedelta(seconds=60),
                expires_at=now + timedelta(days=1),
            )
        )


router = APIRouter()


@router.post(
    PATH,
    status_code=201,
    response_model=Outcome,
    responses=problem_responses(400, 409, 422),
    summary="Test only: write one row per operation run",
)
async def idempotent_endpoint(
    principal: PrincipalDep,
    payload: Payload,
    idem: IdempotencyDep,
    session: SessionDep,
    container: ContainerDep,
) -> Response:
    # The stored response must commit with the operation: one session for both.
    assert idem.service.session is session

    async def operation() -> tuple[int, BaseModel]:
        if payload.fail == "steal":
            await _steal_claim(
                container,
                scope=idem.scope_for(principal),
                key=idem.key,
                fingerprint=idem.fingerprint,
            )
        message = OutboxMessage(
            template=TEMPLATE,
            recipient="idempotency@example.com",
            payload=payload.model_dump_json(),
            created_at=container.clock.now(),
        )
        session.add(message)
        await session.flush()
        if payload.delay:
            await asyncio.sleep(payload.delay)
        if payload.fail == "domain":
            raise Declined("declined after writing")
        if payload.fail == "crash":
            raise RuntimeError("the operation crashed after writing")
        runs = await _operation_rows(session)
        return 201, Outcome(message_id=message.id, amount=payload.amount, runs=runs)

    return await idem.respond(principal=principal, operation=operation)


@pytest.fixture
def idem_app(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app


async def _caller(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    account = await register(client)
    tokens = await token_login(client, account)
    return f"user:{account.user_id}", bearer(tokens["access_token"])


async def _post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    key: str | bytes | None,
    body: dict[str, Any] | bytes,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request_headers = {name.encode(): value.encode() for name, value in headers.items()}
    request_headers[b"Content-Type"] = b"application/json"
    if key is not None:
        request_headers[b"Idempotency-Key"] = key if isinstance(key, bytes) else key.encode()
    return await client.post(PATH, content=content, headers=request_headers)


async def _rows(container: Container) -> int:
    async with container.database.unit_of_work() as fresh:
        return await _operation_rows(fresh)


async def _records(container: Container) -> list[IdempotencyRecord]:
    async with container.database.unit_of_work() as fresh:
        return list((await fresh.scalars(select(IdempotencyRecord))).all())


def _fingerprint(body: dict[str, Any]) -> str:
    return request_fingerprint(method="POST", path=PATH, body=json.dumps(body).encode())


async def _put_record(
    session: AsyncSession,
    clock: FrozenClock,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    status: IdempotencyStatus = IdempotencyStatus.IN_PROGRESS,
    locked_for: timedelta = timedelta(seconds=60),
    expires_in: timedelta = timedelta(days=1),
    response: tuple[int, str] | None = None,
) -> IdempotencyRecord:
    now = clock.now()
    record = IdempotencyRecord(
        scope=scope,
        key=key,
        request_fingerprint=fingerprint,
        status=status.value,
        response_status=response[0] if response else None,
        response_body=response[1] if response else None,
        created_at=now - timedelta(minutes=5),
        locked_until=now + locked_for,
        expires_at=now + expires_in,
    )
    session.add(record)
    await session.commit()
    return record


# --------------------------------------------------------------------------- replay


async def test_retry_replays_the_first_response_and_runs_once(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    scope, headers = await _caller(client)
    body = {"amount": 1500, "note": "first"}

    first = await _post(client, headers, key="pay-1", body=body)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert first.json()["runs"] == 1

    clock.advance(minutes=2)  # past the lock, within the 24 hours: still a replay
    # The same JSON, other whitespace and key order: the same request.
    again = await _post(
        client, headers, key="pay-1", body=b'{ "note" : "first",\n  "amount": 1500 }'
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert await _rows(container) == 1

    [record] = await _records(container)
    assert record.scope == scope
    assert record.key == "pay-1"
    assert record.status == IdempotencyStatus.COMPLETED.value
    assert record.response_status == 201
    assert json.loads(record.response_body or "") == first.json()
    assert record.expires_at == clock.now() - timedelta(minutes=2) + timedelta(days=1)


async def test_same_key_with_another_body_is_refused(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container
) -> None:
    _, headers = await _caller(client)
    assert (await _post(client, headers, key="k", body={"amount": 1})).status_code == 201

    other = await _post(client, headers, key="k", body={"amount": 2})
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _rows(container) == 1


async def test_different_callers_use_the_same_key_independently(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container
) -> None:
    scope_a, alice = await _caller(client)
    scope_b, bob = await _caller(client)
    body = {"amount": 700}

    first = await _post(client, alice, key="shared", body=body)
    second = await _post(client, bob, key="shared", body=body)

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert first.json()["message_id"] != second.json()["message_id"]
    assert await _rows(container) == 2
    assert {record.scope for record in await _records(container)} == {scope_a, scope_b}


# ------------------------------------------------------------------ in flight, dead, expired


async def test_retry_while_the_first_is_in_progress_is_409(
    idem_app: FastAPI,
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    clock: FrozenClock,
) -> None:
    scope, headers = await _caller(client)
    body = {"amount": 100}
    await _put_record(session, clock, scope=scope, key="busy", fingerprint=_fingerprint(body))

    response = await _post(client, headers, key="busy", body=body)

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_request_in_progress"
    assert response.headers["Retry-After"] == "1"
    assert await _rows(container) == 0
    [record] = await _records(container)
    assert record.status == IdempotencyStatus.IN_PROGRESS.value  # left to its owner


async def test_a_dead_requests_claim_is_taken_over(
    idem_app: FastAPI,
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    clock: FrozenClock,
) -> None:
    scope, headers = await _caller(client)
    body = {"amount": 250}
    stale = await _put_record(
        session,
        clock,
        scope=scope,
        key="orphan",
        fingerprint=_fingerprint(body),
        locked_for=timedelta(seconds=-1),
    )

    response = await _post(client, headers, key="orphan", body=body)

    assert response.status_code == 201, response.text
    assert "Idempotent-Replayed" not in response.headers
    assert await _rows(container) == 1
    [record] = await _records(container)
    assert record.id != stale.id
    assert record.status == IdempotencyStatus.COMPLETED.value
    assert record.locked_until == clock.now() + timedelta(
        seconds=container.settings.billing.idempotency_lock_seconds
    )


async def test_a_dead_requests_claim_is_not_taken_over_with_another_body(
    idem_app: FastAPI,
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    clock: FrozenClock,
) -> None:
    scope, headers = await _caller(client)
    await _put_record(
        session,
        clock,
        scope=scope,
        key="orphan",
        fingerprint=_fingerprint({"amount": 1}),
        locked_for=timedelta(seconds=-1),
    )

    response = await _post(client, headers, key="orphan", body={"amount": 2})

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert await _rows(container) == 0


async def test_an_expired_record_counts_as_absent(
    idem_app: FastAPI,
    client: httpx.AsyncClient,
    container: Container,
    session: AsyncSession,
    clock: FrozenClock,
) -> None:
    scope, headers = await _caller(client)
    old = await _put_record(
        session,
        clock,
        scope=scope,
        key="yesterday",
        fingerprint=_fingerprint({"amount": 1}),
        status=IdempotencyStatus.COMPLETED,
        locked_for=timedelta(hours=-23),
        expires_in=timedelta(seconds=-1),
        response=(201, '{"old":true}'),
    )

    response = await _post(client, headers, key="yesterday", body={"amount": 2})

    assert response.status_code == 201, response.text
    assert "Idempotent-Replayed" not in response.headers
    assert response.json()["amount"] == 2
    [record] = await _records(container)
    assert record.id != old.id
    assert record.request_fingerprint == _fingerprint({"amount": 2})


# --------------------------------------------------------------------------- the key itself


async def test_missing_key_is_400_and_nothing_runs(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container
) -> None:
    _, headers = await _caller(client)

    response = await _post(client, headers, key=None, body={"amount": 1})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_required"
    assert await _rows(container) == 0
    assert await _records(container) == []


@pytest.mark.parametrize(
    "key",
    [
        "",
        "k" * 256,
        b"cl\xc3\xa9",  # not ASCII
        "tab\tinside",  # a control character
    ],
)
async def test_malformed_key_is_400(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container, key: str | bytes
) -> None:
    _, headers = await _caller(client)

    response = await _post(client, headers, key=key, body={"amount": 1})

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert await _rows(container) == 0


async def test_longest_key_with_punctuation_is_accepted(
    idem_app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, headers = await _caller(client)
    key = ("order 42/pay:" + "x" * 255)[:255]

    response = await _post(client, headers, key=key, body={"amount": 1})

    assert response.status_code == 201, response.text


# --------------------------------------------------------------------------- failures


async def test_domain_error_releases_the_key_for_a_corrected_retry(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container
) -> None:
    _, headers = await _caller(client)

    failed = await _post(client, headers, key="fix-me", body={"amount": 5, "fail": "domain"})
    assert failed.status_code == 422
    assert failed.json()["code"] == "test_declined"
    assert await _rows(container) == 0  # the operation's write was rolled back
    assert await _records(container) == []  # and the key freed

    fixed = await _post(client, headers, key="fix-me", body={"amount": 5})
    assert fixed.status_code == 201, fixed.text
    assert "Idempotent-Replayed" not in fixed.headers
    assert fixed.json()["runs"] == 1


async def test_unexpected_error_releases_the_key(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container
) -> None:
    _, headers = await _caller(client)

    crashed = await _post(client, headers, key="boom", body={"amount": 5, "fail": "crash"})
    assert crashed.status_code == 500
    assert await _records(container) == []

    retried = await _post(client, headers, key="boom", body={"amount": 5})
    assert retried.status_code == 201
    assert await _rows(container) == 1


async def test_a_request_whose_claim_was_taken_over_commits_nothing(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container
) -> None:
    """Our lock ran out mid-flight and another request replaced the claim: storing our
    response fails, and the operation's write, in the same transaction, is rolled back."""
    _, headers = await _caller(client)
    body = {"amount": 9, "fail": "steal"}

    response = await _post(client, headers, key="slow", body=body)

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_request_in_progress"
    assert await _rows(container) == 0
    [record] = await _records(container)
    assert record.status == IdempotencyStatus.IN_PROGRESS.value  # the new owner's claim


# --------------------------------------------------------------------------- pieces


async def test_prune_expired_deletes_only_expired_records(
    container: Container, session: AsyncSession, clock: FrozenClock
) -> None:
    await _put_record(
        session, clock, scope="user:a", key="old", fingerprint="0" * 64, expires_in=timedelta(0)
    )
    await _put_record(session, clock, scope="user:a", key="live", fingerprint="0" * 64)

    async with container.database.unit_of_work() as job:
        deleted = await prune_expired(job, now=clock.now())

    assert deleted == 1
    assert [record.key for record in await _records(container)] == ["live"]


def test_fingerprint_ignores_json_formatting_but_not_content() -> None:
    compact = request_fingerprint(method="POST", path=PATH, body=b'{"a":1,"b":[1,2]}')
    spaced = request_fingerprint(method="POST", path=PATH, body=b'{ "b": [1, 2],\n "a": 1 }')
    assert compact == spaced
    assert compact != request_fingerprint(method="POST", path=PATH, body=b'{"a":1,"b":[2,1]}')
    assert compact != request_fingerprint(method="PUT", path=PATH, body=b'{"a":1,"b":[1,2]}')
    assert compact != request_fingerprint(method="POST", path="/other", body=b'{"a":1,"b":[1,2]}')
    # Not JSON: the raw bytes count, whitespace included.
    assert request_fingerprint(method="POST", path=PATH, body=b"a=1") != request_fingerprint(
        method="POST", path=PATH, body=b"a=1 "
    )
    # Query parameters are part of the request, in any order.
    assert request_fingerprint(
        method="POST", path=PATH, query="x=1&y=2", body=b""
    ) == request_fingerprint(method="POST", path=PATH, query="y=2&x=1", body=b"")
    assert request_fingerprint(method="POST", path=PATH, query="x=1", body=b"") != (
        request_fingerprint(method="POST", path=PATH, body=b"")
    )
    # Absurd nesting is hashed as bytes, never an error.
    assert len(request_fingerprint(method="POST", path=PATH, body=b"[" * 100_000)) == 64


def test_keys_are_scoped_to_the_api_key_or_the_user() -> None:
    key_id = uuid.uuid4()
    api_key = Principal(method=AuthMethod.API_KEY, scopes=frozenset(), api_key_id=key_id)
    assert scope_for(api_key) == f"api_key:{key_id}"


async def test_the_header_is_documented(idem_app: FastAPI) -> None:
    operation = idem_app.openapi()["paths"][PATH]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert "idempotency_key_required" in header["description"]


# --------------------------------------------------------------------------- real concurrency


@pytest.mark.postgres_only
@pytest.mark.parametrize("delay", [0.0, 0.3])
async def test_concurrent_retries_run_the_operation_once(
    idem_app: FastAPI, client: httpx.AsyncClient, container: Container, delay: float
) -> None:
    """Racing inserts of the claim (no delay) and retries during a slow operation."""
    _, headers = await _caller(client)
    body = {"amount": 4200, "delay": delay}

    responses = await asyncio.gather(
        *(_post(client, headers, key="race", body=body) for _ in range(10))
    )

    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    originals = [
        r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    ]
    assert len(originals) == 1
    if delay:
        assert statuses.count(409) >= 1  # they really overlapped
    for response in responses:
        if response.status_code == 201:
            assert response.content == originals[0].content
        else:
            assert response.json()["code"] == "idempotency_request_in_progress"
    assert await _rows(container) == 1

    # Once done, every retry is the replay.
    after = await _post(client, headers, key="race", body=body)
    assert after.headers["Idempotent-Replayed"] == "true"
    assert after.content == originals[0].content
