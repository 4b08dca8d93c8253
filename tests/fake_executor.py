"""A scripted executor, a test double for the unit tests of the runner (it lives with the tests,
not in the product): no process, no container, no clock.

    fake = FakeExecutor(["epoch 1", ("stderr", "warning"), MetricEvent(...)],
                        outcome=Outcome.from_exit(0))
    register("fake", lambda **_: fake)           # so get_executor("fake") returns it

Plain strings become stdout lines and ("stderr", text) pairs stderr lines, numbered 1, 2, ...
in order; LogEvent/MetricEvent/Heartbeat items are yielded as given. Timestamps are fixed
(2026-01-01 00:00:00 UTC plus one second per item), so runs are deterministic. `calls`
records what the runner did: ("start", job_id), ("events", job_id, after_seq),
("poll", job_id), ("cancel", job_id), ("cleanup", job_id).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from apps.jobs.executors.base import (
    STDERR,
    STDOUT,
    Event,
    ExecutorError,
    Handle,
    HandleNotFound,
    Heartbeat,
    LogEvent,
    MetricEvent,
    Orphan,
    Outcome,
    RunSpec,
)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ScriptItem = str | tuple[str, str] | LogEvent | MetricEvent | Heartbeat


def build_script(items: Iterable[ScriptItem]) -> list[Event]:
    """Number plain lines and give every item a fixed timestamp."""
    events: list[Event] = []
    seq = 0
    for i, item in enumerate(items):
        ts = EPOCH + timedelta(seconds=i)
        if isinstance(item, str):
            item = (STDOUT, item)
        if isinstance(item, tuple):
            stream, text = item
            if stream not in (STDOUT, STDERR):
                raise ValueError(f"script item {i}: unknown stream {stream!r}")
            seq += 1
            events.append(LogEvent(seq, stream, text, ts))
        elif isinstance(item, LogEvent):
            if not item.partial:
                seq = item.seq
            events.append(item)
        elif isinstance(item, MetricEvent | Heartbeat):
            events.append(item)
        else:
            raise TypeError(f"script item {i}: {item!r} is not a line or an event")
    return events


@dataclass
class _Job:
    spec: RunSpec
    handle: Handle
    events: list[Event]
    outcome: Outcome
    drained: bool = False
    canceled: bool = False
    cleaned: bool = False


@dataclass
class FakeExecutor:
    script: list[ScriptItem] = field(default_factory=lambda: ["hello from the fake executor"])
    outcome: Outcome = field(default_factory=lambda: Outcome.from_exit(0))
    start_error: Exception | None = None
    stop_after: int | None = None  # events() stops after this many events (a lost reader)
    name: str = "fake"
    isolated: bool = True
    calls: list[tuple] = field(default_factory=list)
    jobs: dict[str, _Job] = field(default_factory=dict)
    scripts: dict[str, tuple[list[ScriptItem], Outcome]] = field(default_factory=dict)
    _started: int = 0

    def script_for(self, job_id: str, script: list[ScriptItem], outcome: Outcome) -> None:
        """Give one job its own script (others use the default)."""
        self.scripts[job_id] = (script, outcome)

    def _job(self, handle: Handle) -> _Job:
        if handle.executor != self.name:
            raise ValueError(f"handle of executor {handle.executor!r} given to {self.name!r}")
        try:
            return self.jobs[handle.job_id]
        except KeyError:
            raise HandleNotFound(f"fake job {handle.job_id} was never started") from None

    def start(self, spec: RunSpec) -> Handle:
        self.calls.append(("start", spec.job_id))
        if self.start_error is not None:
            raise self.start_error
        if spec.job_id in self.jobs and not self.jobs[spec.job_id].cleaned:
            raise ExecutorError(f"job {spec.job_id} already started; clean it up first")
        script, outcome = self.scripts.get(spec.job_id, (self.script, self.outcome))
        self._started += 1
        handle = Handle(self.name, f"fake-{self._started}", spec.job_id)
        self.jobs[spec.job_id] = _Job(spec, handle, build_script(script), outcome)
        return handle

    def events(self, handle: Handle, after_seq: int = 0) -> Iterator[Event]:
        self.calls.append(("events", handle.job_id, after_seq))
        job = self._job(handle)
        return self._events(job, after_seq)

    def _events(self, job: _Job, after_seq: int) -> Iterator[Event]:
        # Resume right after the final line numbered after_seq.
        start = 0
        for i, event in enumerate(job.events):
            if isinstance(event, LogEvent) and not event.partial and event.seq <= after_seq:
                start = i + 1
        yielded = 0
        last_seq = after_seq
        for event in job.events[start:]:
            if job.canceled:
                return
            if self.stop_after is not None and yielded >= self.stop_after:
                return
            if isinstance(event, Heartbeat):
                event = replace(event, last_seq=last_seq)
            elif isinstance(event, LogEvent) and not event.partial:
                last_seq = event.seq
            yielded += 1
            yield event
        job.drained = True

    def poll(self, handle: Handle) -> Outcome | None:
        self.calls.append(("poll", handle.job_id))
        job = self._job(handle)
        if job.cleaned:
            return Outcome.lost(f"fake job {handle.job_id} was cleaned up")
        if job.canceled:
            return Outcome.canceled(None)
        return job.outcome if job.drained else None

    def cancel(self, handle: Handle) -> None:
        self.calls.append(("cancel", handle.job_id))
        job = self._job(handle)
        if not job.drained:
            job.canceled = True

    def cleanup(self, handle: Handle) -> None:
        self.calls.append(("cleanup", handle.job_id))
        job = self.jobs.get(handle.job_id)
        if job is not None:
            job.cleaned = True

    def find_orphans(self) -> list[Orphan]:
        return [
            Orphan(
                job_id, job.handle, "exited" if job.drained or job.canceled else "running", EPOCH
            )
            for job_id, job in self.jobs.items()
            if not job.cleaned
        ]
