"""Security in the contract: the schemes, and which operations need which scopes.

The principal dependency parses credentials itself, so FastAPI's security classes are not in
the request path (each would be one more dependency to solve on every request); this module
declares the same thing in the OpenAPI document instead, from the dependency graph.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api.routes import api_routes, dependants
from app.auth.dependencies import current_principal, principal_before_mfa
from app.auth.permissions import SCOPES
from app.core.cookies import SESSION_COOKIE

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "OAuth2": {
        "type": "oauth2",
        "description": "Access token from the password grant (curl, Postman, Swagger UI).",
        "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": dict(SCOPES)}},
    },
    "SessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE.name,
        "description": "Browser session; writes also need the X-CSRF-Token header.",
    },
    "ApiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "hlk_…",
        "description": "Integration API key",
    },
}
_PRINCIPALS = {current_principal, principal_before_mfa}


def required_scopes(app: FastAPI, operation_id: Any) -> dict[str, list[str]]:
    """Operation id → the scopes its principal dependency asks for (absent: public)."""
    found: dict[str, list[str]] = {}
    for route in api_routes(app.routes):
        for dependant in dependants(route.dependant):
            if dependant.call in _PRINCIPALS:
                scopes = list(getattr(dependant, "own_oauth_scopes", None) or [])
                found.setdefault(operation_id(route), []).extend(scopes)
    return {key: sorted(set(value)) for key, value in found.items()}


def declare_security(app: FastAPI, schema: dict[str, Any], *, operation_id: Any) -> None:
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    needs = required_scopes(app, operation_id)
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            scopes = needs.get(operation.get("operationId"))
            if scopes is not None:
                operation["security"] = [
                    {"OAuth2": scopes},
                    {"SessionCookie": []},
                    {"ApiKey": []},
                ]
