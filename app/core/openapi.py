"""The OpenAPI document as the contract: every error is declared as a problem document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_MEDIA_TYPE, FieldError, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
_DESCRIPTIONS = {
    "400": "Malformed request (e.g. body is not valid JSON)",
    "413": "Request body too large",
    "422": "Validation failed; `errors` names each invalid field",
    "500": "Unexpected error; the body carries only a request id",
}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}


def _declare(responses: dict[str, Any], status: str) -> None:
    entry = responses.setdefault(status, {"description": _DESCRIPTIONS.get(status, "Error")})
    entry["content"] = _problem_content()


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["Problem"].pop("$defs", None)
    components["FieldError"] = FieldError.model_json_schema()
    # FastAPI's own validation error shapes are never sent: our handler renders problems.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)

    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status in list(responses):
                if status.startswith(("4", "5")) and status != "503":
                    _declare(responses, status)
            if operation.get("parameters") or operation.get("requestBody"):
                _declare(responses, "422")
            if operation.get("requestBody"):
                _declare(responses, "400")
                _declare(responses, "413")
            _declare(responses, "500")
    return schema
