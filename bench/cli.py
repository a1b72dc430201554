"""`python -m bench [SCENARIO ...] [--duration SECONDS] [--list]` (what `make bench` runs).

Runs the named scenarios (all by default), each against its own fresh PostgreSQL database and
`hostledger serve` process, prints a table per scenario, one summary line per target, and then
the whole run as JSON on stdout. Progress goes to stderr.

Exit code: 0 when every scenario was measured, even if targets were missed (it is a report);
1 when something could not be measured (no wrk, no database, the server did not start, or an
endpoint a scenario needs is missing); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from rich.console import Console

from bench.context import Scenario, scenario_environment
from bench.errors import BenchError
from bench.report import ScenarioResult, print_scenario, print_summary, run_json
from bench.scenarios import SCENARIOS
from bench.wrk import ensure_wrk, wrk_version

DURATION_ENV = "BENCH_DURATION"
DEFAULT_DURATION_S = 10
MAX_DURATION_S = 600


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Load-test Hostledger with wrk."
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"one of: {', '.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=None,
        help=f"seconds per measurement (default ${DURATION_ENV} or {DEFAULT_DURATION_S})",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    try:
        args.duration = resolve_duration(args.duration, os.environ.get(DURATION_ENV))
    except ValueError as exc:
        parser.error(str(exc))
    return args


def resolve_duration(option: int | None, env_value: str | None) -> int:
    raw: int | str = option if option is not None else (env_value or DEFAULT_DURATION_S)
    try:
        duration = int(raw)
    except ValueError:
        raise ValueError(f"{DURATION_ENV} must be whole seconds, got {raw!r}") from None
    if not 1 <= duration <= MAX_DURATION_S:
        raise ValueError(f"the duration must be between 1 and {MAX_DURATION_S} seconds")
    return duration


def run_scenario(scenario: Scenario, progress: Console, duration_s: int) -> ScenarioResult:
    progress.rule(f"scenario {scenario.name}")
    try:
        with scenario_environment(
            progress, duration_s=duration_s, server_env=scenario.server_env
        ) as ctx:
            return scenario.run(ctx)
    except BenchError as exc:
        return ScenarioResult(scenario.name, scenario.description, error=str(exc))


def _run_metadata(names: list[str], duration_s: int, started: float) -> dict[str, Any]:
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenarios": names,
        "duration_s": duration_s,
        "elapsed_s": round(time.monotonic() - started, 1),
        "wrk": wrk_version(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so SIGTERM also stops the server and drops the database


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:12} {scenario.description}")
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    progress = Console(stderr=True, soft_wrap=True)
    report = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    try:
        ensure_wrk(progress)
    except BenchError as exc:
        progress.print(f"[bold red]cannot benchmark:[/bold red] {exc}")
        return 1
    names: list[str] = args.scenarios or list(SCENARIOS)
    started = time.monotonic()
    try:
        results = [run_scenario(SCENARIOS[name], progress, args.duration) for name in names]
    except KeyboardInterrupt:
        progress.print("[red]interrupted[/red]")
        return 130
    for result in results:
        print_scenario(report, result)
    print_summary(report, results)
    report.file.flush()
    print(run_json(_run_metadata(names, args.duration, started), results), flush=True)
    return 1 if any(result.error for result in results) else 0
