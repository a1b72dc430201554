"""The committed contract equals the generated one (foundation, item 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml
from fastapi import FastAPI

from app.cli import render_openapi_yaml
from app.core.migrations import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "openapi.yaml"


def test_committed_openapi_matches_the_code() -> None:
    generated = render_openapi_yaml()
    committed = COMMITTED.read_text() if COMMITTED.exists() else ""
    assert committed == generated, (
        "openapi.yaml is out of date: run `make openapi` "
        "(or `hostledger openapi > openapi.yaml`) and commit the result"
    )


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_stable_tag_name_pairs(app: FastAPI) -> None:
    spec = app.openapi()
    ids = [op["operationId"] for _, _, op in _operations(spec)]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    for _, _, operation in _operations(spec):
        assert operation["tags"], operation["operationId"]
        assert operation["operationId"].startswith(f"{operation['tags'][0]}-")


def test_every_operation_declares_problem_errors(app: FastAPI) -> None:
    spec = app.openapi()
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        assert "500" in responses, f"{method} {path}"
        for status, response in responses.items():
            if status.startswith(("4", "5")) and status != "503":
                assert "application/problem+json" in response["content"], (
                    f"{method} {path} {status}"
                )
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_docs_and_schema_are_served(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]
    schema = await client.get("/openapi.json")
    assert schema.json()["info"]["title"] == "Hostledger API"


def test_committed_file_is_valid_yaml() -> None:
    assert isinstance(yaml.safe_load(Path(COMMITTED).read_text()), dict)
