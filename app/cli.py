"""The `hostledger` command: serve, migrate, openapi, create-admin, keys, and the jobs."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.console import Console

from app.core.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from app.core.crypto import Keyring

cli = typer.Typer(
    name="hostledger",
    help="Hostledger: accounts, billing and fraud prevention for a web host.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(code=2) from exc


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Upgrade the database schema (to head by default)."""
    from alembic import command

    from app.core.migrations import alembic_config

    settings = _settings_or_exit()
    command.upgrade(alembic_config(settings.database.url), revision)
    console.print(f"[green]database migrated to {revision}[/green]")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="restart on code changes (development)")] = False,
) -> None:
    """Serve the API with uvicorn (graceful shutdown on SIGTERM/SIGINT)."""
    import uvicorn

    settings = _settings_or_exit()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        proxy_headers=False,  # client IPs are resolved by our trusted-proxy rule, not uvicorn's
        server_header=False,
        timeout_graceful_shutdown=20,
        log_config=None,
        log_level=settings.log_level.lower(),
    )


@cli.command()
def openapi() -> None:
    """Print the OpenAPI contract as YAML (the committed openapi.yaml must equal it)."""
    sys.stdout.write(render_openapi_yaml())


def render_openapi_yaml() -> str:
    from app.core.config import Environment
    from app.main import create_app

    # The contract does not depend on secrets or the database: build it with throwaway ones.
    app = create_app(load_settings(env=Environment.TEST), configure_logs=False)
    return yaml.dump(
        app.openapi(), Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=100
    )


class _PlainDumper(yaml.SafeDumper):
    """No `&id001` anchors for repeated objects: every tool reads plain YAML."""

    def ignore_aliases(self, data: object) -> bool:
        return True


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="the administrator's email")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="HOSTLEDGER_ADMIN_PASSWORD",
            help="prompted for when not given (or read from HOSTLEDGER_ADMIN_PASSWORD)",
        ),
    ],
    name: Annotated[str | None, typer.Option(help="display name")] = None,
) -> None:
    """Create a staff administrator (for the first start)."""
    from app.auth.service import create_staff_user, validate_new_password
    from app.core.clock import SystemClock
    from app.core.container import Container
    from app.core.crypto import install_field_keyring
    from app.core.errors import DomainError
    from app.core.security import PasswordHasher
    from app.models.user import StaffRole

    settings = _settings_or_exit()
    container = Container.from_settings(settings, clock=SystemClock())
    install_field_keyring(container.crypto.fields)

    async def _create() -> str:
        validate_new_password(password, user_inputs=[email, name or ""])
        password_hash = PasswordHasher(settings.password).hash_sync(password)
        async with container.database.unit_of_work() as session:
            user = await create_staff_user(
                session=session,
                crypto=container.crypto,
                clock=container.clock,
                email=email,
                password_hash=password_hash,
                role=StaffRole.ADMIN,
                display_name=name,
            )
            user_id = str(user.id)
        await container.database.dispose()
        return user_id

    try:
        user_id = asyncio.run(_create())
    except DomainError as exc:
        errors = getattr(exc, "errors", [])
        message = "; ".join(f"{e.field}: {e.message}" for e in errors) or str(exc)
        console.print(f"[red]{exc.code}:[/red] {message}")
        raise typer.Exit(code=1) from exc
    console.print(f"[green]administrator created[/green] (id {user_id})")


jobs = typer.Typer(
    help="Scheduled work, run from cron or a scheduler; safe to run on several hosts at once.",
    no_args_is_help=True,
)
cli.add_typer(jobs, name="jobs")


@jobs.command("send-outbox")
def send_outbox(
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="most messages to try in this run")
    ] = 100,
) -> None:
    """Send pending mail from the outbox (P2); failures are retried by later runs, 5 at most."""
    import logging

    from app.core.container import Container
    from app.core.crypto import install_field_keyring
    from app.core.logging import configure_logging
    from app.notifications.service import deliver_pending

    settings = _settings_or_exit()
    if not logging.getLogger().handlers:  # keep a host's (or the test runner's) logging setup
        configure_logging(level=settings.log_level)
    container = Container.from_settings(settings)
    install_field_keyring(container.crypto.fields)

    async def _send() -> tuple[int, int, int]:
        try:
            report = await deliver_pending(
                container.database, container.mailer, container.clock, batch=batch
            )
        finally:
            await container.database.dispose()
        return report.sent, report.retrying, report.failed

    with console.status("sending outbox mail…"):
        sent, retrying, failed = asyncio.run(_send())
    colour = "yellow" if retrying or failed else "green"
    console.print(f"[{colour}]outbox:[/{colour}] {sent} sent, {retrying} to retry, {failed} failed")


@jobs.command("prune-auth")
def prune_auth() -> None:
    """Delete spent sign-in tokens, closed rate-limit windows and stale failure counters."""
    from app.auth.maintenance import prune_auth_state
    from app.core.container import Container

    settings = _settings_or_exit()
    container = Container.from_settings(settings)

    async def _prune() -> str:
        try:
            report = await prune_auth_state(
                database=container.database,
                clock=container.clock,
                rate_limiter=container.rate_limiter,
            )
        finally:
            await container.aclose()
            await container.database.dispose()
        return (
            f"{report.tokens} tokens, {report.throttles} failure counters, "
            f"{report.rate_limit_windows} rate-limit windows"
        )

    console.print(f"[green]pruned:[/green] {asyncio.run(_prune())}")


