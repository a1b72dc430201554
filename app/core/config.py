"""Settings, read from `HOSTLEDGER_*` environment variables and an optional `.env` file.

Each group is its own `BaseSettings` with its own prefix, so the variable names stay flat and
readable (`HOSTLEDGER_DATABASE_URL`, `HOSTLEDGER_SESSION_IDLE_TIMEOUT`) while the code gets small
nested models instead of one giant class.
"""

from __future__ import annotations

import base64
import json
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "HOSTLEDGER_"
VAR_DIR = Path("var")
DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/hostledger.db"
DEVELOPMENT_SPA_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(RuntimeError):
    """The configuration cannot be used (raised at startup, never at request time)."""


def _group_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=f"{ENV_PREFIX}{prefix}",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class DatabaseSettings(BaseSettings):
    model_config = _group_config("DATABASE_")

    url: str = DEFAULT_SQLITE_URL
    # Per pool; each process has three (transactions, autocommit reads, the hot reader:
    # `app.core.db.connections_per_process`). Overflow connections are opened and closed per
    # use, which costs far more than waiting for a pooled one, so there is none by default.
    pool_size: int = Field(default=16, ge=1, le=200)
    max_overflow: int = Field(default=0, ge=0, le=200)
    pool_timeout: float = Field(default=10.0, gt=0)
    echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class SessionSettings(BaseSettings):
    model_config = _group_config("SESSION_")

    idle_timeout: int = Field(default=900, ge=30, description="seconds without a request")
    absolute_timeout: int = Field(default=43200, ge=60, description="seconds since login")
    touch_interval: int = Field(default=60, ge=0, description="minimum seconds between writes")


class PasswordSettings(BaseSettings):
    """argon2id cost; the default sits above the OWASP minimum (m=19 MiB, t=2, p=1)."""

    model_config = _group_config("PASSWORD_")

    memory_kib: int = Field(default=19456, ge=8)
    time_cost: int = Field(default=2, ge=1)
    parallelism: int = Field(default=1, ge=1)
    max_concurrent_hashes: int = Field(default=2, ge=1)
    # Credential checks (login, registration) in flight at once per process; the rest wait in
    # memory, holding no database connection, for at most `credential_wait_seconds`.
    max_concurrent_credential_checks: int = Field(default=4, ge=1)
    credential_wait_seconds: float = Field(default=10.0, gt=0)


class AuthSettings(BaseSettings):
    model_config = _group_config("AUTH_")

    jwt_issuer: str = "hostledger"
    jwt_audience: str = "hostledger-api"
    access_token_lifetime: int = Field(default=600, ge=30)
    force_staff_mfa: bool = False


def _check_rate_limit(value: str) -> str:
    """One limit in `limits` notation ("30/minute", "10/5minutes", "10 per 5 minutes")."""
    import re

    from limits import parse_many

    items = parse_many(value)  # raises ValueError on bad notation
    if len(items) != 1:
        raise ValueError("give exactly one rate limit, e.g. '30/minute'")
    if items[0].amount < 1 or re.search(r"(?:/|per)\s*0+\s*[a-z]", value, re.IGNORECASE):
        raise ValueError("a rate limit needs a count and a window of at least 1")
    return value


class RateLimitSettings(BaseSettings):
    """Throttles, in `limits` notation; a bad value fails at startup."""

    model_config = _group_config("RATE_LIMIT_")

    login_per_ip: str = "30/minute"
    login_per_account: str = "100/hour"
    register_per_ip: str = "10/hour"
    password_reset_per_ip: str = "20/hour"  # noqa: S105 - a rate, not a secret
    password_reset_per_account: str = "5/hour"  # noqa: S105
    mfa_per_account: str = "10/5minutes"
    token_per_ip: str = "30/minute"  # noqa: S105

    _check_limits = field_validator("*")(_check_rate_limit)


