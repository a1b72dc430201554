"""What the app is built from. Tests build one with their own clock, settings or database."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.clock import Clock, SystemClock
from app.core.config import Settings
from app.core.crypto import CryptoKit
from app.core.db import Database


@dataclass
class Container:
    settings: Settings
    database: Database
    crypto: CryptoKit
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> Container:
        return cls(
            settings=settings,
            database=Database.from_settings(settings.database),
            crypto=CryptoKit(settings.secrets),
            clock=clock or SystemClock(),
        )
