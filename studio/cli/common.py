"""What every command shares: the global options (-w, -o, --url, --token), the resolved
settings behind them, and printing. Heavy imports (requests, yaml) stay inside functions so
`studio --help` starts fast."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import click

from . import config
from .errors import CliError, UsageFault
from .output import FORMATS, Column

if TYPE_CHECKING:
    from .client import Client

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class State:
    """The global options of one invocation; a subcommand's options override its parent's."""

    workspace: str | None = None
    output: str | None = None
    url: str | None = None
    token: str | None = None
    _saved: dict[str, Any] | None = field(default=None, repr=False)

    def saved(self) -> dict[str, Any]:
        if self._saved is None:
            self._saved = config.load()
        return self._saved

    def setting(self, key: str) -> str | None:
        return config.resolve(key, getattr(self, key), self.saved())

    def client(self) -> Client:
        from .client import Client

        url = self.setting("url")
        if not url:
            raise CliError(
                "not logged in: run 'studio login --url URL --token TOKEN' "
                "(or set STUDIO_URL and STUDIO_TOKEN)"
            )
        token = self.setting("token")
        if not token:
            raise CliError(
                f"no token for {url}: run 'studio login --url {url} --token TOKEN' "
                "(or set STUDIO_TOKEN)"
            )
        return Client(url, token)

    def workspace_name(self, explicit: str | None = None) -> str:
        """The workspace a command acts on: --name/-w, then $STUDIO_WORKSPACE, then the
        saved default."""
        name = explicit or self.setting("workspace")
        if not name:
            raise UsageFault(
                "no workspace given: pass -w NAME, set STUDIO_WORKSPACE, or save a default "
                "with 'studio configure --defaults workspace=NAME'"
            )
        return name

    def emit(self, data: Any, *, default: str, columns: Sequence[Column] | None = None) -> None:
        from .output import emit

        emit(data, (self.output or default).lower(), columns=columns)


pass_state = click.make_pass_decorator(State, ensure=True)


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    state = ctx.ensure_object(State)
    if value is not None and param.name:
        setattr(state, param.name, value)
    return value


GLOBAL_OPTIONS = (
    click.option(
        "-w",
        "--workspace",
        metavar="NAME",
        expose_value=False,
        callback=_store,
        help="Workspace to act on (default: $STUDIO_WORKSPACE, then the saved default).",
    ),
    click.option(
        "-o",
        "--output",
        type=click.Choice(FORMATS, case_sensitive=False),
        expose_value=False,
        callback=_store,
        help="Output format (default: table for lists, yaml otherwise).",
    ),
    click.option(
        "--url",
        metavar="URL",
        expose_value=False,
        callback=_store,
        help="Studio URL (default: $STUDIO_URL, then the one saved by login).",
    ),
    click.option(
        "--token",
        metavar="TOKEN",
        expose_value=False,
        callback=_store,
        help="API token (default: $STUDIO_TOKEN, then the one saved by login).",
    ),
)


def global_options(f: F) -> F:
    """Add -w/--workspace, -o/--output, --url and --token to a command or group."""
    for option in reversed(GLOBAL_OPTIONS):
        f = option(f)
    return f


def seg(value: str) -> str:
    """One URL path segment (a workspace or user name), escaped."""
    return quote(str(value), safe="")


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def note(message: str) -> None:
    """A remark for people, on stderr, so stdout stays the command's result."""
    click.echo(message, err=True)


def confirm_or_refuse(question: str, *, refusal: str) -> bool:
    """Ask a yes/no question. On a terminal, prompt; otherwise read one answer line from
    stdin (`echo y | studio ...`). With nothing to read, refuse with `refusal` (exit 2)
    rather than hang or guess."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        raise UsageFault(refusal)
    if stdin.isatty():
        try:
            return click.confirm(question, default=False, err=True)
        except click.Abort:
            click.echo(err=True)
            return False
    try:
        line = stdin.readline()
    except (OSError, ValueError):
        line = ""
    if not line:
        raise UsageFault(refusal)
    answer = line.strip().lower()
    click.echo(f"{question} [y/N]: {answer}", err=True)
    return answer in ("y", "yes")