@jobs.command("prune-billing")
def prune_billing() -> None:
    """Forget expired Idempotency-Keys, and reduce erased customers' billing records that are
    past the legal retention period (HOSTLEDGER_BILLING_RETENTION_YEARS) to what names nobody."""
    from app.billing.maintenance import prune_billing_state
    from app.core.container import Container
    from app.core.crypto import install_field_keyring

    settings = _settings_or_exit()
    container = Container.from_settings(settings)
    install_field_keyring(container.crypto.fields)

    async def _prune() -> str:
        try:
            report = await prune_billing_state(container)
        finally:
            await container.aclose()
            await container.database.dispose()
        return (
            f"{report.idempotency_keys} idempotency keys, "
            f"{report.invoices_redacted} invoice snapshots redacted, "
            f"{report.payment_references_cleared} payment references cleared"
        )

    console.print(f"[green]pruned:[/green] {asyncio.run(_prune())}")


@jobs.command("billing-run")
def billing_run(
    today: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="run as of this day (YYYY-MM-DD; default today)"),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, max=10_000, help="services per transaction (default from settings)"),
    ] = None,
) -> None:
    """Renewal invoices for active services coming due (safe to run on several hosts)."""
    import logging

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from app.billing.run import BillingRun, BillingRunReport
    from app.core.container import Container
    from app.core.crypto import install_field_keyring
    from app.core.heap import freeze_long_lived_objects
    from app.core.logging import configure_logging

    settings = _settings_or_exit()
    if not logging.getLogger().handlers:
        configure_logging(level=settings.log_level)
    container = Container.from_settings(settings)
    install_field_keyring(container.crypto.fields)
    freeze_long_lived_objects()  # a long run: full GC passes skip the app (app.core.heap)
    day = today.date() if today else None

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task("services", total=None)

        def on_batch(report: BillingRunReport) -> None:
            progress.update(task, completed=report.services_examined)

        async def _run() -> BillingRunReport:
            run = BillingRun(container=container, batch_size=batch_size, on_batch=on_batch)
            try:
                due = await run.count_due(today=day or container.clock.now().date())
                progress.update(task, total=due)
                return await run.run(today=day)
            finally:
                await container.aclose()
                await container.database.dispose()

        report = asyncio.run(_run())

    table = Table(title=f"billing run for {report.today} (due by {report.due_by})")
    table.add_column("")
    table.add_column("", justify="right")
    for label, value in (
        ("services examined", report.services_examined),
        ("invoices created", report.invoices_created),
        ("skipped (already invoiced)", report.skipped),
        ("failed", report.failed),
        ("batches", report.batches),
    ):
        table.add_row(label, str(value))
    for currency, total in sorted(report.totals.items()):
        table.add_row(f"total {currency} (minor units)", str(total))
    table.add_row("duration", f"{report.duration_s:.2f} s")
    console.print(table)
    for passed in report.passed_over:
        console.print(f"[yellow]passed over[/yellow] service {passed.service_id}: {passed.reason}")


keys = typer.Typer(
    help="Data keys for encrypted personal fields (HOSTLEDGER_DATA_KEYS: the first key encrypts).",
    no_args_is_help=True,
)
cli.add_typer(keys, name="keys")


@keys.command("rotate")
def keys_rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="rows re-encrypted per transaction")
    ] = 500,
) -> None:
    """Re-encrypt every value not yet under the first data key (safe to interrupt and re-run)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
    from rich.table import Table

    from app.core.db import Database
    from app.core.keys import RotationError, rotate

    settings = _settings_or_exit()
    keyring = _data_keyring(settings)
    database = Database.from_settings(settings.database)
    tasks: dict[str, TaskID] = {}

    with Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as progress:

        def on_progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=total)
            progress.update(tasks[table], completed=done, total=total)

        async def _rotate() -> list[tuple[str, int]]:
            try:
                report = await rotate(
                    database, keyring, batch_size=batch_size, on_progress=on_progress
                )
            finally:
                await database.dispose()
            return [(t.table, t.rotated) for t in report.tables]

        try:
            rotated = asyncio.run(_rotate())
        except RotationError as exc:
            progress.stop()
            console.print(f"[red]rotation stopped:[/red] {exc}")
            raise typer.Exit(code=1) from exc

    table = Table(title=f"re-encrypted under key {keyring.primary_kid}", title_justify="left")
    table.add_column("table")
    table.add_column("rows re-encrypted", justify="right")
    for name, count in rotated:
        table.add_row(name, str(count))
    console.print(table)
    console.print(f"[green]{sum(n for _, n in rotated)} rows re-encrypted[/green]")


@keys.command("status")
def keys_status() -> None:
    """Per table: rows, rows still under an older key, and encrypted values per key id."""
    from rich.table import Table

    from app.core.db import Database
    from app.core.keys import TableKeyStatus, key_status

    settings = _settings_or_exit()
    keyring = _data_keyring(settings)
    database = Database.from_settings(settings.database)

    async def _status() -> list[TableKeyStatus]:
        try:
            return await key_status(database, keyring)
        finally:
            await database.dispose()

    statuses = asyncio.run(_status())
    table = Table(title=f"primary data key: {keyring.primary_kid}", title_justify="left")
    for column in ("table", "rows", "rows to rotate", "values per key id"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for status in statuses:
        by_kid = ", ".join(f"{kid}: {n}" for kid, n in status.values_by_kid.items()) or "-"
        table.add_row(status.table, str(status.rows), str(status.rows_to_rotate), by_kid)
    console.print(table)


def _data_keyring(settings: Settings) -> Keyring:
    from app.core.crypto import Keyring, install_field_keyring

    keyring = Keyring(settings.secrets.data_keys)
    install_field_keyring(keyring)
    return keyring


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
