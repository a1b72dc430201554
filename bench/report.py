"""What a scenario returns, and how a run is shown: a table per scenario, one summary line per
target, then the whole run as JSON (the last thing on stdout, for tools to pick up)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.wrk import WrkResult


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"  # measured, and the target was missed
    ERROR = "ERROR"  # could not be measured


@dataclass(frozen=True)
class Measurement:
    """One wrk run; `ratio` is its req/s relative to the scenario's baseline, when relevant."""

    label: str
    wrk: WrkResult
    ratio: float | None = None


@dataclass(frozen=True)
class TargetCheck:
    name: str
    status: Status
    detail: str


@dataclass
class ScenarioResult:
    name: str
    description: str
    measurements: list[Measurement] = field(default_factory=list)
    targets: list[TargetCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def add(self, measurement: Measurement) -> Measurement:
        self.measurements.append(measurement)
        return measurement

    def fail_targets(self, names: list[str], reason: str) -> None:
        """Record that the scenario stopped: every target not yet checked is an ERROR."""
        self.error = reason
        checked = {target.name for target in self.targets}
        self.targets += [TargetCheck(n, Status.ERROR, reason) for n in names if n not in checked]


def format_ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value < 1:
        return f"{value * 1000:.0f} us"
    return f"{value:.2f} ms"


def _socket_errors(result: WrkResult) -> str:
    errors = result.socket_errors
    if errors.total == 0:
        return "0"
    return f"c{errors.connect} r{errors.read} w{errors.write} t{errors.timeout}"


def scenario_table(result: ScenarioResult) -> Table:
    table = Table(title=f"{result.name}: {result.description}", title_justify="left")
    table.add_column("measurement")
    for column in ("requests", "req/s", "p50", "p99", "x baseline", "non-2xx", "socket errors"):
        table.add_column(column, justify="right")
    for m in result.measurements:
        table.add_row(
            m.label,
            str(m.wrk.requests),
            f"{m.wrk.requests_per_sec:,.1f}",
            format_ms(m.wrk.p50_ms),
            format_ms(m.wrk.p99_ms),
            "-" if m.ratio is None else f"{m.ratio:.2f}x",
            str(m.wrk.non_2xx),
            _socket_errors(m.wrk),
        )
    return table


_STATUS_STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.ERROR: "bold red"}


def print_scenario(console: Console, result: ScenarioResult) -> None:
    console.print()
    if result.measurements:
        console.print(scenario_table(result))
    for note in result.notes:
        console.print(f"  note: {note}", soft_wrap=True)
    if result.error:
        console.print(
            f"[bold red]  {result.name} could not finish:[/bold red] {result.error}",
            soft_wrap=True,
        )


def print_summary(console: Console, results: list[ScenarioResult]) -> None:
    console.print()
    console.print("[bold]targets[/bold]")
    for result in results:
        for target in result.targets:
            style = _STATUS_STYLE[target.status]
            console.print(
                f"[{style}]{target.status.value:5}[/{style}] {result.name}: {target.name}"
                f" -- {target.detail}",
                highlight=False,
                soft_wrap=True,
            )


def _wrk_json(result: WrkResult) -> dict[str, Any]:
    data = asdict(result)
    data["status_counts"] = {str(k): v for k, v in result.status_counts.items()}
    data["errors"] = result.errors
    return data


def scenario_json(result: ScenarioResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "description": result.description,
        "error": result.error,
        "measurements": [
            {
                "label": m.label,
                "ratio": None if m.ratio is None else round(m.ratio, 3),
                "wrk": _wrk_json(m.wrk),
            }
            for m in result.measurements
        ],
        "targets": [
            {"name": t.name, "status": t.status.value, "detail": t.detail} for t in result.targets
        ],
        "notes": result.notes,
    }


def run_json(meta: dict[str, Any], results: list[ScenarioResult]) -> str:
    return json.dumps(
        {"run": meta, "scenarios": [scenario_json(result) for result in results]}, indent=2
    )
