"""docker-compose.yml and the Dockerfile may only run real `hostledger` subcommands, with
options the CLI accepts, and may only set `HOSTLEDGER_*` variables that are real settings.

Plain synchronous tests: they read files and parse arguments; no database, no app."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import typer
import typer.core
import typer.exceptions
import typer.main
import yaml

from app.cli import cli
from app.core.config import DatabaseSettings, setting_env_names
from app.core.db import connections_per_process

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

ENV_PREFIX = "HOSTLEDGER_"
SERVICES = ("postgres", "redis", "api")
SHELLS = {"sh", "bash", "dash"}
SHELL_OPERATORS = {"&&", "||", ";", ";;", "|", "&"}
# Words that run the command after them in the same process.
PREFIX_WORDS = {"exec", "env", "nohup"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_INTERPOLATION = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")

# What a failed parse raises: click's exceptions derive from TyperException in the typer
# versions that vendor click; `--help` and prompts end in Exit or Abort.
_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    typer.exceptions.TyperException,
    typer.Exit,
    typer.Abort,
)


# ---------------------------------------------------------------------------------- checkers


def shell_commands(script: str) -> list[list[str]]:
    """Split a shell script into its simple commands (on `&&`, `||`, `;`, `|`, `&`)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in SHELL_OPERATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


def simple_commands(command: str | list[str] | None) -> list[list[str]]:
    """The simple commands a compose `command` / Dockerfile `CMD` runs."""
    if command is None:
        return []
    if isinstance(command, str):
        return shell_commands(command)
    argv = [str(word) for word in command]
    if argv and PurePosixPath(argv[0]).name in SHELLS and "-c" in argv[1:]:
        script_index = argv.index("-c") + 1
        assert script_index < len(argv), f"`{shlex.join(argv)}` has no script after -c"
        return shell_commands(argv[script_index])
    return [argv] if argv else []


def hostledger_invocations(commands: Iterable[list[str]]) -> list[list[str]]:
    """The arguments after `hostledger` in each simple command that runs it."""
    invocations: list[list[str]] = []
    for argv in commands:
        words = list(argv)
        while words and (words[0] in PREFIX_WORDS or _ASSIGNMENT.match(words[0])):
            words.pop(0)
        if words and PurePosixPath(words[0]).name == "hostledger":
            invocations.append(words[1:])
    return invocations


def _cli_commands() -> Mapping[str, Any]:
    group = typer.main.get_command(cli)
    assert isinstance(group, typer.core.TyperGroup)
    return group.commands


def cli_problems(args: list[str]) -> list[str]:
    """Why `hostledger <args>` would not start (empty when the CLI accepts it)."""
    shown = shlex.join(["hostledger", *args])
    if not args:
        return [f"`{shown}`: no subcommand"]
    commands = _cli_commands()
    name, *options = args
    command = commands.get(name)
    if command is None:
        return [f"`{shown}`: unknown subcommand {name!r} (known: {sorted(commands)})"]
    try:
        command.make_context(name, list(options), resilient_parsing=False)
    except _PARSE_ERRORS as exc:
        return [f"`{shown}`: {type(exc).__name__}: {exc}"]
    return []


def invocation_problems(command: str | list[str] | None) -> list[str]:
    problems: list[str] = []
    for args in hostledger_invocations(simple_commands(command)):
        problems.extend(cli_problems(args))
    return problems


def env_problems(names: Iterable[str]) -> list[str]:
    """`HOSTLEDGER_*` names that no setting is read from."""
    known = setting_env_names()
    return [
        f"{name} is not a setting (see app/core/config.py)"
        for name in sorted(set(names))
        if name.startswith(ENV_PREFIX) and name not in known
    ]


def environment_names(environment: Mapping[str, Any] | list[str] | None) -> set[str]:
    """Variable names of a compose `environment` (mapping or `NAME=value` list form)."""
    if environment is None:
        return set()
    if isinstance(environment, Mapping):
        return {str(name) for name in environment}
    return {str(item).split("=", 1)[0] for item in environment}


# ---------------------------------------------------------------------------- file readers


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml is not a mapping"
    return document


def compose_services() -> dict[str, dict[str, Any]]:
    services = load_compose().get("services")
    assert isinstance(services, dict), "docker-compose.yml has no services"
    return services


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def dockerfile_cmd(text: str) -> list[str]:
    """The effective CMD as argv (shell form becomes `/bin/sh -c ...`, as Docker runs it)."""
    commands = [
        arguments for keyword, arguments in dockerfile_instructions(text) if keyword == "CMD"
    ]
    assert commands, "the Dockerfile has no CMD"
    last = commands[-1]
    if last.startswith("["):
        argv = json.loads(last)
        assert isinstance(argv, list)
        return [str(word) for word in argv]
    return ["/bin/sh", "-c", last]


def dockerfile_env_names(text: str) -> set[str]:
    names: set[str] = set()
    for keyword, arguments in dockerfile_instructions(text):
        if keyword != "ENV":
            continue
        words = shlex.split(arguments)
        if words and "=" not in words[0]:  # legacy `ENV NAME value`
            names.add(words[0])
        else:
            names.update(word.split("=", 1)[0] for word in words)
    return names


def image_major(image: str) -> int:
    """`postgres:16`, `postgres:16.4-bookworm` -> 16."""
    _, sep, tag = image.rpartition(":")
    assert sep, f"image {image!r} is not pinned to a version"
    match = re.match(r"\d+", tag)
    assert match, f"image {image!r} has no numeric version tag"
    return int(match.group())


# -------------------------------------------------------------------------------- compose


