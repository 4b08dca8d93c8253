"""The execution layer: run a job's command somewhere and stream back what it does.

    from apps.jobs.executors import RunSpec, get_executor

    executor = get_executor("docker")            # or "local"
    handle = executor.start(RunSpec(job_id=..., image=..., command="python main.py"))
    for event in executor.events(handle):        # LogEvent / MetricEvent / Heartbeat
        ...
    outcome = executor.poll(handle)              # Outcome(exit_code, reason, kind, tail)
    executor.cleanup(handle)

No Django here: the runner (apps/jobs/runner.py) owns the lifecycle and the database.
docs/executors.md describes the contract.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .base import (
    Event,
    Executor,
    ExecutorError,
    Handle,
    HandleNotFound,
    Heartbeat,
    LogEvent,
    MetricEvent,
    Mount,
    Orphan,
    Outcome,
    OutcomeKind,
    RunSpec,
    SpecError,
)

__all__ = [
    "Event",
    "Executor",
    "ExecutorError",
    "Handle",
    "HandleNotFound",
    "Heartbeat",
    "LogEvent",
    "MetricEvent",
    "Mount",
    "Orphan",
    "Outcome",
    "OutcomeKind",
    "RunSpec",
    "SpecError",
    "get_executor",
    "register",
    "registered",
]

# name -> "module:Class" (imported on first use, so `docker` is only imported when needed)
# or a callable taking the options.
_REGISTRY: dict[str, str | Callable[..., Executor]] = {
    "docker": "apps.jobs.executors.docker:DockerExecutor",
    "local": "apps.jobs.executors.local:LocalExecutor",
}


def register(name: str, target: str | Callable[..., Executor]) -> None:
    """Add or replace an executor: a "module:Class" path or a factory callable."""
    _REGISTRY[name] = target


def registered() -> list[str]:
    return sorted(_REGISTRY)


def get_executor(name: str, **options) -> Executor:
    """A new executor named `name` (settings.STUDIO_EXECUTOR, or a Handle's `executor`),
    built with `options` (e.g. DockerExecutor(instance=...), LocalExecutor(state_dir=...))."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        known = ", ".join(registered())
        raise ExecutorError(f"unknown executor {name!r} (known: {known})") from None
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
    return target(**options)
