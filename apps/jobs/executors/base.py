"""The execution contract: what a job runner hands an executor and what it gets back.

Pure Python, no Django: the runner (Django side) builds a `RunSpec`, calls `start()`, persists
the returned `Handle`, drains `events()`, and asks `poll()` for the `Outcome`. docs/executors.md
describes the guarantees (seq, resume, reasons) and what a runner must do.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

STDOUT = "stdout"
STDERR = "stderr"
TAIL_LINES = 20  # stderr lines kept in Outcome.tail
PARTIAL_INTERVAL = 0.5  # seconds between two partial (provisional) states of a stream
MAX_LINE_BYTES = 64 * 1024  # a longer line is passed on in pieces of this size
MIB = 1024**2
GIB = 1024**3

# Where a Docker engine socket may live; a mount that exposes one is refused.
DOCKER_SOCKET_PATHS = ("/var/run/docker.sock", "/run/docker.sock")
CA_BUNDLE_TARGET = "/etc/ssl/certs/ca-certificates.crt"
CA_BUNDLE_ENV = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER = re.compile(r"^\d+(:\d+)?$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")


class ExecutorError(Exception):
    """The executor could not do what was asked (engine down, image missing, ...)."""


class SpecError(ExecutorError, ValueError):
    """A RunSpec field is invalid or not supported by this executor; `field` names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class HandleNotFound(ExecutorError):
    """The handle names nothing this executor can find (removed, or never started)."""


