"""`hostledger migrate` and `hostledger serve` as subprocesses, in production mode.

The server runs with explicit throwaway secrets, in a temporary working directory (so no `.env`
is read and nothing is written into the repository), with the outer HOSTLEDGER_* variables
removed so a developer's own settings cannot leak into the measurement.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console

from app.core.config import ENV_PREFIX, generate_secrets
from bench.errors import BenchError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class Server:
    base_url: str
    database_url: str
    pid: int
    log_path: Path

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def hostledger_command() -> list[str]:
    """The `hostledger` script beside this interpreter (the venv's), else `python -m app.cli`."""
    script = Path(sys.executable).parent / "hostledger"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def server_environment(
    database_url: str, extra_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    secrets = generate_secrets()
    env.update(
        {
            "HOSTLEDGER_ENV": "production",
            "HOSTLEDGER_SECRET_KEY": secrets["secret_key"],
            "HOSTLEDGER_DATA_KEYS": secrets["data_keys"],
            "HOSTLEDGER_BLIND_INDEX_KEY": secrets["blind_index_key"],
            "HOSTLEDGER_DATABASE_URL": database_url,
            "HOSTLEDGER_LOG_LEVEL": "WARNING",
            "HOSTLEDGER_SESSION_TOUCH_INTERVAL": "60",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    env.update(extra_env or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def migrate(env: dict[str, str], workdir: Path) -> None:
    completed = subprocess.run(
        [*hostledger_command(), "migrate"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise BenchError(f"hostledger migrate exited with {completed.returncode}:\n{output}")


@contextmanager
def running_server(
    console: Console,
    *,
    database_url: str,
    workdir: Path,
    workers: int = 1,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Migrate, start `hostledger serve`, wait for /health/ready; always stop it afterwards."""
    env = server_environment(database_url, extra_env)
    migrate(env, workdir)
    port = free_port()
    log_path = workdir / "server.log"
    command = [
        *hostledger_command(),
        *("serve", "--host", HOST, "--port", str(port), "--workers", str(workers)),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a hard kill takes its workers
        )
    server = Server(f"http://{HOST}:{port}", database_url, process.pid, log_path)
    try:
        _wait_until_ready(process, server)
        console.print(f"server ready at {server.base_url} (pid {process.pid})")
        yield server
    finally:
        _stop(process, console)


def _wait_until_ready(process: subprocess.Popen[bytes], server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(
                    f"the server exited with {process.returncode} before it was ready:\n"
                    + log_tail(server.log_path)
                )
            try:
                response = client.get(server.url("/health/ready"))
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}"
            else:
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            time.sleep(0.2)
    raise BenchError(
        f"the server was not ready after {READY_TIMEOUT_S:.0f}s (last: {last}):\n"
        + log_tail(server.log_path)
    )


def _stop(process: subprocess.Popen[bytes], console: Console) -> None:
    """SIGTERM (uvicorn drains and exits), then SIGKILL to its process group if it lingers."""
    how = "it had already exited"
    if process.poll() is None:
        how = "SIGTERM"
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            console.print(f"[yellow]server pid {process.pid} ignored SIGTERM: killing it[/yellow]")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            how = "SIGKILL"
    # uvicorn re-raises SIGTERM after its graceful shutdown, so -15 is the normal exit code here.
    console.print(f"server stopped ({how}, exit code {process.returncode})")


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"
