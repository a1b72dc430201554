"""Domain errors and their one rendering: RFC 9457 `application/problem+json`.

Services raise `DomainError` subclasses (a status and a stable machine `code`); they never see
HTTP. One set of handlers in `install_error_handlers` turns every failure — domain errors,
validation errors, unknown routes, oversized bodies, crashes — into the same document shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://errors.hostledger.dev/"

logger = logging.getLogger("hostledger.errors")


class FieldError(BaseModel):
    """One invalid input: where it is, what is wrong, and a stable code for it."""

    field: str = Field(description="dotted location, e.g. `body.address.country`")
    code: str = Field(description="stable machine code, e.g. `string_too_short`")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, plus a stable `code` and, for validation, `errors`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI identifying the problem type")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="the request path")
    code: str = Field(description="stable machine-readable error code")
    request_id: str | None = None
    errors: list[FieldError] | None = None


class DomainError(Exception):
    """Base of every error a service may raise. Subclasses set `status` and `code`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str | None] = None
    # Cookies the response deletes (e.g. an ended session's, so the browser forgets it).
    clear_cookies: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.default_title())
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @classmethod
    def default_title(cls) -> str:
        return cls.title or HTTPStatus(cls.status).phrase


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class InvalidInput(DomainError):
    """A rule about the input that the schema alone cannot express, naming the fields."""

    status = 422
    code = "validation_failed"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "The request has invalid fields.")
        self.errors = list(errors)


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, *, retry_after: int, detail: str | None = None) -> None:
        super().__init__(
            detail or "Too many attempts; try again later.",
            headers={"Retry-After": str(max(1, retry_after))},
        )


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"


# Codes for errors that are not raised by services but by the HTTP layer itself.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def problem_response(
    *,
    request: Request | None,
    status: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"{PROBLEM_TYPE_BASE}{code}",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        code=code,
        request_id=current_request_id(),
        errors=list(errors) if errors is not None else None,
        **dict(extra or {}),
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_path(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validation_field_errors(raw_errors: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    """Name each invalid field, without echoing the submitted value (it may be personal)."""
    return [
        FieldError(
            field=_field_path(error.get("loc", ())),
            code=str(error.get("type", "invalid")),
            message=str(error.get("msg", "Invalid value")),
        )
        for error in raw_errors
    ]


def domain_error_response(request: Request | None, exc: DomainError) -> JSONResponse:
    """The problem document for a domain error: the handler's rendering, also for the rare
    route that must answer an error without raising it (raising would roll back its work)."""
    response = problem_response(
        request=request,
        status=exc.status,
        code=exc.code,
        title=exc.default_title(),
        detail=exc.detail,
        errors=exc.errors if isinstance(exc, InvalidInput) else None,
        headers=exc.headers,
        extra=exc.extra,
    )
    for name in exc.clear_cookies:
        response.delete_cookie(name, path="/", secure=True, samesite="lax")
    return response


async def _domain_error_handler(request: Request, exc: DomainError) -> JSONResponse:
    return domain_error_response(request, exc)


async def _validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    raw = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in raw):
        return problem_response(
            request=request,
            status=400,
            code="malformed_json",
            detail="The request body is not valid JSON.",
            errors=[FieldError(field="body", code="json_invalid", message="JSON decode error")],
        )
    return problem_response(
        request=request,
        status=422,
        code="validation_failed",
        detail="The request has invalid fields.",
        errors=validation_field_errors(raw),
    )


async def _http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else None
    if status == 404 and detail == "Not Found":
        detail = "No such resource."
    return problem_response(
        request=request,
        status=status,
        code=_HTTP_CODES.get(status, f"http_{status}"),
        detail=detail,
        headers=exc.headers,
    )


def internal_error_response(request: Request | None) -> JSONResponse:
    return problem_response(
        request=request,
        status=500,
        code="internal_error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
    )


def install_error_handlers(app: FastAPI) -> None:
    # Starlette types handlers as taking `Exception`; each one here only receives its own class.
    app.add_exception_handler(DomainError, _domain_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)  # type: ignore[arg-type]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem documents for the given statuses."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