class OutcomeKind(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    OOM = "oom"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    LOST = "lost"


def format_bytes(n: int) -> str:
    """14 GiB, 1.5 GiB, 64 MiB: the unit a person wrote the limit in."""
    if n >= GIB:
        return f"{round(n / GIB, 2):g} GiB"
    if n >= MIB:
        return f"{round(n / MIB, 2):g} MiB"
    return f"{n} bytes"


def format_seconds(s: float) -> str:
    return f"{s:g} s"


@dataclass(frozen=True)
class Mount:
    """A host path made visible to the job. `source` is a host path; `target` is the path
    inside the container (the local executor has no filesystem isolation and accepts only
    target == source)."""

    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class RunSpec:
    """Everything an executor needs to run one job. Validated on construction (SpecError)."""

    job_id: str
    command: str  # a shell command line, run with `bash -c` (docker) / `/bin/bash -c` (local)
    image: str = ""  # docker: the image to run (never pulled)
    python: str = ""  # local: the python executable, first on PATH as `python`/`python3`
    working_dir: str = ""  # docker: path in the container; local: host directory
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    cpus: float | None = None
    memory_bytes: int | None = None
    gpus: int = 0
    shm_bytes: int | None = None  # docker: size of /dev/shm (the engine's default is 64 MiB)
    pids_limit: int = 4096
    timeout_seconds: float | None = None
    user: str = "1000:1000"  # numeric uid[:gid]; the default is not root
    network: str = "bridge"  # "bridge", "none" or a named network; never "host"
    labels: Mapping[str, str] = field(default_factory=dict)
    extra_hosts: Mapping[str, str] = field(default_factory=dict)  # name -> IP or "host-gateway"
    ca_bundle: str = ""  # host path of a CA bundle, mounted at CA_BUNDLE_TARGET read-only
    # docker: for an engine without the host's filesystem (a remote engine). copy_in: host
    # paths copied into the container before it starts (read_only: owned by root, else by
    # `user`); copy_out: container paths (target) copied back to host paths (source) by
    # DockerExecutor.collect() once the job has ended. Docker only (local runs on the host).
    copy_in: tuple[Mount, ...] = ()
    copy_out: tuple[Mount, ...] = ()

    def __post_init__(self):
        # Copy the mappings so a caller's later changes never reach a started job.
        object.__setattr__(self, "env", dict(self.env))
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "extra_hosts", dict(self.extra_hosts))
        object.__setattr__(self, "mounts", tuple(self.mounts))
        object.__setattr__(self, "copy_in", tuple(self.copy_in))
        object.__setattr__(self, "copy_out", tuple(self.copy_out))
        self._validate()

    def _validate(self) -> None:
        if not isinstance(self.job_id, str) or not _JOB_ID.match(self.job_id):
            raise SpecError("job_id", "must be 1-128 letters, digits, '_', '.' or '-'")
        if not isinstance(self.command, str) or not self.command.strip():
            raise SpecError("command", "must be a non-empty shell command")
        if "\0" in self.command:
            raise SpecError("command", "must not contain NUL characters")
        for key, value in self.env.items():
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                raise SpecError(f"env.{key}", "is not a valid environment variable name")
            if not isinstance(value, str) or "\0" in value:
                raise SpecError(f"env.{key}", "must be a string without NUL characters")
        for i, mount in enumerate(self.mounts):
            if not isinstance(mount, Mount):
                raise SpecError(f"mounts[{i}]", "must be a Mount")
            if not os.path.isabs(mount.source):
                raise SpecError(f"mounts[{i}].source", "must be an absolute host path")
            if not os.path.isabs(mount.target):
                raise SpecError(f"mounts[{i}].target", "must be an absolute path")
            if exposes_docker_socket(mount.source):
                raise SpecError(
                    f"mounts[{i}].source",
                    f"{mount.source} exposes the Docker socket; jobs never get the engine",
                )
        for key in ("copy_in", "copy_out"):
            for i, mount in enumerate(getattr(self, key)):
                if not isinstance(mount, Mount):
                    raise SpecError(f"{key}[{i}]", "must be a Mount")
                if not os.path.isabs(mount.source):
                    raise SpecError(f"{key}[{i}].source", "must be an absolute host path")
                if not os.path.isabs(mount.target) or mount.target.rstrip("/") == "":
                    raise SpecError(f"{key}[{i}].target", "must be an absolute path, not /")
                if key == "copy_in" and exposes_docker_socket(mount.source):
                    raise SpecError(
                        f"{key}[{i}].source",
                        f"{mount.source} exposes the Docker socket; jobs never get the engine",
                    )
        if self.cpus is not None and not (self.cpus > 0):
            raise SpecError("cpus", "must be greater than 0")
        if self.memory_bytes is not None and self.memory_bytes < 6 * MIB:
            raise SpecError("memory_bytes", "must be at least 6 MiB")
        if self.shm_bytes is not None and self.shm_bytes <= 0:
            raise SpecError("shm_bytes", "must be greater than 0")
        if not isinstance(self.gpus, int) or self.gpus < 0:
            raise SpecError("gpus", "must be a whole number, 0 or more")
        if not isinstance(self.pids_limit, int) or self.pids_limit < 16:
            raise SpecError("pids_limit", "must be at least 16")
        if self.timeout_seconds is not None and not (self.timeout_seconds > 0):
            raise SpecError("timeout_seconds", "must be greater than 0")
        if not _USER.match(self.user or ""):
            raise SpecError("user", "must be a numeric uid or uid:gid, e.g. 1000:1000")
        if self.network == "host" or self.network.startswith("container:"):
            raise SpecError("network", f"{self.network!r} is not allowed; use bridge or none")
        if not self.network:
            raise SpecError("network", "must not be empty")
        for key in self.labels:
            if not isinstance(key, str) or not _LABEL_KEY.match(key):
                raise SpecError(f"labels.{key}", "is not a valid label key")
            if key.startswith("studio."):
                raise SpecError(f"labels.{key}", "the studio. prefix is reserved")
        for name, address in self.extra_hosts.items():
            if not name or not isinstance(address, str) or not address:
                raise SpecError(f"extra_hosts.{name}", "needs a host name and an address")
        if self.ca_bundle and not os.path.isabs(self.ca_bundle):
            raise SpecError("ca_bundle", "must be an absolute host path")

    @property
    def uid(self) -> int:
        return int(self.user.split(":")[0])

    @property
    def gid(self) -> int:
        parts = self.user.split(":")
        return int(parts[1]) if len(parts) > 1 else int(parts[0])


