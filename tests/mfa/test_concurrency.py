"""Single use under concurrency: the compare-and-set on the time step, the recovery code and
the challenge lets exactly one of two simultaneous requests through (PostgreSQL pass)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.core.clock import FrozenClock
from app.core.container import Container
from tests.auth.conftest import Account
from tests.mfa.conftest import (
    complete_token,
    enrol,
    event_types,
    next_code,
    token_challenge,
)

pytestmark = pytest.mark.postgres_only


async def test_one_code_two_concurrent_sign_ins(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock, container: Container
) -> None:
    enrolled = await enrol(client, account, clock)
    first, second = await token_challenge(client, account), await token_challenge(client, account)
    code = next_code(enrolled.secret, clock)
    responses = await asyncio.gather(
        complete_token(client, first, code=code), complete_token(client, second, code=code)
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 400], [response.text for response in responses]
    loser = next(response for response in responses if response.status_code == 400)
    assert loser.json()["code"] == "mfa_code_replayed"
    assert "mfa_replay_rejected" in await event_types(container, account.user_id)


async def test_one_recovery_code_two_concurrent_sign_ins(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)
    first, second = await token_challenge(client, account), await token_challenge(client, account)
    recovery = enrolled.recovery_codes[0]
    responses = await asyncio.gather(
        complete_token(client, first, recovery_code=recovery),
        complete_token(client, second, recovery_code=recovery),
    )
    assert sorted(response.status_code for response in responses) == [200, 400]


async def test_one_challenge_two_concurrent_completions(
    client: httpx.AsyncClient, account: Account, clock: FrozenClock
) -> None:
    enrolled = await enrol(client, account, clock)
    challenge = await token_challenge(client, account)
    responses = await asyncio.gather(
        complete_token(client, challenge, recovery_code=enrolled.recovery_codes[0]),
        complete_token(client, challenge, recovery_code=enrolled.recovery_codes[1]),
    )
    assert sorted(response.status_code for response in responses) == [200, 401]
