"""The one place where a registration is screened before the account exists (P9, P11).

Screens are registered by other capabilities (the fraud check registers one) as factories of a
request's session and the container; `CustomerService.register` asks each screen for a verdict
before anything is written, refuses the registration when one says so, and lets every screen
keep its record once the account and customer exist. A refused attempt is kept by the screen in
its own transaction (the request's transaction rolls back with the refusal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.client import ClientInfo
from app.core.errors import Forbidden
from app.models.customer import Customer
from app.models.user import User

if TYPE_CHECKING:
    from app.core.container import Container


class RegistrationRefused(Forbidden):
    code = "registration_refused"
    title = "This registration cannot be accepted"


@dataclass(frozen=True)
class RegistrationAttempt:
    email: str
    phone: str | None
    country: str | None
    client: ClientInfo


class ScreenVerdict(Protocol):
    @property
    def refused(self) -> bool: ...


class RegistrationScreen(Protocol):
    async def assess(self, attempt: RegistrationAttempt) -> ScreenVerdict: ...

    async def keep_refused(self, verdict: ScreenVerdict) -> None: ...

    async def keep(self, verdict: ScreenVerdict, *, user: User, customer: Customer) -> None: ...


ScreenFactory = Callable[[AsyncSession, "Container"], RegistrationScreen]

REGISTRATION_SCREENS: list[ScreenFactory] = []


def register_registration_screen(factory: ScreenFactory) -> ScreenFactory:
    if factory not in REGISTRATION_SCREENS:
        REGISTRATION_SCREENS.append(factory)
    return factory