def exposes_docker_socket(source: str) -> bool:
    """True when a bind mount of `source` would give the job a Docker engine socket: the
    socket itself, a symlink to it, or a directory that contains it."""
    if os.path.basename(source.rstrip("/")) == "docker.sock":
        return True
    real = os.path.realpath(source)
    sockets = set(DOCKER_SOCKET_PATHS)
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        sockets.add(host[len("unix://") :])
    for sock in sockets:
        real_sock = os.path.realpath(sock)
        for candidate in {sock, real_sock}:
            if real == candidate or candidate.startswith(real.rstrip("/") + "/"):
                return True
    return False


def access_problem(path: str, uid: int, gid: int, *, write: bool, parents: bool) -> str | None:
    """Why the user uid:gid could not use `path` (read it, enter it, and write it when
    `write`), judged by mode bits; None when it can. With `parents`, every directory above
    it must be enterable too (a host path used directly, not a bind mount). A path with a
    POSIX ACL is given the benefit of the doubt."""
    if uid == 0:
        return None
    checks = []
    if parents:
        checks = [(parent, os.X_OK) for parent in _parents(path)]
    want = os.R_OK | (os.W_OK if write else 0) | (os.X_OK if os.path.isdir(path) else 0)
    checks.append((path, want))
    for target, mode in checks:
        try:
            info = os.stat(target)
        except OSError as exc:
            return f"{target}: {exc.strerror}"
        if _has_acl(target):
            continue
        if info.st_uid == uid:
            bits = (info.st_mode >> 6) & 7
        elif info.st_gid == gid:
            bits = (info.st_mode >> 3) & 7
        else:
            bits = info.st_mode & 7
        if bits & mode != mode:
            needs = "".join(
                n for m, n in ((os.R_OK, "r"), (os.W_OK, "w"), (os.X_OK, "x")) if mode & m
            )
            return (
                f"{target} (owner {info.st_uid}:{info.st_gid}, mode {info.st_mode & 0o7777:04o}) "
                f"does not give uid {uid} '{needs}'"
            )
    return None


def _parents(path: str) -> list[str]:
    parents = []
    current = os.path.dirname(os.path.abspath(path))
    while True:
        parents.append(current)
        if current == os.path.dirname(current):
            break
        current = os.path.dirname(current)
    return list(reversed(parents))


def _has_acl(path: str) -> bool:
    try:
        os.getxattr(path, "system.posix_acl_access")
        return True
    except (OSError, AttributeError):
        return False


@dataclass(frozen=True)
class Handle:
    """What the runner persists right after start(): enough for any process to find the
    job again (executor name, the executor's own id, and the job id)."""

    executor: str
    external_id: str
    job_id: str

    def encode(self) -> str:
        return f"{self.executor}/{self.job_id}/{self.external_id}"

    @classmethod
    def decode(cls, text: str) -> Handle:
        executor, job_id, external_id = text.split("/", 2)
        return cls(executor=executor, external_id=external_id, job_id=job_id)


@dataclass(frozen=True)
class LogEvent:
    """One line of output. Final events (partial=False) have seq 1, 2, 3, ... per job with no
    gap and no duplicate, in one order for both streams, the same on every replay. A partial
    event is the provisional state of a stream's unfinished line (a prompt, a progress bar):
    it carries the seq of the last final event before it, is never stored as a line, and is
    superseded by the stream's next partial or final event."""

    seq: int
    stream: str  # "stdout" or "stderr"
    text: str  # without the newline; for a line with \r, the text after the last \r
    ts: datetime
    partial: bool = False


@dataclass(frozen=True)
class MetricEvent:
    name: str
    value: float
    ts: datetime


@dataclass(frozen=True)
class Heartbeat:
    """Yielded by events() when nothing happened for about a second, so a runner can flush
    batches and check its cancel flag while a job is silent. `last_seq` is the last final
    seq yielded so far."""

    ts: datetime
    last_seq: int


Event = LogEvent | MetricEvent | Heartbeat


