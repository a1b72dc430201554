"""Capability routers refuse paths outside their heads before matching any route, and that
changes nothing a client can see: what matched before matches now, 404 and 405 included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.routing import Match

from app.api.router import API_PREFIX, CAPABILITY_ROUTERS
from app.core.config import Settings
from app.core.routing import CapabilityRouter, route_heads
from app.main import create_app


def _scope(path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "path": path, "method": method, "root_path": "", **extra}


def test_every_capability_router_prunes_by_the_heads_of_its_paths(settings: Settings) -> None:
    create_app(settings, configure_logs=False)  # mounting tells each router its heads
    for router in CAPABILITY_ROUTERS:
        heads = route_heads(router.routes, prefix=API_PREFIX)
        # A router that cannot be pruned (a route with a parameter for its first segment,
        # or a nested router) would be scanned on every request: keep them flat and literal.
        assert heads, f"{router.prefix or router.tags}: some path has no literal head"
        assert router._heads == heads


def test_heads_are_first_segments_and_a_parameter_head_disables_pruning() -> None:
    router = CapabilityRouter(prefix="/invoices")

    @router.get("/{invoice_id}/pdf")
    async def pdf() -> None: ...

    @router.get("/export.csv")
    async def export() -> None: ...

    assert route_heads(router.routes, prefix="/api/v1") == {"/api/v1/invoices"}

    loose = CapabilityRouter()

    @loose.get("/{anything}")
    async def anything() -> None: ...

    assert route_heads(loose.routes, prefix="/api/v1") is None


class _Recording(APIRouter):
    """Sits between `CapabilityRouter` and FastAPI's `APIRouter` in the MRO below, and notes
    every path FastAPI's own matching is asked about."""

    looked: list[str]

    def matches(self, scope: Any) -> tuple[Match, Any]:
        self.looked.append(scope["path"])
        return super().matches(scope)


class _Pruned(CapabilityRouter, _Recording):
    pass


def test_a_foreign_path_is_refused_without_looking_at_a_route() -> None:
    router = _Pruned(prefix="/invoices")
    router.looked = []

    @router.get("")
    async def listing() -> None: ...

    router.mount_under("/api/v1")
    FastAPI().include_router(router, prefix="/api/v1")

    assert router.matches(_scope("/api/v1/orders"))[0] == Match.NONE
    assert router.matches(_scope("/api/v1/invoicesx"))[0] == Match.NONE
    assert router.matches(_scope("/api/v1"))[0] == Match.NONE
    assert router.looked == []  # refused by the head check: FastAPI's matching never ran
    router.matches(_scope("/api/v1/invoices"))
    router.matches(_scope("/api/v1/invoices/x/pdf"))
    # Its own head goes on to FastAPI, and so does anything behind a root path.
    router.matches(_scope("/api/v1/orders", root_path="/proxy"))
    assert router.looked == ["/api/v1/invoices", "/api/v1/invoices/x/pdf", "/api/v1/orders"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/products", 200),  # a later router's route still matches
        ("GET", "/api/v1/invoices", 401),  # matched, then refused for want of credentials
        ("DELETE", "/api/v1/products", 405),  # the path matches, the method does not
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/api/v1", 404),
    ],
)
async def test_routing_answers_as_before(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status, response.text
