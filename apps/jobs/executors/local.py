"""Runs jobs as local processes: the `local` compute target, and machines without Docker.

Each job gets a supervisor process (_local_supervisor.py, in a session of its own) that runs
the command with `/bin/bash -c` in a new process group, numbers its output lines into
`<state_dir>/<job_id>/events.jsonl`, enforces the timeout and writes `outcome.json`. So, as with
Docker, any process holding the Handle can replay the events from the start (same seq every
time), poll, cancel and clean up, and a worker restart does not kill the job.

No isolation: the job sees the host's filesystem and network. Limits are best effort:
memory with RLIMIT_AS (address space, so the job sees MemoryError rather than an OOM kill),
CPUs with CPU affinity, network "none" with a new network namespace and the spec's user by
switching uid/gid (both only when the studio runs as root; otherwise start() refuses
network "none", and the job runs as the studio's own user). docs/executors.md has the table.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .base import (
    CA_BUNDLE_ENV,
    Event,
    ExecutorError,
    Handle,
    HandleNotFound,
    Heartbeat,
    LogEvent,
    Orphan,
    Outcome,
    OutcomeKind,
    RunSpec,
    SpecError,
    access_problem,
    now,
    process_token,
)

SUPERVISOR = Path(__file__).with_name("_local_supervisor.py")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class LocalExecutor:
    name = "local"
    isolated = False

    def __init__(
        self,
        *,
        state_dir: str | os.PathLike | None = None,
        switch_user: bool | None = None,
        heartbeat_seconds: float = 1.0,
        stop_grace_seconds: float = 1.0,
        shell: tuple[str, ...] = ("/bin/bash", "-c"),
    ):
        default = Path(tempfile.gettempdir()) / "studio-local-executor"
        self.state_dir = Path(state_dir) if state_dir else default
        self.is_root = os.geteuid() == 0
        self.switch_user = self.is_root if switch_user is None else switch_user
        self.heartbeat_seconds = heartbeat_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.shell = tuple(shell)
        self._children: dict[str, subprocess.Popen] = {}

    # --- paths -----------------------------------------------------------------------------
    def _job_dir(self, handle_or_job: Handle | str) -> Path:
        job_id = handle_or_job.job_id if isinstance(handle_or_job, Handle) else handle_or_job
        return self.state_dir / job_id

    def _check(self, handle: Handle) -> None:
        if handle.executor != self.name:
            raise ValueError(f"handle of executor {handle.executor!r} given to {self.name!r}")

    # --- start -----------------------------------------------------------------------------
    def supervisor_config(self, spec: RunSpec, bin_dir: str | None) -> dict:
        """What the supervisor gets (validated here: SpecError names the field)."""
        uid, gid = (spec.uid, spec.gid) if self.switch_user else (os.geteuid(), os.getegid())
        cwd = spec.working_dir or tempfile.gettempdir()
        if not os.path.isdir(cwd):
            raise SpecError("working_dir", f"{cwd} is not a directory on this machine")
        problem = access_problem(cwd, uid, gid, write=False, parents=True)
        if problem:
            raise SpecError("working_dir", problem)
        if spec.python and not os.access(spec.python, os.X_OK):
            raise SpecError("python", f"{spec.python} is not an executable")
        problem = spec.python and access_problem(
            os.path.realpath(spec.python), uid, gid, write=False, parents=True
        )
        if problem:
            raise SpecError("python", problem)
        for i, mount in enumerate(spec.mounts):
            if os.path.normpath(mount.target) != os.path.normpath(mount.source):
                raise SpecError(
                    f"mounts[{i}].target",
                    "the local executor has no filesystem isolation: the target must be "
                    "the source path itself",
                )
            if not os.path.exists(mount.source):
                raise SpecError(f"mounts[{i}].source", f"{mount.source} does not exist")
            problem = access_problem(
                mount.source, uid, gid, write=not mount.read_only, parents=True
            )
            if problem:
                raise SpecError(f"mounts[{i}].source", problem)
        if spec.ca_bundle and not os.path.isfile(spec.ca_bundle):
            raise SpecError("ca_bundle", f"{spec.ca_bundle} is not a file")
        problem = spec.ca_bundle and access_problem(
            spec.ca_bundle, uid, gid, write=False, parents=True
        )
        if problem:
            raise SpecError("ca_bundle", problem)
        if spec.network not in ("bridge", "none"):
            raise SpecError("network", "the local executor knows only bridge (host) and none")
        if spec.network == "none" and not self.is_root:
            raise SpecError("network", "'none' needs the local executor to run as root")
        if spec.gpus:
            raise SpecError("gpus", "the local executor does not assign GPUs")
        for key in ("copy_in", "copy_out"):
            if getattr(spec, key):
                raise SpecError(key, "the local executor shares this machine's files: use mounts")

        path = [p for p in (bin_dir, spec.python and os.path.dirname(spec.python)) if p]
        env = {
            "PATH": ":".join([*path, os.environ.get("PATH") or DEFAULT_PATH]),
            "LANG": os.environ.get("LANG") or "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "HOME": "/tmp" if self.switch_user else os.environ.get("HOME", "/tmp"),
        }
        if spec.ca_bundle:
            env.update({name: spec.ca_bundle for name in CA_BUNDLE_ENV})
        env.update(spec.env)
        return {
            "job_id": spec.job_id,
            "argv": [*self.shell, spec.command],
            "env": env,
            "cwd": cwd,
            "uid": spec.uid if self.switch_user else None,
            "gid": spec.gid if self.switch_user else None,
            "rlimit_as": spec.memory_bytes,
            "cpu_count": math.ceil(spec.cpus) if spec.cpus else None,
            "unshare_net": spec.network == "none",
            "timeout": spec.timeout_seconds,
            "grace": self.stop_grace_seconds,
            "bin_dir": bin_dir,
            "labels": dict(spec.labels),
        }

    def start(self, spec: RunSpec) -> Handle:
        job_dir = self._job_dir(spec.job_id)
        bin_dir = None
        if spec.python:
            # `python` and `python3` name the spec's interpreter, whatever its file is called.
            bin_dir = tempfile.mkdtemp(prefix="studio-local-bin-")
            os.chmod(bin_dir, 0o755)
        try:
            config = self.supervisor_config(spec, bin_dir)
            if bin_dir:
                for alias in ("python", "python3"):
                    os.symlink(os.path.abspath(spec.python), os.path.join(bin_dir, alias))
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(self.state_dir)
            if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
                raise ExecutorError(f"{self.state_dir} is not a directory of this user's own")
            try:
                job_dir.mkdir(mode=0o700)
            except FileExistsError:
                raise ExecutorError(
                    f"job {spec.job_id} already has local state in {job_dir}; clean it up first"
                ) from None
        except BaseException:
            if bin_dir:
                shutil.rmtree(bin_dir, ignore_errors=True)
            raise
        config_path = job_dir / "job.json"
        with open(os.open(config_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
            json.dump(config, fh)  # holds the env (secrets): readable by us only
        with open(job_dir / "supervisor.log", "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SUPERVISOR), str(job_dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        token = process_token(child.pid)  # our unreaped child: alive or a zombie, never reused
        launched = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (job_dir / "supervisor.json").exists():
                launched = True
                break
            if (job_dir / "outcome.json").exists() or child.poll() is not None:
                break
            time.sleep(0.005)
        launched = launched or (job_dir / "supervisor.json").exists()  # a job done at once
        if not launched or token is None:
            outcome = self._read_outcome(job_dir)
            detail = outcome.reason if outcome else self._supervisor_log(job_dir)
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            child.wait()
            self._remove(job_dir)
            raise ExecutorError(f"job {spec.job_id} did not start: {detail}")
        self._children[spec.job_id] = child
        return Handle(executor=self.name, external_id=f"{child.pid}:{token}", job_id=spec.job_id)

    def _supervisor_log(self, job_dir: Path) -> str:
        try:
            return (job_dir / "supervisor.log").read_text(errors="replace").strip()[-2000:]
        except OSError:
            return "the supervisor ended without a word"

    # --- state -----------------------------------------------------------------------------
    def _read_outcome(self, job_dir: Path) -> Outcome | None:
        try:
            data = json.loads((job_dir / "outcome.json").read_text())
        except (OSError, ValueError):
            return None
        return Outcome(
            data["exit_code"],
            data["reason"],
            OutcomeKind(data["kind"]),
            tuple(data.get("tail", ())),
        )

    def _settle(self, job_dir: Path, outcome: Outcome) -> Outcome:
        """Record the outcome of a job whose supervisor could not (it died, or was killed),
        unless it managed to after all."""
        recorded = self._read_outcome(job_dir)
        if recorded is not None or not job_dir.exists():
            return recorded or outcome
        data = {
            "exit_code": outcome.exit_code,
            "kind": str(outcome.kind),
            "reason": outcome.reason,
            "tail": list(outcome.tail),
        }
        tmp = job_dir / "outcome.json.executor"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, job_dir / "outcome.json")
        return outcome

    def _supervisor_alive(self, handle: Handle) -> bool:
        self._reap(handle.job_id)
        pid, _, token = handle.external_id.partition(":")
        current = process_token(int(pid))
        return current is not None and (current == token or "-" in (current, token))

    def _job_pid(self, job_dir: Path) -> tuple[int | None, str | None]:
        try:
            data = json.loads((job_dir / "supervisor.json").read_text())
            return int(data["job_pid"]), data.get("job_token")
        except (OSError, ValueError, KeyError):
            return None, None

    def _reap(self, job_id: str) -> None:
        child = self._children.get(job_id)
        if child is not None and child.poll() is not None:
            self._children.pop(job_id, None)

    def _kill_everything(self, handle: Handle) -> None:
        job_pid, job_token = self._job_pid(self._job_dir(handle))
        if job_pid and process_token(job_pid) == job_token:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job_pid, signal.SIGKILL)
        if self._supervisor_alive(handle):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(handle.external_id.split(":")[0]), signal.SIGKILL)
        child = self._children.pop(handle.job_id, None)
        if child is not None:
            child.wait()

    # --- poll / cancel / cleanup -----------------------------------------------------------
    def poll(self, handle: Handle) -> Outcome | None:
        self._check(handle)
        job_dir = self._job_dir(handle)
        if not job_dir.exists():
            return Outcome.lost(f"job {handle.job_id} has no local state (cleaned up?)")
        outcome = self._read_outcome(job_dir)
        if outcome is not None:
            self._reap(handle.job_id)
            return outcome
        if self._supervisor_alive(handle):
            return None
        self._kill_everything(handle)
        return self._settle(job_dir, Outcome.lost(f"the supervisor of job {handle.job_id} died"))

    def cancel(self, handle: Handle) -> None:
        self._check(handle)
        job_dir = self._job_dir(handle)
        if not job_dir.exists() or self._read_outcome(job_dir) is not None:
            return
        if self._supervisor_alive(handle):
            os.kill(int(handle.external_id.split(":")[0]), signal.SIGTERM)
            deadline = time.monotonic() + self.stop_grace_seconds + 0.7
            while time.monotonic() < deadline:
                if self._read_outcome(job_dir) is not None:
                    self._reap(handle.job_id)
                    return
                time.sleep(0.02)
        self._kill_everything(handle)
        self._settle(job_dir, Outcome.canceled(None))

    def cleanup(self, handle: Handle) -> None:
        self._check(handle)
        job_dir = self._job_dir(handle)
        if self._read_outcome(job_dir) is None and job_dir.exists():
            self._kill_everything(handle)
        self._children.pop(handle.job_id, None)
        self._remove(job_dir)

    def _remove(self, job_dir: Path) -> None:
        try:
            bin_dir = json.loads((job_dir / "job.json").read_text()).get("bin_dir")
        except (OSError, ValueError):
            bin_dir = None
        if bin_dir and os.path.basename(bin_dir).startswith("studio-local-bin-"):
            shutil.rmtree(bin_dir, ignore_errors=True)
        shutil.rmtree(job_dir, ignore_errors=True)

    def find_orphans(self) -> list[Orphan]:
        orphans = []
        if not self.state_dir.is_dir():
            return orphans
        for job_dir in sorted(self.state_dir.iterdir()):
            try:
                sup = json.loads((job_dir / "supervisor.json").read_text())
            except (OSError, ValueError):
                continue
            pid = int(sup["pid"])
            token = process_token(pid)
            handle = Handle(self.name, f"{pid}:{token or '?'}", job_dir.name)
            if (job_dir / "outcome.json").exists():
                state = "exited"
            elif token is not None:
                state = "running"
            else:
                state = "dead"
            created = datetime.fromtimestamp(float(sup["started"]), UTC)
            orphans.append(Orphan(job_dir.name, handle, state, created))
        return orphans

    # --- events ----------------------------------------------------------------------------
    def events(self, handle: Handle, after_seq: int = 0) -> Iterator[Event]:
        self._check(handle)
        job_dir = self._job_dir(handle)
        if not (job_dir / "events.jsonl").exists():
            raise HandleNotFound(f"job {handle.job_id} has no local state in {self.state_dir}")
        return self._events(handle, job_dir, after_seq)

    def _events(self, handle: Handle, job_dir: Path, after_seq: int) -> Iterator[Event]:
        last_seq = after_seq
        pending: dict[str, LogEvent] = {}  # latest partial state per stream, not yet shown
        last_yield = time.monotonic()
        rest = b""
        with open(job_dir / "events.jsonl", "rb") as fh:
            while True:
                ended = self._read_outcome(job_dir) is not None  # before reading: no race
                data = fh.read()
                if data:
                    lines = (rest + data).split(b"\n")
                    rest = lines.pop()
                    for line in lines:
                        record = json.loads(line)
                        event = LogEvent(
                            record["seq"],
                            record["stream"],
                            record["text"],
                            datetime.fromtimestamp(record["ts"], UTC),
                            bool(record.get("partial")),
                        )
                        if event.partial:
                            if event.seq >= after_seq:
                                pending[event.stream] = event
                            continue
                        pending.pop(event.stream, None)
                        if event.seq > after_seq:
                            last_seq = event.seq
                            last_yield = time.monotonic()
                            yield event
                    continue  # read until there is nothing more right now
                for stream in list(pending):
                    event = pending.pop(stream)
                    last_yield = time.monotonic()
                    yield LogEvent(last_seq, event.stream, event.text, event.ts, partial=True)
                if ended:
                    return
                if not self._supervisor_alive(handle) and self._read_outcome(job_dir) is None:
                    return  # lost; poll() says so
                if time.monotonic() - last_yield >= self.heartbeat_seconds:
                    last_yield = time.monotonic()
                    yield Heartbeat(now(), last_seq)
                time.sleep(0.05)