@dataclass(frozen=True)
class Outcome:
    """How a job ended. `reason` is for people; `kind` is for code; `tail` holds the last
    lines of stderr (final lines, oldest first)."""

    exit_code: int | None
    reason: str
    kind: OutcomeKind = OutcomeKind.FAILED
    tail: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.kind == OutcomeKind.SUCCEEDED

    @classmethod
    def from_exit(cls, exit_code: int, tail: tuple[str, ...] = ()) -> Outcome:
        if exit_code == 0:
            return cls(0, "succeeded", OutcomeKind.SUCCEEDED, tail)
        detail = f"failed: exit code {exit_code}"
        if exit_code > 128 and exit_code - 128 in _SIGNALS:
            detail += f" ({_SIGNALS[exit_code - 128]})"
        elif exit_code < 0 and -exit_code in _SIGNALS:
            detail = f"failed: killed by {_SIGNALS[-exit_code]}"
        return cls(exit_code, detail, OutcomeKind.FAILED, tail)

    @classmethod
    def oom(
        cls, exit_code: int | None, memory_bytes: int | None, tail=(), *, how="killed"
    ) -> Outcome:
        if memory_bytes:
            reason = f"{how}: memory limit {format_bytes(memory_bytes)} exceeded"
        else:
            reason = f"{how}: out of memory (no memory limit was set; the machine ran out)"
        return cls(exit_code, reason, OutcomeKind.OOM, tuple(tail))

    @classmethod
    def timed_out(cls, exit_code: int | None, timeout_seconds: float, tail=()) -> Outcome:
        reason = f"timeout: exceeded limits.timeout of {format_seconds(timeout_seconds)}"
        return cls(exit_code, reason, OutcomeKind.TIMEOUT, tuple(tail))

    @classmethod
    def canceled(cls, exit_code: int | None, tail=()) -> Outcome:
        return cls(exit_code, "canceled", OutcomeKind.CANCELED, tuple(tail))

    @classmethod
    def lost(cls, detail: str) -> Outcome:
        return cls(None, f"lost: {detail}", OutcomeKind.LOST)


_SIGNALS = {1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}


@dataclass(frozen=True)
class Orphan:
    """A job process or container this executor manages, as find_orphans() sees it."""

    job_id: str
    handle: Handle
    state: str  # "running", "exited", "created", ...
    created: datetime | None = None

    @property
    def running(self) -> bool:
        return self.state in ("running", "created", "restarting", "paused")


@runtime_checkable
class Executor(Protocol):
    """What the runner programs against. Methods are safe to call from a process other than
    the one that called start() (a runner restarted on another worker), given the Handle."""

    name: str
    # True when the job sees only what is mounted (Mount.target paths, a network of its own,
    # the spec's user); False for the local executor, whose jobs use host paths directly.
    isolated: bool

    def start(self, spec: RunSpec) -> Handle:
        """Start the job and return at once (before it ends). Raises SpecError for a spec
        this executor refuses, ExecutorError when it cannot start; nothing is left behind."""

    def events(self, handle: Handle, after_seq: int = 0) -> Iterator[Event]:
        """Log lines (final ones with seq > after_seq, plus partial states), metrics and
        heartbeats, until the job has ended and its output is drained. Also enforces the
        spec's timeout."""

    def poll(self, handle: Handle) -> Outcome | None:
        """None while the job runs (and kills it once its timeout has passed); its Outcome
        once it has ended. Call again after events() is exhausted to get the final one."""

    def cancel(self, handle: Handle) -> None:
        """Stop the job within 2 s (SIGTERM, SIGKILL after a 1 s grace). Idempotent; the
        outcome becomes `canceled` unless the job had already ended."""

    def cleanup(self, handle: Handle) -> None:
        """Remove what start() made (container, state files). Kills a job still running.
        Idempotent; call it in `finally`."""

    def find_orphans(self) -> list[Orphan]:
        """Every job this executor manages that has not been cleaned up, for the reaper."""


