"""`studio`: the command-line client of the studio, modelled on `az ml` (Azure ML CLI v2).

A pure HTTP client of the REST API. Every failure ends as one `error: ...` line on stderr
and a non-zero exit (2 for usage and validation, 1 for the rest); never a traceback, unless
STUDIO_DEBUG=1 asks for one.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .auth import configure, login, logout
from .common import global_options
from .component import component
from .compute import compute
from .data import data
from .datastore import datastore
from .environment import environment
from .errors import USAGE, CliError
from .job import job
from .model import model
from .user import user
from .workspace import workspace


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def report(exc: BaseException) -> int:
    """Print an exception as one `error:` line; return the exit code."""
    from .yamlio import YamlError

    if isinstance(exc, CliError):
        message, code = str(exc), exc.exit_code
    elif isinstance(exc, YamlError):
        message, code = str(exc), USAGE
    elif isinstance(exc, click.UsageError):
        message, code = exc.format_message(), exc.exit_code
        if exc.ctx is not None:
            message = f"{message} (see '{exc.ctx.command_path} --help')"
    elif isinstance(exc, click.ClickException):
        message, code = exc.format_message(), exc.exit_code
    elif isinstance(exc, click.Abort):
        interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
        message, code = ("interrupted", 130) if interrupted else ("aborted", 1)
    else:
        message, code = f"unexpected {type(exc).__name__}: {exc} (STUDIO_DEBUG=1 shows where)", 1
    click.echo(f"error: {_one_line(message)}", err=True)
    return code


class StudioGroup(click.Group):
    """The root group: runs the command, and turns whatever goes wrong into one line."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help())
            rv = 0
        except BrokenPipeError:
            # `studio workspace list | head`: the reader left; say nothing more.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stops the flush at exit failing
            rv = 1
        except Exception as exc:
            if os.environ.get("STUDIO_DEBUG") and not isinstance(exc, click.ClickException):
                raise
            rv = report(exc)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(
    cls=StudioGroup, name="studio", context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="studio", prog_name="studio")
@global_options
def cli() -> None:
    """The studio's command line, modelled on `az ml`.

    \b
    Start with:
      studio login --url http://127.0.0.1:8000 --token stu_...
      studio workspace create --file workspace.yml
      studio workspace list
    """


cli.add_command(login)
cli.add_command(logout)
cli.add_command(configure)
cli.add_command(workspace)
cli.add_command(datastore)
cli.add_command(compute)
cli.add_command(user)
for _group in (data, environment, model, component, job):
    cli.add_command(_group)


def main(argv: list[str] | None = None) -> Any:
    """The console script `studio`."""
    return cli.main(args=argv, prog_name="studio")
