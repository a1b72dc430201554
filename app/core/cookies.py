"""The cookie registry: the only way the service sets a cookie (P16, P17, P18, P22).

Every cookie is declared here with its purpose, category and lifetime. Values that carry data
are sealed with AES-GCM (authenticated encryption, not merely a signature); the rest are random
identifiers. `__Host-` names force Secure, Path=/ and no Domain in browsers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from app.core.crypto import DecryptionError, Keyring


class CookieCategory(StrEnum):
    NECESSARY = "necessary"
    FUNCTIONAL = "functional"
    TRACKING = "tracking"


@dataclass(frozen=True)
class CookieSpec:
    name: str
    purpose: str
    category: CookieCategory
    http_only: bool
    encrypted: bool
    lifetime: str
    same_site: Literal["lax", "strict", "none"] = "lax"


SESSION_COOKIE = CookieSpec(
    name="__Host-hl_session",
    purpose="Keeps you signed in (logon authentication and security timeout processing).",
    category=CookieCategory.NECESSARY,
    http_only=True,
    encrypted=True,
    lifetime="browser session; up to 12 hours with 'remember me'",
)
CSRF_COOKIE = CookieSpec(
    name="__Host-hl_csrf",
    purpose="Proves that changes you make come from our own pages (transaction security).",
    category=CookieCategory.NECESSARY,
    http_only=False,  # the SPA reads it and echoes it in the X-CSRF-Token header
    encrypted=False,  # a random MAC bound to the session; it carries no data
    lifetime="same as the session cookie",
)

CONSENT_COOKIE = CookieSpec(
    name="__Host-hl_consent",
    purpose=(
        "Remembers your cookie and marketing choices: a random visitor id and the choices, "
        "encrypted. Without it we ask again and assume no consent."
    ),
    category=CookieCategory.NECESSARY,
    http_only=True,
    encrypted=True,
    lifetime="12 months",
)
WELCOME_COOKIE = CookieSpec(
    name="__Host-hl_welcome",
    purpose=(
        "Optional: lets us greet you by name when you come back. It holds an encrypted random "
        "id, never your name; you can switch it off in the member area."
    ),
    category=CookieCategory.FUNCTIONAL,
    http_only=True,
    encrypted=True,
    lifetime="90 days",
)
CONSENT_COOKIE_MAX_AGE = 365 * 24 * 3600
WELCOME_COOKIE_MAX_AGE = 90 * 24 * 3600

REGISTRY: tuple[CookieSpec, ...] = (SESSION_COOKIE, CSRF_COOKIE, CONSENT_COOKIE, WELCOME_COOKIE)
REGISTERED_NAMES = frozenset(spec.name for spec in REGISTRY)


class CookieJar:
    """Sets, reads and clears registered cookies, sealing the ones declared encrypted."""

    def __init__(self, keyring: Keyring, *, secure: bool = True) -> None:
        self._keyring = keyring
        self._secure = secure

    def set(
        self, response: Response, spec: CookieSpec, value: str, *, max_age: int | None = None
    ) -> None:
        if spec not in REGISTRY:
            raise ValueError(f"cookie {spec.name} is not declared in the registry")
        stored = self._seal(spec, value) if spec.encrypted else value
        response.set_cookie(
            spec.name,
            stored,
            max_age=max_age,
            path="/",
            secure=self._secure,
            httponly=spec.http_only,
            samesite=spec.same_site,
        )

    def read(self, request: Request, spec: CookieSpec) -> str | None:
        raw = request.cookies.get(spec.name)
        if not raw:
            return None
        if not spec.encrypted:
            return raw
        try:
            return self._keyring.open(raw, aad=spec.name.encode()).decode()
        except (DecryptionError, UnicodeDecodeError):
            return None

    def clear(self, response: Response, spec: CookieSpec) -> None:
        response.delete_cookie(
            spec.name,
            path="/",
            secure=self._secure,
            httponly=spec.http_only,
            samesite=spec.same_site,
        )

    def _seal(self, spec: CookieSpec, value: str) -> str:
        return self._keyring.seal(value.encode(), aad=spec.name.encode())
