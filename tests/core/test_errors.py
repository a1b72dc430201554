"""Every failure is an RFC 9457 problem document with a stable code (foundation, item 5)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from app.core.errors import PROBLEM_MEDIA_TYPE, Conflict

PROBLEM_KEYS = {"type", "title", "status", "code"}


class ProbeAlreadyDone(Conflict):
    code = "probe_already_done"


class Address(BaseModel):
    country: str = Field(min_length=2, max_length=2)


class ProbeBody(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    quantity: int = Field(ge=1)
    address: Address


def _probe_router() -> APIRouter:
    router = APIRouter(prefix="/_probe", tags=["probe"])

    @router.post("/echo")
    async def echo(body: ProbeBody) -> dict[str, Any]:
        return body.model_dump()

    @router.post("/conflict")
    async def conflict() -> None:
        raise ProbeAlreadyDone("This probe already ran.")

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internal detail: password=hunter2")

    return router


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(_probe_router())
    return app


def assert_problem(response: httpx.Response, *, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    body = assert_problem(response, status=404, code="not_found")
    assert body["instance"] == "/api/v1/no-such-thing"


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert_problem(response, status=405, code="method_not_allowed")
    assert "GET" in response.headers["allow"]


async def test_malformed_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_probe/echo", content=b'{"name": "x",', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, status=400, code="malformed_json")
    assert body["errors"][0]["field"] == "body"


async def test_validation_errors_name_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_probe/echo",
        json={"name": "", "quantity": 0, "address": {"country": "Germany"}},
    )
    body = assert_problem(response, status=422, code="validation_failed")
    fields = {error["field"]: error["code"] for error in body["errors"]}
    assert fields == {
        "body.name": "string_too_short",
        "body.quantity": "greater_than_equal",
        "body.address.country": "string_too_long",
    }


async def test_validation_errors_do_not_echo_submitted_values(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_probe/echo",
        json={"name": "jane.doe@example.com-too-long", "quantity": 1, "address": {"country": "DE"}},
    )
    assert response.status_code == 422
    assert "jane.doe@example.com" not in response.text


async def test_domain_error_renders_its_status_and_code(client: httpx.AsyncClient) -> None:
    response = await client.post("/_probe/conflict")
    body = assert_problem(response, status=409, code="probe_already_done")
    assert body["detail"] == "This probe already ran."


async def test_body_over_the_limit_is_a_413_problem(
    client: httpx.AsyncClient, settings: Any
) -> None:
    oversized = b'{"name": "' + b"x" * settings.max_body_bytes + b'"}'
    response = await client.post(
        "/_probe/echo", content=oversized, headers={"content-type": "application/json"}
    )
    assert_problem(response, status=413, code="content_too_large")


async def test_streamed_body_over_the_limit_is_a_413_problem(
    client: httpx.AsyncClient, settings: Any
) -> None:
    """No Content-Length (chunked upload): the bytes are counted as they arrive."""
    chunk = b"x" * 65536

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(settings.max_body_bytes // len(chunk) + 2):
            yield chunk
        yield b'"}'

    response = await client.post(
        "/_probe/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, status=413, code="content_too_large")


async def test_crash_is_a_500_problem_with_request_id_and_no_internals(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/_probe/crash")
    body = assert_problem(response, status=500, code="internal_error")
    assert body["request_id"] == response.headers["x-request-id"]
    text = json.dumps(body)
    for leak in ("hunter2", "RuntimeError", "Traceback", "secret internal"):
        assert leak not in text
