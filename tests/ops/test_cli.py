"""The `hostledger` command (foundation, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import generate_secrets

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOSTLEDGER_ENV", "test")
    monkeypatch.setenv("HOSTLEDGER_DATABASE_URL", url)
    monkeypatch.setenv("HOSTLEDGER_PASSWORD_MEMORY_KIB", "64")
    monkeypatch.setenv("HOSTLEDGER_PASSWORD_TIME_COST", "1")
    # Each command is its own process start: pin the keys so the blind index stays the same.
    for name, value in generate_secrets().items():
        monkeypatch.setenv(f"HOSTLEDGER_{name.upper()}", value)
    return url


def test_commands_are_registered() -> None:
    names = set(get_command(cli).commands)  # type: ignore[attr-defined]
    assert {"serve", "migrate", "openapi", "create-admin"} <= names


def test_openapi_prints_yaml() -> None:
    result = runner.invoke(cli, ["openapi"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["info"]["title"] == "Hostledger API"


def test_migrate_then_create_admin(cli_env: str) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(
        cli,
        ["create-admin", "--email", "Root@Example.com", "--name", "Root"],
        env={"HOSTLEDGER_ADMIN_PASSWORD": "plum-vortex-quietly-41-harbour"},
    )
    assert result.exit_code == 0, result.output
    assert "administrator created" in result.output
    again = runner.invoke(
        cli,
        ["create-admin", "--email", "root@example.com"],
        env={"HOSTLEDGER_ADMIN_PASSWORD": "plum-vortex-quietly-41-harbour"},
    )
    assert again.exit_code == 1
    assert "email_taken" in again.output


def test_create_admin_refuses_weak_password(cli_env: str) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(
        cli,
        ["create-admin", "--email", "admin@example.com"],
        env={"HOSTLEDGER_ADMIN_PASSWORD": "password1234"},
    )
    assert result.exit_code == 1
    assert "password" in result.output


def test_bad_configuration_exits_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTLEDGER_ENV", "production")
    monkeypatch.delenv("HOSTLEDGER_SECRET_KEY", raising=False)
    result = runner.invoke(cli, ["migrate"])
    assert result.exit_code == 2
    assert "production needs explicit secrets" in result.output


def test_prune_auth_job_runs(cli_env: str) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(cli, ["jobs", "prune-auth"])
    assert result.exit_code == 0, result.output
    assert "pruned:" in result.output


def test_prune_billing_job_runs(cli_env: str) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(cli, ["jobs", "prune-billing"])
    assert result.exit_code == 0, result.output
    assert "0 idempotency keys, 0 invoice snapshots redacted" in result.output