def process_token(pid: int) -> str | None:
    """The process's start time (clock ticks since boot) from /proc: with the pid it names one
    process, so a pid reused by another process is not mistaken for ours. None when the
    process is gone or a zombie; "-" where /proc does not exist (no check possible)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        if os.path.isdir("/proc"):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "-"
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]  # field 22 of /proc/<pid>/stat: starttime


def now() -> datetime:
    return datetime.now(UTC)


def finish_line(raw: bytes) -> str:
    """Turn the bytes of one completed line (without its \\n) into its text: a trailing \\r
    (CRLF) is dropped, and for a line rewritten with \\r only the text after the last \\r is
    kept (the line's final state, as a terminal would show it)."""
    text = raw.decode("utf-8", errors="replace")
    if text.endswith("\r"):
        text = text[:-1]
    if "\r" in text:
        text = text.rsplit("\r", 1)[1]
    return text


def partial_text(raw: bytes) -> str:
    """The state a terminal would show for an unfinished line: the last non-empty segment
    between carriage returns."""
    text = raw.decode("utf-8", errors="replace")
    for segment in reversed(text.split("\r")):
        if segment:
            return segment
    return ""


class LineSplitter:
    """Turns chunks of bytes of both streams into final lines with one increasing seq.

    Deterministic: the same chunks in the same order give the same events. A stream's line
    is final at its \\n, or at close() for a last line without one.
    """

    def __init__(self, after_seq: int = 0):
        self.seq = 0
        self.after_seq = after_seq
        self.pending: dict[str, bytearray] = {}
        self.pending_ts: dict[str, datetime] = {}
        self.pending_order: list[str] = []  # streams in the order their unfinished line began
        self.stderr_tail: list[str] = []
        self.completed: dict[str, int] = {STDOUT: 0, STDERR: 0}  # whole lines, per stream

    def feed(self, stream: str, chunk: bytes, ts: datetime) -> Iterator[LogEvent]:
        buf = self.pending.setdefault(stream, bytearray())
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                break
            if not buf:
                self.pending_ts[stream] = ts
            buf += chunk[start:nl]
            if len(buf) > MAX_LINE_BYTES:
                yield from self._bound(stream)
            yield from self._emit(stream)
            start = nl + 1
        rest = chunk[start:]
        if rest:
            if not buf:
                self.pending_ts[stream] = ts
                self.pending_order.append(stream)
            buf += rest
            if len(buf) > MAX_LINE_BYTES:
                yield from self._bound(stream)

    def _bound(self, stream: str) -> Iterator[LogEvent]:
        """Keep an endless line from growing without end: a progress bar's line is cut to
        its latest state (from its last \r on, which is all its final text keeps); what is
        still too long is passed on in MAX_LINE_BYTES pieces."""
        buf = self.pending[stream]
        cr = buf.rfind(b"\r", 0, len(buf) - 1)
        if cr > 0:
            del buf[:cr]
        while len(buf) > MAX_LINE_BYTES:
            piece = bytes(buf[:MAX_LINE_BYTES])
            del buf[:MAX_LINE_BYTES]
            yield from self._emit(stream, piece)

    def _emit(self, stream: str, piece: bytes | None = None) -> Iterator[LogEvent]:
        buf = self.pending[stream]
        if piece is None:  # the whole pending line is complete
            text = finish_line(bytes(buf))
            ts = self.pending_ts.pop(stream, None) or now()
            buf.clear()
            if stream in self.pending_order:
                self.pending_order.remove(stream)
        else:  # a piece of a line too long to keep whole; the rest stays pending
            text = finish_line(piece)
            ts = self.pending_ts.get(stream) or now()
        self.seq += 1
        if piece is None:
            self.completed[stream] = self.completed.get(stream, 0) + 1
        if stream == STDERR:
            self.stderr_tail.append(text)
            del self.stderr_tail[:-TAIL_LINES]
        if self.seq > self.after_seq:
            yield LogEvent(self.seq, stream, text, ts)

    def close(self) -> Iterator[LogEvent]:
        """Flush the unfinished lines (output that ended without a newline)."""
        for stream in list(self.pending_order):
            if self.pending.get(stream):
                yield from self._emit(stream)
        self.pending_order.clear()