def test_compose_has_the_three_services_with_healthchecks() -> None:
    services = compose_services()
    for name in SERVICES:
        assert name in services, f"service {name!r} is missing"
        healthcheck = services[name].get("healthcheck")
        assert isinstance(healthcheck, dict), f"service {name!r} has no healthcheck"
        assert healthcheck.get("test"), f"service {name!r} healthcheck has no test"
        assert not healthcheck.get("disable"), f"service {name!r} disables its healthcheck"


def test_compose_images_are_postgres_16_and_redis_7() -> None:
    services = compose_services()
    assert str(services["postgres"]["image"]).startswith("postgres:")
    assert image_major(str(services["postgres"]["image"])) == 16
    assert str(services["redis"]["image"]).startswith("redis:")
    assert image_major(str(services["redis"]["image"])) == 7


def test_api_waits_for_healthy_dependencies_and_probes_readiness() -> None:
    api = compose_services()["api"]
    depends_on = api.get("depends_on")
    assert isinstance(depends_on, dict)
    for dependency in ("postgres", "redis"):
        assert depends_on[dependency]["condition"] == "service_healthy"
    assert "/health/ready" in json.dumps(api["healthcheck"]["test"])


def test_compose_runs_only_real_cli_subcommands_with_accepted_options() -> None:
    services = compose_services()
    invoked: list[list[str]] = []
    problems: list[str] = []
    for name, service in services.items():
        for key in ("entrypoint", "command"):
            invoked.extend(hostledger_invocations(simple_commands(service.get(key))))
            problems.extend(f"{name}.{key}: {p}" for p in invocation_problems(service.get(key)))
    assert problems == []
    assert [args[0] for args in invoked] == ["migrate", "serve"]


def test_postgres_accepts_every_connection_the_api_workers_may_open() -> None:
    """`max_connections` covers the workers times what one opens at most, with room left
    for a job and an operator's psql."""
    services = compose_services()
    [serve] = [
        args
        for args in hostledger_invocations(simple_commands(services["api"].get("command")))
        if args[0] == "serve"
    ]
    workers = int(serve[serve.index("--workers") + 1]) if "--workers" in serve else 1
    environment = services["api"].get("environment") or {}
    pool_size = environment.get("HOSTLEDGER_DATABASE_POOL_SIZE")
    settings = DatabaseSettings(**({"pool_size": int(pool_size)} if pool_size else {}))
    postgres = [str(word) for word in services["postgres"].get("command") or []]
    limits = [word.split("=", 1)[1] for word in postgres if word.startswith("max_connections=")]
    max_connections = int(limits[0]) if limits else 100  # PostgreSQL's default

    # The workers, one job process (a billing run builds the same three pools) and a few
    # connections for an operator.
    needed = (workers + 1) * connections_per_process(settings) + 10
    assert max_connections >= needed, (
        f"{workers} workers and a job may open {needed} connections;"
        f" max_connections is {max_connections}"
    )


def test_compose_sets_only_real_settings() -> None:
    names: set[str] = set()
    for service in compose_services().values():
        names |= environment_names(service.get("environment"))
    hostledger_names = {name for name in names if name.startswith(ENV_PREFIX)}
    assert {"HOSTLEDGER_ENV", "HOSTLEDGER_DATABASE_URL"} <= hostledger_names
    assert env_problems(hostledger_names) == []


def test_compose_interpolates_only_real_settings() -> None:
    """`${HOSTLEDGER_…:?…}` references read the host environment: same names, same rule."""
    referenced = set(_INTERPOLATION.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    assert env_problems(referenced) == []


# ----------------------------------------------------------------------------- Dockerfile


def test_dockerfile_cmd_runs_only_real_cli_subcommands_with_accepted_options() -> None:
    argv = dockerfile_cmd(DOCKERFILE.read_text(encoding="utf-8"))
    invoked = hostledger_invocations(simple_commands(argv))
    assert [args[0] for args in invoked] == ["migrate", "serve"]
    assert invocation_problems(argv) == []


def test_dockerfile_sets_only_real_settings() -> None:
    assert env_problems(dockerfile_env_names(DOCKERFILE.read_text(encoding="utf-8"))) == []


# ------------------------------------------------------------------- the checkers themselves


def test_shell_parsing_finds_each_invocation() -> None:
    command = ["sh", "-c", "FOO=1 hostledger migrate && exec hostledger serve --port 8000"]
    assert hostledger_invocations(simple_commands(command)) == [
        ["migrate"],
        ["serve", "--port", "8000"],
    ]
    assert hostledger_invocations(simple_commands("hostledger migrate; echo done")) == [["migrate"]]


@pytest.mark.parametrize(
    "command",
    [
        "hostledger nonsense",
        "hostledger migrate && hostledger nonsense --host 0.0.0.0",
        "hostledger serve --bogus",
        "hostledger serve --workers 0",
        "hostledger serve --port eighty",
        "hostledger serve --host",
        "hostledger",
    ],
)
def test_checker_rejects_made_up_invocations(command: str) -> None:
    assert invocation_problems(["sh", "-c", command]) != []


def test_checker_accepts_a_real_invocation() -> None:
    assert invocation_problems("hostledger serve --host 0.0.0.0 --port 8000 --workers 2") == []


@pytest.mark.parametrize("name", ["HOSTLEDGER_NOPE", "HOSTLEDGER_DATABASE", "HOSTLEDGER_SECRET"])
def test_checker_rejects_made_up_settings(name: str) -> None:
    assert env_problems({name, "HOSTLEDGER_ENV"}) != []
    assert env_problems({"HOSTLEDGER_ENV", "PATH"}) == []
