"""House rules every route obeys, checked over the whole app so new routes inherit them."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from app.api.routes import api_routes, dependants


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _is_async(call: Any) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    return inspect.iscoroutinefunction(type(call).__call__)


def test_every_dependency_is_async(app: FastAPI) -> None:
    """FastAPI runs plain `def` dependencies in a worker thread: a measurable cost per call."""
    offenders = set()
    routes = list(api_routes(app.routes))
    assert len(routes) > 20, "the walk must reach the included routers"
    for route in routes:
        for dependant in dependants(route.dependant):
            if dependant.call is not None and not _is_async(dependant.call):
                offenders.add(
                    f"{route.path}: {getattr(dependant.call, '__qualname__', dependant.call)}"
                )
    assert not offenders, sorted(offenders)


def test_every_api_operation_is_authenticated_or_explicitly_public(app: FastAPI) -> None:
    """Authenticated by default: a public operation says so with `security: []`."""
    spec = app.openapi()
    for path, item in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            assert "security" in operation, f"{method.upper()} {path} declares no security"
            if operation["security"]:
                schemes = {name for requirement in operation["security"] for name in requirement}
                assert {"OAuth2", "SessionCookie", "ApiKey"} <= schemes, f"{method} {path}"