class BillingSettings(BaseSettings):
    """Money rules: credit, add-funds limits, idempotency, retention. Amounts in minor units."""

    model_config = _group_config("BILLING_")

    # Invoices and payments keep their billing snapshot this long after a customer's erasure.
    retention_years: int = Field(default=10, ge=1, le=100)
    # Available credit pays new invoices as they are issued.
    auto_apply_credit: bool = True
    add_funds_min: int = Field(default=500, ge=1)
    add_funds_max: int = Field(default=500_000, ge=1)
    # Idempotency keys (Stripe's semantics): kept this long; a request that died mid-flight
    # frees its key after the lock time.
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
    idempotency_lock_seconds: int = Field(default=60, ge=1)
    billing_run_batch_size: int = Field(default=500, ge=1, le=10_000)


class InvoiceSettings(BaseSettings):
    model_config = _group_config("INVOICE_")

    # The billing run invoices a service this many days before its next due date.
    days_before_due: int = Field(default=14, ge=0, le=365)
    net_terms_days: int = Field(default=7, ge=0, le=365)
    number_prefix: str = Field(default="INV", pattern=r"^[A-Z]{1,8}$")
    credit_note_prefix: str = Field(default="CN", pattern=r"^[A-Z]{1,8}$")


class SellerSettings(BaseSettings):
    """Who issues the invoices: printed on every PDF and used for the reverse-charge rule."""

    model_config = _group_config("SELLER_")

    name: str = "Hostledger Hosting GmbH"
    address_lines: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["Musterstrasse 1", "10115 Berlin"]
    )
    country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    vat_id: str = "DE123456788"
    email: str = "billing@hostledger.example"
    bank_name: str = "Example Bank"
    iban: str = "DE89370400440532013000"
    bic: str = "COBADEFFXXX"
    # Path to a TrueType font with the glyphs customers' names need (DejaVu Sans is found
    # automatically where the system has it); without one, PDFs fall back to Latin-1.
    pdf_font: str | None = None

    _split_lists = field_validator("address_lines", mode="before")(_split_csv)


class FraudSettings(BaseSettings):
    """Order validation (P3, P5, P9). Rule weights and parameters are tuned by staff through
    the API (`/fraud/rules`); what lives here is the frame they work in."""

    model_config = _group_config("FRAUD_")

    # Scores are 0..100: at or above `review_threshold` an order waits for an analyst, at or
    # above `reject_threshold` it is refused (order `fraud`, invoice voided).
    review_threshold: int = Field(default=50, ge=1, le=100)
    reject_threshold: int = Field(default=80, ge=1, le=100)
    # Orders whose first invoice is at least this much (minor units, any currency) get a
    # credit check even when the customer pays up front.
    credit_check_amount: int = Field(default=100_000, ge=0)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> FraudSettings:
        if self.review_threshold > self.reject_threshold:
            raise ValueError("review_threshold must not exceed reject_threshold")
        return self


