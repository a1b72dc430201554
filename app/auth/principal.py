"""The authenticated caller, whatever credential it came with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from app.auth.session_store import AuthSession, AuthUser


class AuthMethod(StrEnum):
    COOKIE = "cookie"
    BEARER = "bearer"
    API_KEY = "api_key"


@dataclass(frozen=True)
class Principal:
    """Snapshots of the user and session as the credential check saw them. Handlers that
    change the user load it in their own unit of work (`UserRepository.get_or_raise`)."""

    method: AuthMethod
    scopes: frozenset[str]
    user: AuthUser | None = None
    session: AuthSession | None = None
    api_key_id: uuid.UUID | None = None

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.user.id if self.user else None

    @property
    def is_staff(self) -> bool:
        return self.user is not None and self.user.is_staff

    def require_user(self) -> AuthUser:
        """For endpoints about 'my account': API keys act for no person."""
        from app.auth.errors import InsufficientScope

        if self.user is None:
            raise InsufficientScope("This endpoint needs a signed-in user, not an API key.")
        return self.user
