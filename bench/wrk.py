"""wrk, the load generator: make sure it is installed, run it, and parse its `--latency` output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from bench.errors import BenchError

LUA_DIR = Path(__file__).resolve().parent / "lua"
LOGIN_SCRIPT = LUA_DIR / "login.lua"

# wrk prints times with these units (src/units.c: us -> ms -> s, then m, h).
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"
_REQUESTS_PER_SEC = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_TOTAL = re.compile(rf"^\s*(\d+) requests in {_TIME}", re.MULTILINE)
_LATENCY_STATS = re.compile(rf"^\s*Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}", re.MULTILINE)
_PERCENTILE = re.compile(rf"^\s*(\d+(?:\.\d+)?)%\s+{_TIME}\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_STATUS_COUNT = re.compile(r"^hl-status (\d+) (\d+)\s*$", re.MULTILINE)


class WrkParseError(BenchError):
    """wrk's output did not have the lines we need (it failed, or its format changed)."""


@dataclass(frozen=True)
class SocketErrors:
    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0

    @property
    def total(self) -> int:
        return self.connect + self.read + self.write + self.timeout


@dataclass(frozen=True)
class WrkResult:
    """One wrk run. Latencies are in milliseconds; percentiles are keyed "50", "99", ..."""

    requests: int
    duration_s: float
    requests_per_sec: float
    latency_avg_ms: float | None
    latency_max_ms: float | None
    percentiles_ms: dict[str, float]
    non_2xx: int
    socket_errors: SocketErrors
    status_counts: dict[int, int] = field(default_factory=dict)

    @property
    def p50_ms(self) -> float | None:
        return self.percentiles_ms.get("50")

    @property
    def p99_ms(self) -> float | None:
        return self.percentiles_ms.get("99")

    @property
    def errors(self) -> int:
        """Failed requests: non-2xx/3xx answers plus socket errors (timeouts included)."""
        return self.non_2xx + self.socket_errors.total


@dataclass(frozen=True)
class WrkSpec:
    """What to run: `wrk -t<threads> -c<connections> -d<duration>s --latency ... <url>`."""

    url: str
    duration_s: int
    threads: int = 2
    connections: int = 32
    timeout_s: int = 2
    headers: tuple[str, ...] = ()
    script: Path | None = None
    script_args: tuple[str, ...] = ()


def to_ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def parse_wrk_output(output: str) -> WrkResult:
    """Parse the text `wrk --latency` prints (plus our Lua scripts' `hl-status` lines)."""
    rps = _REQUESTS_PER_SEC.search(output)
    total = _TOTAL.search(output)
    if rps is None or total is None:
        raise WrkParseError(f"no 'Requests/sec' or 'requests in' line in wrk output:\n{output}")
    stats = _LATENCY_STATS.search(output)
    return WrkResult(
        requests=int(total.group(1)),
        duration_s=to_ms(total.group(2), total.group(3)) / 1000.0,
        requests_per_sec=float(rps.group(1)),
        latency_avg_ms=to_ms(stats.group(1), stats.group(2)) if stats else None,
        latency_max_ms=to_ms(stats.group(5), stats.group(6)) if stats else None,
        percentiles_ms=_parse_percentiles(output),
        non_2xx=_parse_int(_NON_2XX, output),
        socket_errors=_parse_socket_errors(output),
        status_counts={int(m.group(1)): int(m.group(2)) for m in _STATUS_COUNT.finditer(output)},
    )


def _parse_percentiles(output: str) -> dict[str, float]:
    percentiles: dict[str, float] = {}
    for match in _PERCENTILE.finditer(output):
        key = match.group(1).removesuffix(".0")
        percentiles[key] = to_ms(match.group(2), match.group(3))
    return percentiles


def _parse_int(pattern: re.Pattern[str], output: str) -> int:
    match = pattern.search(output)
    return int(match.group(1)) if match else 0


def _parse_socket_errors(output: str) -> SocketErrors:
    match = _SOCKET_ERRORS.search(output)
    if match is None:
        return SocketErrors()
    connect, read, write, timeout = (int(group) for group in match.groups())
    return SocketErrors(connect=connect, read=read, write=write, timeout=timeout)


def wrk_command(spec: WrkSpec, *, executable: str = "wrk") -> list[str]:
    command = [
        executable,
        f"-t{spec.threads}",
        f"-c{spec.connections}",
        f"-d{spec.duration_s}s",
        f"--timeout={spec.timeout_s}s",
        "--latency",
    ]
    for header in spec.headers:
        command += ["-H", header]
    if spec.script is not None:
        command += ["-s", str(spec.script)]
    command.append(spec.url)
    if spec.script_args:
        command += ["--", *spec.script_args]
    return command


def run_wrk(spec: WrkSpec) -> WrkResult:
    (result,) = run_wrk_concurrently([spec])
    return result


def run_wrk_concurrently(
    specs: Sequence[WrkSpec], *, start_delays_s: Sequence[float] = ()
) -> list[WrkResult]:
    """Start every wrk (the i-th after sleeping `start_delays_s[i]`), wait for all, parse each.
    No wrk outlives this call, even when one fails or the run is interrupted."""
    with _started(specs, start_delays_s) as processes:
        outputs = [_wait(process, spec) for process, spec in zip(processes, specs, strict=True)]
    return [parse_wrk_output(output) for output in outputs]


@contextmanager
def _started(
    specs: Sequence[WrkSpec], start_delays_s: Sequence[float]
) -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    try:
        for index, spec in enumerate(specs):
            if index < len(start_delays_s) and start_delays_s[index] > 0:
                time.sleep(start_delays_s[index])
            processes.append(
                subprocess.Popen(
                    wrk_command(spec),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _wait(process: subprocess.Popen[str], spec: WrkSpec) -> str:
    try:
        stdout, stderr = process.communicate(timeout=spec.duration_s + spec.timeout_s + 30)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish: {' '.join(wrk_command(spec))}") from exc
    if process.returncode != 0:
        raise BenchError(
            f"wrk exited with {process.returncode} for {spec.url}:\n{stderr}{stdout}".rstrip()
        )
    return stdout


def wrk_version() -> str:
    """`wrk -v` prints its version (and exits 1); '' when that fails."""
    completed = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first_line = (completed.stdout or completed.stderr).strip().splitlines()
    return first_line[0] if first_line else ""


def ensure_wrk(console: Console) -> str:
    """Return wrk's path, installing it with apt-get (as root) when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise BenchError("wrk is not installed and there is no apt-get: install wrk yourself")
    console.print("[yellow]wrk is missing: apt-get install -y wrk[/yellow]")
    failure = _apt_get("install", "-y", "wrk")
    if failure is not None:
        console.print("[yellow]install failed; apt-get update, then install again[/yellow]")
        update_failure = _apt_get("update")
        failure = _apt_get("install", "-y", "wrk")
        if failure is not None and update_failure is not None:
            failure = f"{update_failure}\n{failure}"
    found = shutil.which("wrk")
    if found is None:
        raise BenchError(f"wrk is still not installed after apt-get:\n{failure or ''}".rstrip())
    return found


def _apt_get(*args: str) -> str | None:
    """Run apt-get; None on success, else the tail of what it printed."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    completed = subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, env=env, check=False, timeout=900
    )
    if completed.returncode == 0:
        return None
    tail = (completed.stdout + completed.stderr).strip().splitlines()[-15:]
    return f"apt-get {' '.join(args)} exited with {completed.returncode}:\n" + "\n".join(tail)
