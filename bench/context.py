"""What a scenario is given (a running server on a fresh database) and what it is."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from bench.postgres import temporary_database
from bench.report import ScenarioResult
from bench.server import Server, running_server
from bench.wrk import WrkSpec

DEFAULT_THREADS = 2
DEFAULT_CONNECTIONS = 32


@dataclass(frozen=True)
class BenchContext:
    server: Server
    duration_s: int
    console: Console  # progress messages (stderr); the report goes to stdout

    def wrk_spec(self, path: str, *, headers: tuple[str, ...] = ()) -> WrkSpec:
        """The standard measurement: wrk -t2 -c32 -d<duration>s --latency on one path."""
        return WrkSpec(
            url=self.server.url(path),
            duration_s=self.duration_s,
            threads=DEFAULT_THREADS,
            connections=DEFAULT_CONNECTIONS,
            headers=headers,
        )


@dataclass(frozen=True)
class Scenario:
    """A benchmark. `run` gets its own fresh database and server; it may seed data through the
    API (or `ctx.server.database_url`) before measuring, and it returns its results."""

    name: str
    description: str
    run: Callable[[BenchContext], ScenarioResult]
    # Server settings this scenario needs (e.g. throttles lifted so a storm reaches hashing).
    server_env: Mapping[str, str] = field(default_factory=dict)


@contextmanager
def scenario_environment(
    console: Console, *, duration_s: int, server_env: Mapping[str, str] | None = None
) -> Iterator[BenchContext]:
    """A fresh database and a migrated, running server; both gone when the block ends."""
    with (
        tempfile.TemporaryDirectory(prefix="hostledger-bench-") as workdir,
        temporary_database(console) as database_url,
        running_server(
            console, database_url=database_url, workdir=Path(workdir), extra_env=server_env
        ) as server,
    ):
        yield BenchContext(server=server, duration_s=duration_s, console=console)