class Settings(BaseSettings):
    """The whole configuration. Build it with `load_settings()`; inject it, never import it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_url: str | None = None
    public_app_url: str = "http://localhost:5173"  # the SPA; links in mail point at it
    secret_key: SecretStr | None = None
    data_keys: SecretStr | None = None
    blind_index_key: SecretStr | None = None
    # The privacy policy version a consent is given under (recorded with every consent).
    privacy_policy_version: str = Field(default="2026-11", min_length=1, max_length=32)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    password: PasswordSettings = Field(default_factory=PasswordSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    invoice: InvoiceSettings = Field(default_factory=InvoiceSettings)
    seller: SellerSettings = Field(default_factory=SellerSettings)
    fraud: FraudSettings = Field(default_factory=FraudSettings)
    # A MaxMind-format country database (GeoLite2/GeoIP2 Country .mmdb); without one the IP
    # lookup uses the dataset bundled with `geoip2fast`. Never a network call either way.
    geoip_database: Path | None = None

    _split_lists = field_validator("cors_origins", "trusted_proxies", mode="before")(_split_csv)

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def allowed_origins(self) -> list[str]:
        """Origins of the browser SPA (CORS with credentials, and the CSRF origin check).

        The one thing that relaxes in development: with no origins configured, a SPA dev
        server on localhost:5173 is allowed. Test and production allow only what is set.
        """
        if self.cors_origins or self.env is not Environment.DEVELOPMENT:
            return list(self.cors_origins)
        return list(DEVELOPMENT_SPA_ORIGINS)

    @cached_property
    def secrets(self) -> Secrets:
        if self.secret_key is None or self.data_keys is None or self.blind_index_key is None:
            raise SettingsError("secrets are not loaded; build settings with load_settings()")
        return Secrets(
            secret_key=_decode_key(self.secret_key.get_secret_value(), "SECRET_KEY"),
            data_keys=parse_data_keys(self.data_keys.get_secret_value()),
            blind_index_key=_decode_key(self.blind_index_key.get_secret_value(), "BLIND_INDEX_KEY"),
        )


class Secrets:
    """Decoded key material. `data_keys` is ordered: the first key encrypts, all decrypt."""

    def __init__(
        self, *, secret_key: bytes, data_keys: list[tuple[str, bytes]], blind_index_key: bytes
    ) -> None:
        self.secret_key = secret_key
        self.data_keys = data_keys
        self.blind_index_key = blind_index_key


SECRET_NAMES = ("secret_key", "data_keys", "blind_index_key")


def _decode_key(value: str, name: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError as exc:
        raise SettingsError(f"{ENV_PREFIX}{name} must be url-safe base64") from exc
    if len(raw) < 32:
        raise SettingsError(f"{ENV_PREFIX}{name} must decode to at least 32 bytes")
    return raw


def parse_data_keys(value: str) -> list[tuple[str, bytes]]:
    """Parse `kid:base64key,kid:base64key`; each key must be 32 bytes (AES-256)."""
    keys: list[tuple[str, bytes]] = []
    for item in _split_csv(value):
        kid, sep, encoded = item.partition(":")
        if not sep or not kid.isalnum() or len(kid) > 16:
            raise SettingsError(f"{ENV_PREFIX}DATA_KEYS entries look like 'k1:<base64 32 bytes>'")
        key = _decode_key(encoded, "DATA_KEYS")
        if len(key) != 32:
            raise SettingsError(f"{ENV_PREFIX}DATA_KEYS key '{kid}' must be exactly 32 bytes")
        keys.append((kid, key))
    if not keys:
        raise SettingsError(f"{ENV_PREFIX}DATA_KEYS is empty")
    return keys


def _new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def generate_secrets() -> dict[str, str]:
    return {
        "secret_key": _new_key(),
        "data_keys": f"k1:{_new_key()}",
        "blind_index_key": _new_key(),
    }


def _development_secrets(var_dir: Path) -> dict[str, str]:
    """Generate development secrets once and keep them, so restarts keep sessions valid."""
    path = var_dir / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    var_dir.mkdir(parents=True, exist_ok=True)
    generated = generate_secrets()
    path.write_text(json.dumps(generated, indent=2))
    path.chmod(0o600)
    return generated


def load_settings(*, var_dir: Path = VAR_DIR, **overrides: Any) -> Settings:
    """Read the environment, apply the rules of the chosen environment, fill missing secrets."""
    settings = Settings(**overrides)
    missing = [name for name in SECRET_NAMES if getattr(settings, name) is None]
    if settings.is_production:
        if missing:
            names = ", ".join(f"{ENV_PREFIX}{name.upper()}" for name in missing)
            raise SettingsError(f"production needs explicit secrets: {names}")
        if settings.database.is_sqlite:
            raise SettingsError("production refuses SQLite: set HOSTLEDGER_DATABASE_URL")
    elif missing:
        generated = (
            generate_secrets()
            if settings.env is Environment.TEST
            else _development_secrets(var_dir)
        )
        settings = settings.model_copy(
            update={name: SecretStr(generated[name]) for name in missing}
        )
    settings.secrets  # noqa: B018 - validate the key material at startup, not on first use
    return settings


def setting_env_names() -> set[str]:
    """Every environment variable name a setting is read from (for docs and compose checks)."""
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            prefix = str(annotation.model_config.get("env_prefix", ""))
            names.update(f"{prefix}{sub}".upper() for sub in annotation.model_fields)
        else:
            names.add(f"{ENV_PREFIX}{field_name}".upper())
    return names
