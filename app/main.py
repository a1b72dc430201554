"""The application factory: routers, middleware, error handlers, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from app import __doc__ as app_description
from app.api.router import include_api
from app.auth.openapi import declare_security
from app.core.clock import Clock
from app.core.config import Settings, load_settings
from app.core.container import Container
from app.core.crypto import install_field_keyring
from app.core.errors import install_error_handlers
from app.core.heap import freeze_long_lived_objects
from app.core.logging import configure_logging
from app.core.middleware import RequestContextMiddleware
from app.core.openapi import build_openapi
from app.fraud import hooks  # noqa: F401 - the fraud check on every order and registration
from app.health.router import router as health_router

API_VERSION = "0.1.0"
logger = logging.getLogger("hostledger")


def operation_id(route: APIRoute) -> str:
    """Stable `tag-name` operation ids, so generated clients keep their method names."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name}".replace("_", "-")


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    clock: Clock | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    if container is None:
        container = Container.from_settings(settings or load_settings(), clock=clock)
    settings = container.settings
    install_field_keyring(container.crypto.fields)
    if configure_logs:
        configure_logging(level=settings.log_level)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        logger.info("starting", extra={"fields": {"env": settings.env.value}})
        freeze_long_lived_objects()  # full GC passes skip the app itself (app.core.heap)
        yield
        # Graceful shutdown: uvicorn has drained in-flight requests; close pooled connections.
        await container.aclose()
        await container.database.dispose()
        logger.info("stopped")

    app = FastAPI(
        title="Hostledger API",
        version=API_VERSION,
        description=(app_description or "").strip(),
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url="/docs",
        redoc_url="/redoc",
    )
    app.state.container = container
    install_error_handlers(app)
    app.include_router(health_router)
    include_api(app)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_credentials=True,  # the SPA's cookie session
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "X-CSRF-Token", "X-Request-ID", "Idempotency-Key"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "Idempotent-Replayed",
                "Content-Disposition",
            ],
            max_age=600,
        )
    # Added last, so outermost: every response, CORS preflights included, carries a request id.
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_openapi(app)
            declare_security(app, schema, operation_id=operation_id)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
