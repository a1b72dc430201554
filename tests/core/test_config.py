"""Settings: prefix, nested groups, environment rules and secrets (foundation, item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import (
    DEFAULT_SQLITE_URL,
    Environment,
    SettingsError,
    generate_secrets,
    load_settings,
    setting_env_names,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in setting_env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_defaults_are_development_on_sqlite_under_var(tmp_path: Path) -> None:
    settings = load_settings(var_dir=tmp_path / "var")
    assert settings.env is Environment.DEVELOPMENT
    assert settings.database.url == DEFAULT_SQLITE_URL
    assert "./var/" in settings.database.url
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.session.idle_timeout == 900
    assert settings.session.absolute_timeout == 43200


def test_flat_prefixed_variables_fill_nested_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTLEDGER_ENV", "test")
    monkeypatch.setenv("HOSTLEDGER_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("HOSTLEDGER_SESSION_IDLE_TIMEOUT", "120")
    monkeypatch.setenv("HOSTLEDGER_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("HOSTLEDGER_CORS_ORIGINS", "https://app.example, https://b.example")
    settings = load_settings()
    assert settings.database.url == "postgresql+psycopg://u@h/db"
    assert settings.session.idle_timeout == 120
    assert settings.max_body_bytes == 4096
    assert settings.cors_origins == ["https://app.example", "https://b.example"]


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HOSTLEDGER_ENV=test\nHOSTLEDGER_SESSION_IDLE_TIMEOUT=300\n")
    settings = load_settings()
    assert settings.env is Environment.TEST
    assert settings.session.idle_timeout == 300


def test_development_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    first = load_settings(var_dir=var_dir)
    second = load_settings(var_dir=var_dir)
    assert (var_dir / "secrets.json").exists()
    assert oct((var_dir / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert first.secrets.secret_key == second.secrets.secret_key
    assert first.secrets.data_keys == second.secrets.data_keys


def test_production_refuses_to_start_without_secrets() -> None:
    with pytest.raises(SettingsError, match="HOSTLEDGER_SECRET_KEY"):
        load_settings(env=Environment.PRODUCTION, database={"url": "postgresql://u@h/db"})


def test_production_refuses_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in generate_secrets().items():
        monkeypatch.setenv(f"HOSTLEDGER_{name.upper()}", value)
    with pytest.raises(SettingsError, match="SQLite"):
        load_settings(env=Environment.PRODUCTION)


def test_production_starts_with_explicit_secrets_and_postgres(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in generate_secrets().items():
        monkeypatch.setenv(f"HOSTLEDGER_{name.upper()}", value)
    monkeypatch.setenv("HOSTLEDGER_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = load_settings(env=Environment.PRODUCTION)
    assert settings.is_production


@pytest.mark.parametrize(
    "value",
    ["k1", "k1:short", "bad kid:" + "A" * 43, ""],
)
def test_malformed_data_keys_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HOSTLEDGER_DATA_KEYS", value)
    with pytest.raises(SettingsError):
        load_settings(env=Environment.TEST)


def test_test_environment_gets_fresh_secrets_without_files(tmp_path: Path) -> None:
    settings = load_settings(env=Environment.TEST, var_dir=tmp_path / "var")
    assert not (tmp_path / "var").exists()
    assert len(settings.secrets.secret_key) == 32
