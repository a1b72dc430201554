"""Capability routers that say "not mine" in one set lookup.

FastAPI matches a request against the included routers in order, and each router against every
one of its routes (a regex each, with scope bookkeeping around it): a path served by the
twelfth router pays for all the routes of the eleven before it, on every request. Every route
of a capability starts with a literal segment (`/invoices`, `/auth`, `/me` …), so a router that
knows the heads of its routes can refuse any other path before looking at a single route.
Refusing only what no route of the router could match keeps the matching, and so the 404s,
405s and the OpenAPI document, exactly as they were.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from starlette.routing import BaseRoute, Match
from starlette.types import Scope


def _head(path: str) -> str | None:
    """The first segment of a route's path ("/invoices/{id}" → "invoices"), or None if it is
    a path parameter (that route could match any head)."""
    segment = path.split("/", 2)[1] if path.startswith("/") else ""
    return None if not segment or "{" in segment else segment


def route_heads(routes: Iterable[BaseRoute], *, prefix: str) -> frozenset[str] | None:
    """`prefix` + "/" + the head of each route; None when some route cannot be pruned by it
    (no literal head, or not a plain route, such as a nested included router)."""
    heads: set[str] = set()
    for route in routes:
        path = getattr(route, "path", None)
        head = _head(path) if isinstance(path, str) else None
        if head is None:
            return None
        heads.add(f"{prefix}/{head}")
    return frozenset(heads)


class CapabilityRouter(APIRouter):
    """An `APIRouter` that, once `mount_under(prefix)` is called, answers `Match.NONE` at once
    for a request whose first segment under `prefix` heads none of its routes."""

    _heads: frozenset[str] | None = None
    _head_start = 0

    def mount_under(self, prefix: str) -> None:
        """Call when including this router under `prefix`, after its routes are declared."""
        self._heads = route_heads(self.routes, prefix=prefix)
        self._head_start = len(prefix) + 1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        heads = self._heads
        # Behind a root path the route path is computed by Starlette: leave those to it.
        if heads is not None and scope.get("type") == "http" and not scope.get("root_path"):
            path: str = scope["path"]
            end = path.find("/", self._head_start)
            if (path if end < 0 else path[:end]) not in heads:
                return Match.NONE, {}
        return super().matches(scope)
