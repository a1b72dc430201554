"""An ASGI wrapper used by every test client: any response that sets a cookie the registry
does not declare is recorded, and the test fails at teardown (P16, P17)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

from app.core.cookies import REGISTERED_NAMES


def cookie_names(header_value: str) -> list[str]:
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(header_value)
    names = list(parsed.keys())
    if not names:  # unparseable: take the name before '='
        names = [header_value.split("=", 1)[0].strip()]
    return names


class CookieGuard:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.violations: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", []):
                    if key.lower() == b"set-cookie":
                        for name in cookie_names(value.decode("latin-1")):
                            if name not in REGISTERED_NAMES:
                                self.violations.append(f"{scope['method']} {scope['path']}: {name}")
            await send(message)

        await self.app(scope, receive, guarded_send)
