"""A throwaway PostgreSQL database: created fresh for a scenario, dropped (forcibly) after it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from rich.console import Console

from bench.errors import BenchError

HOST = "127.0.0.1"
PORT = 5432
USER = "postgres"
ADMIN_DATABASE = "postgres"
_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def bench_database_name() -> str:
    return f"hostledger_bench_{os.getpid()}"


def database_url(name: str) -> str:
    """The URL the server is given (async psycopg driver, trust auth: no password)."""
    return f"postgresql+psycopg://{USER}@{HOST}:{PORT}/{name}"


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            host=HOST, port=PORT, user=USER, dbname=ADMIN_DATABASE, autocommit=True
        )
    except psycopg.OperationalError as exc:
        raise BenchError(f"cannot reach PostgreSQL at {USER}@{HOST}:{PORT}: {exc}") from exc


def create_database(name: str) -> None:
    if not _SAFE_NAME.match(name):
        raise BenchError(f"refusing database name {name!r}")
    with _admin_connection() as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    with _admin_connection() as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def temporary_database(console: Console, name: str | None = None) -> Iterator[str]:
    """Create the database, yield its server URL, always drop it afterwards."""
    name = name or bench_database_name()
    create_database(name)
    console.print(f"created database [bold]{name}[/bold]")
    try:
        yield database_url(name)
    finally:
        try:
            drop_database(name)
            console.print(f"dropped database [bold]{name}[/bold]")
        except (psycopg.Error, BenchError) as exc:
            console.print(f"[red]could not drop database {name}: {exc}[/red]")
