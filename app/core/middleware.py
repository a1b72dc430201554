"""The outermost request middleware: request id, body size limit, crash safety, access log.

Written as plain ASGI (not `BaseHTTPMiddleware`) so it adds no task or copy per request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import internal_error_response, problem_response
from app.core.request_context import bind_request_id, reset_request_id

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_logger = logging.getLogger("hostledger.access")
error_logger = logging.getLogger("hostledger.errors")


class RequestBodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"The request body exceeds {limit} bytes.")


def _incoming_request_id(headers: Headers) -> str:
    candidate = headers.get(REQUEST_ID_HEADER)
    if candidate and _REQUEST_ID_PATTERN.match(candidate):
        return candidate
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = Headers(scope=scope)
        request_id = _incoming_request_id(headers)
        token = bind_request_id(request_id)
        started_at = time.perf_counter()
        status_holder = {"status": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                response = problem_response(
                    request=Request(scope),
                    status=413,
                    code="content_too_large",
                    detail=f"The request body exceeds {self.max_body_bytes} bytes.",
                )
                await response(scope, receive, send_with_id)
                return
            await self.app(scope, self._limited(receive), send_with_id)
        except Exception:
            error_logger.exception("unhandled error", extra={"fields": {"path": scope.get("path")}})
            if status_holder["status"] == 0:
                await internal_error_response(Request(scope))(scope, receive, send_with_id)
        finally:
            self._log_access(scope, status_holder["status"], started_at)
            reset_request_id(token)

    def _limited(self, receive: Receive) -> Receive:
        """Count streamed body bytes too: Content-Length can be absent (chunked uploads)."""
        received = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestBodyTooLarge(limit)
            return message

        return limited_receive

    @staticmethod
    def _log_access(scope: Scope, status: int, started_at: float) -> None:
        route = scope.get("route")
        # The route template (`/customers/{customer_id}`), not the concrete path, and never
        # the query string: the log carries no identifiers of people.
        path = getattr(route, "path", None) or "unmatched"
        access_logger.info(
            "request",
            extra={
                "fields": {
                    "method": scope.get("method"),
                    "route": path,
                    "status": status or 500,
                    "duration_ms": round((time.perf_counter() - started_at) * 1000, 2),
                }
            },
        )
