"""What the app is built from. Tests build one with their own clock, settings or database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from app.auth.session_store import SessionStore
from app.core.clock import Clock, SystemClock
from app.core.config import Settings
from app.core.cookies import CookieJar
from app.core.crypto import CryptoKit, derive_key
from app.core.db import Database
from app.core.hot_reads import HotReader, build_hot_reader
from app.core.ratelimit import RateLimiter, build_rate_limiter
from app.core.security import AccessTokenCodec, ConcurrencyGate, PasswordHasher
from app.fraud.geo import CountryLookup, GeoIpLocator, build_locator
from app.notifications.mailer import DevelopmentMailer, Mailer


def build_token_codec(settings: Settings) -> AccessTokenCodec:
    key = derive_key(settings.secrets.secret_key, purpose="jwt-hs256")
    kid = hashlib.sha256(key).hexdigest()[:12]
    return AccessTokenCodec(
        keys={kid: key},
        current_kid=kid,
        issuer=settings.auth.jwt_issuer,
        audience=settings.auth.jwt_audience,
        # A token never outlives the idle timeout; the session check stops it earlier anyway.
        lifetime_seconds=min(settings.auth.access_token_lifetime, settings.session.idle_timeout),
    )


@dataclass
class Container:
    settings: Settings
    database: Database
    crypto: CryptoKit
    clock: Clock = field(default_factory=SystemClock)
    mailer: Mailer = field(default_factory=DevelopmentMailer)  # tests pass a MemoryMailer
    # IP-to-country: by default from settings (a MaxMind file, else the bundled dataset);
    # tests pass a `StaticLookup`.
    country_lookup: CountryLookup | None = None
    geo: GeoIpLocator = field(init=False)
    hasher: PasswordHasher = field(init=False)
    tokens: AccessTokenCodec = field(init=False)
    cookies: CookieJar = field(init=False)
    rate_limiter: RateLimiter = field(init=False)
    credential_gate: ConcurrencyGate = field(init=False)
    hot_reader: HotReader = field(init=False)
    session_store: SessionStore = field(init=False)

    def __post_init__(self) -> None:
        self.hasher = PasswordHasher(self.settings.password)
        self.credential_gate = ConcurrencyGate(
            slots=self.settings.password.max_concurrent_credential_checks,
            max_wait_seconds=self.settings.password.credential_wait_seconds,
        )
        self.tokens = build_token_codec(self.settings)
        self.cookies = CookieJar(self.crypto.cookies)
        self.geo = (
            GeoIpLocator(self.country_lookup)
            if self.country_lookup is not None
            else build_locator(self.settings.geoip_database)
        )
        # One small pool for every hot read (session lookups, listings), not one per reader.
        self.hot_reader = build_hot_reader(
            self.database,
            pool_size=self.settings.database.pool_size,
            timeout=self.settings.database.pool_timeout,
        )
        self.session_store = SessionStore(self.hot_reader)
        self.rate_limiter = build_rate_limiter(
            settings=self.settings, database=self.database, clock=self.clock
        )

    async def aclose(self) -> None:
        """Release what the container opened itself (the database is closed by its owner)."""
        await self.hot_reader.close()

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> Container:
        return cls(
            settings=settings,
            database=Database.from_settings(settings.database),
            crypto=CryptoKit(settings.secrets),
            clock=clock or SystemClock(),
        )
