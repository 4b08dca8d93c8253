"""`studio job ...`, as `az ml job`: create (job_submit.py), and list, show, stream,
download, cancel, archive (job_runs.py)."""

from __future__ import annotations

import click


@click.group()
def job() -> None:
    """Jobs of a workspace (-w NAME): create, list, show, stream, download, cancel, archive."""


def _register() -> None:
    from . import job_runs, job_submit

    for module in (job_submit, job_runs):
        for command in getattr(module, "COMMANDS", ()):
            job.add_command(command)


_register()
