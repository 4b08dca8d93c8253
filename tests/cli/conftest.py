"""Run the real `studio` CLI (click's CliRunner) against a real studio (pytest-django's
live_server), as a user with a real personal token, with HOME in the test's tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from apps.workspaces import services
from studio.cli.main import cli

# Settings a developer's shell may carry; each run starts from none of them.
CLI_ENV = ("STUDIO_URL", "STUDIO_TOKEN", "STUDIO_WORKSPACE", "STUDIO_CONFIG", "STUDIO_DEBUG")


def invoke(args, *, home: Path, env: dict | None = None, input: str | None = None) -> Result:
    environment: dict[str, str | None] = dict.fromkeys(CLI_ENV)
    environment["HOME"] = str(home)
    environment.update(env or {})
    return CliRunner().invoke(cli, list(args), env=environment, input=input, catch_exceptions=False)


def error_line(result: Result) -> str:
    """The one `error: ...` line a failed command prints (and nothing traceback-like)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.fixture
def token_of(db) -> Callable:
    """A real personal API token for a user (one per user per test)."""
    tokens: dict[int, str] = {}

    def token_of(user) -> str:
        if user.pk not in tokens:
            _, tokens[user.pk] = services.token_create(actor=user, name="cli")
        return tokens[user.pk]

    return token_of


@pytest.fixture
def studio(live_server, tmp_path, token_of) -> Callable[..., Result]:
    """`studio("workspace", "list", user=owner)`: the CLI as that user, against live_server."""

    def run(*args: str, user=None, input: str | None = None, env: dict | None = None) -> Result:
        environment: dict[str, str | None] = {"STUDIO_URL": live_server.url}
        if user is not None:
            environment["STUDIO_TOKEN"] = token_of(user)
        environment.update(env or {})
        return invoke(args, home=tmp_path, env=environment, input=input)

    return run
