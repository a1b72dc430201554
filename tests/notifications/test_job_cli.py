"""`hostledger jobs send-outbox` (P2): the delivery job from the command line."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import generate_secrets, load_settings
from app.core.container import Container
from app.core.crypto import install_field_keyring
from app.notifications.service import enqueue_email
from app.notifications.templates import EmailTemplate

runner = CliRunner()
ADDRESS = "ada@example.net"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOSTLEDGER_ENV", "test")
    monkeypatch.setenv("HOSTLEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    for name, value in generate_secrets().items():  # the CLI must read what the test wrote
        monkeypatch.setenv(f"HOSTLEDGER_{name.upper()}", value)


def _enqueue_one() -> None:
    container = Container.from_settings(load_settings())
    install_field_keyring(container.crypto.fields)

    async def _work() -> None:
        async with container.database.unit_of_work() as session:
            await enqueue_email(
                session,
                template=EmailTemplate.PASSWORD_RESET,
                recipient=ADDRESS,
                payload={"name": "Ada", "link": "http://spa/#token=abc", "expires_in_minutes": 30},
                now=container.clock.now(),
            )
        await container.database.dispose()

    asyncio.run(_work())


def test_jobs_is_a_command_group_with_send_outbox() -> None:
    jobs = get_command(cli).commands["jobs"]  # type: ignore[attr-defined]
    assert "send-outbox" in jobs.commands


def test_send_outbox_delivers_then_finds_nothing(
    cli_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    """P2: the job sends what is pending through the configured (development) mailer."""
    caplog.set_level(logging.INFO, logger="hostledger.mail")
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    _enqueue_one()
    first = runner.invoke(cli, ["jobs", "send-outbox", "--batch", "10"])
    assert first.exit_code == 0, first.output
    assert "1 sent, 0 to retry, 0 failed" in first.output
    assert "a***@e***.net" in caplog.text
    assert ADDRESS not in caplog.text + first.output
    second = runner.invoke(cli, ["jobs", "send-outbox"])
    assert second.exit_code == 0, second.output
    assert "0 sent, 0 to retry, 0 failed" in second.output
