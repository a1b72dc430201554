"""X-Request-ID and structured logs (foundation, item 6)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from app.core.logging import JsonFormatter


async def test_request_id_is_generated_and_echoed(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")
    assert len(first.headers["x-request-id"]) >= 16
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "lb-1234.abcd"})
    assert response.headers["x-request-id"] == "lb-1234.abcd"


@pytest.mark.parametrize("bad", ["a" * 200, "has space", "<script>"])
async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad


async def test_error_bodies_carry_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers={"X-Request-ID": "trace-42"})
    assert response.json()["request_id"] == "trace-42"


async def test_access_log_is_json_with_request_id_route_and_no_query(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """P15/privacy: the log names the route template, never the query string or client."""
    caplog.set_level(logging.INFO, logger="hostledger.access")
    await client.get("/health?email=jane@example.com", headers={"X-Request-ID": "req-7"})
    records = [r for r in caplog.records if r.name == "hostledger.access"]
    assert records, "no access log line"
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["route"] == "/health"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert "duration_ms" in line
    assert "jane@example.com" not in json.dumps(line)
    assert "127.0.0.1" not in json.dumps(line)


def test_json_formatter_includes_bound_request_id() -> None:
    from app.core.request_context import bind_request_id, reset_request_id

    token = bind_request_id("bound-1")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        line = json.loads(JsonFormatter().format(record))
    finally:
        reset_request_id(token)
    assert line["msg"] == "hello world"
    assert line["request_id"] == "bound-1"
    assert line["level"] == "info"
