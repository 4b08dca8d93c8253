"""Runs jobs in Docker containers through the Docker SDK (engine API 1.41+).

Every container is named `studio-job-<job_id>`, labelled `studio.managed=true`,
`studio.job=<job_id>` and `studio.instance=<instance>`, runs as a non-root user with no
capabilities, `no-new-privileges`, a pids limit, the spec's memory/CPU limits and never the
host network or the Docker socket. Final log lines come from the engine's log (json-file, read
back with timestamps), so their seq is the same on every replay; partial states of unfinished
lines come from a live attach. Why a job ended is kept on the engine itself (the container's
name gets a `--canceled` / `--timeout` suffix, State.OOMKilled, the limit labels), so any
process can poll a handle. See docs/executors.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import struct
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import docker
import docker.errors
import docker.types
from docker.utils.socket import frames_iter

from .base import (
    CA_BUNDLE_ENV,
    CA_BUNDLE_TARGET,
    PARTIAL_INTERVAL,
    STDERR,
    STDOUT,
    TAIL_LINES,
    Event,
    ExecutorError,
    Handle,
    HandleNotFound,
    Heartbeat,
    LineSplitter,
    LogEvent,
    MetricEvent,
    Orphan,
    Outcome,
    RunSpec,
    SpecError,
    access_problem,
    exposes_docker_socket,
    finish_line,
    now,
    partial_text,
)

LABEL_MANAGED = "studio.managed"
LABEL_JOB = "studio.job"
LABEL_INSTANCE = "studio.instance"
LABEL_TIMEOUT = "studio.timeout"
LABEL_MEMORY = "studio.memory"
NAME_PREFIX = "studio-job-"
MARK_CANCELED = "--canceled"
MARK_TIMEOUT = "--timeout"
RUNNING_STATES = ("created", "running", "paused", "restarting")
_STREAMS = {1: STDOUT, 2: STDERR}


def parse_engine_time(text: str | None) -> datetime | None:
    """RFC 3339 with nanoseconds (2026-05-07T21:09:36.123456789Z) to an aware datetime."""
    if not text or text.startswith("0001-"):
        return None
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, rest = text.split(".", 1)
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


class LiveTail:
    """The unfinished line of each stream, as written (an attach, not the line-based log).

    Attached before the container starts (by start()), so nothing the job writes is missed;
    a process that did not start the job attaches late and may miss the beginning of the
    line being written at that moment. Display only: final lines never come from here.

    `aligned` (attached before the start) means `done` counts every line the job ended, so
    a reader can tell whether the unfinished line here is the one after the last final line
    it has seen from the log, or one the log has not caught up with yet."""

    def __init__(self, api, container_id: str, aligned: bool):
        self.aligned = aligned
        self._lock = threading.Lock()
        self._pending = {STDOUT: bytearray(), STDERR: bytearray()}
        self._done = {STDOUT: 0, STDERR: 0}
        self._since: dict[str, float] = {}
        self._sock = api.attach_socket(container_id, params={"stdout": 1, "stderr": 1, "stream": 1})
        api._disable_socket_timeout(self._sock)
        _thread(self._read)

    def _read(self) -> None:
        try:
            for stream_id, data in frames_iter(self._sock, tty=False):
                stream = _STREAMS.get(stream_id)
                if not stream or not data:
                    continue
                with self._lock:
                    buf = self._pending[stream]
                    nl = data.rfind(b"\n")
                    if nl >= 0:
                        self._done[stream] += data.count(b"\n")
                        buf.clear()
                        data = data[nl + 1 :]
                        self._since.pop(stream, None)
                    if data:
                        if not buf:
                            self._since[stream] = time.monotonic()
                        buf += data
        except Exception:
            pass  # the attach ended (the container stopped, or close())

    def snapshot(self) -> dict[str, tuple[bytes, float, int]]:
        """stream -> (its unfinished line, when that line began, lines ended before it), for
        the streams with an unfinished line."""
        with self._lock:
            return {
                s: (bytes(b), self._since[s], self._done[s]) for s, b in self._pending.items() if b
            }

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._sock.close()


class DockerExecutor:
    name = "docker"
    isolated = True  # filesystem, network and user isolation: mounts are remapped

    def __init__(
        self,
        *,
        base_url: str | None = None,
        client: docker.DockerClient | None = None,
        instance: str = "default",
        shell: tuple[str, ...] = ("/bin/bash", "-c"),
        stop_grace_seconds: int = 1,
        heartbeat_seconds: float = 1.0,
        metrics_interval_seconds: float | None = 10.0,
        log_max_size: str = "100m",
        log_max_file: int = 5,
        init: bool = True,
    ):
        self._client = client
        self._base_url = base_url
        self.instance = instance
        self.shell = tuple(shell)
        self.stop_grace_seconds = stop_grace_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.metrics_interval_seconds = metrics_interval_seconds
        self.log_config = docker.types.LogConfig(
            type="json-file", config={"max-size": log_max_size, "max-file": str(log_max_file)}
        )
        self.init = init
        self._live: dict[str, LiveTail] = {}

    # --- engine ----------------------------------------------------------------------------
    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                if self._base_url:
                    self._client = docker.DockerClient(base_url=self._base_url)
                else:
                    self._client = docker.from_env()
            except docker.errors.DockerException as exc:
                raise ExecutorError(f"no Docker engine answers: {exc}") from exc
        return self._client

    def _container(self, handle: Handle):
        self._check(handle)
        try:
            return self.client.containers.get(handle.external_id)
        except docker.errors.NotFound as exc:
            raise HandleNotFound(
                f"container {handle.external_id[:12]} of job {handle.job_id} no longer exists"
            ) from exc
        except docker.errors.DockerException as exc:
            raise ExecutorError(f"Docker engine error: {exc}") from exc

    def _check(self, handle: Handle) -> None:
        if handle.executor != self.name:
            raise ValueError(f"handle of executor {handle.executor!r} given to {self.name!r}")

    # --- start -----------------------------------------------------------------------------
    def container_options(self, spec: RunSpec) -> dict:
        """The keyword arguments of containers.create() for a spec (validated here)."""
        if not spec.image:
            raise SpecError("image", "is required by the docker executor")
        mounts = []
        for i, mount in enumerate(spec.mounts):
            if exposes_docker_socket(mount.source):  # RunSpec checks too; never rely on one
                raise SpecError(f"mounts[{i}].source", "exposes the Docker socket")
            if not os.path.exists(mount.source):
                raise SpecError(f"mounts[{i}].source", f"{mount.source} does not exist")
            problem = access_problem(
                mount.source, spec.uid, spec.gid, write=not mount.read_only, parents=False
            )
            if problem:  # the runner prepares it: chown 1000:1000 or chmod 0777
                raise SpecError(f"mounts[{i}].source", problem)
            mounts.append(
                docker.types.Mount(
                    target=mount.target,
                    source=mount.source,
                    type="bind",
                    read_only=mount.read_only,
                )
            )
        environment = {"PYTHONUNBUFFERED": "1", "HOME": "/tmp"}
        if spec.ca_bundle:
            if not os.path.isfile(spec.ca_bundle):
                raise SpecError("ca_bundle", f"{spec.ca_bundle} is not a file")
            problem = access_problem(spec.ca_bundle, spec.uid, spec.gid, write=False, parents=False)
            if problem:
                raise SpecError("ca_bundle", problem)
            mounts.append(
                docker.types.Mount(
                    target=CA_BUNDLE_TARGET, source=spec.ca_bundle, type="bind", read_only=True
                )
            )
            environment.update({name: CA_BUNDLE_TARGET for name in CA_BUNDLE_ENV})
        environment.update(spec.env)
        labels = dict(spec.labels)
        labels.update(
            {
                LABEL_MANAGED: "true",
                LABEL_JOB: spec.job_id,
                LABEL_INSTANCE: self.instance,
            }
        )
        if spec.timeout_seconds:
            labels[LABEL_TIMEOUT] = f"{spec.timeout_seconds:g}"
        if spec.memory_bytes:
            labels[LABEL_MEMORY] = str(spec.memory_bytes)
        options = {
            "image": spec.image,
            "command": [*self.shell, spec.command],
            "name": NAME_PREFIX + spec.job_id,
            "user": spec.user,
            "environment": environment,
            "labels": labels,
            "mounts": mounts,
            "network_mode": spec.network,
            "extra_hosts": dict(spec.extra_hosts) or None,
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            "pids_limit": spec.pids_limit,
            "auto_remove": False,
            "init": self.init,
            "log_config": self.log_config,
            "stdin_open": False,
            "tty": False,
            "detach": True,
        }
        if spec.working_dir:
            options["working_dir"] = spec.working_dir
        if spec.memory_bytes:
            options["mem_limit"] = spec.memory_bytes
            options["memswap_limit"] = spec.memory_bytes  # no swap: the limit is the limit
        if spec.cpus:
            options["nano_cpus"] = int(spec.cpus * 1e9)
        if spec.shm_bytes:
            options["shm_size"] = spec.shm_bytes
        if spec.gpus:
            options["device_requests"] = [
                docker.types.DeviceRequest(count=spec.gpus, capabilities=[["gpu"]])
            ]
        return options

    def start(self, spec: RunSpec) -> Handle:
        options = self.container_options(spec)
        try:
            container = self.client.containers.create(**options)
        except docker.errors.ImageNotFound as exc:
            raise SpecError(
                "image", f"{spec.image} is not on the Docker engine (images are never pulled)"
            ) from exc
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise ExecutorError(
                    f"a container for job {spec.job_id} already exists; clean it up first"
                ) from exc
            raise ExecutorError(f"Docker engine refused the container: {_explain(exc)}") from exc
        except docker.errors.DockerException as exc:
            raise ExecutorError(f"Docker engine error: {exc}") from exc
        try:
            self._live[container.id] = LiveTail(self.client.api, container.id, aligned=True)
        except Exception:
            pass  # no live partial states for this job; its lines are not affected
        try:
            container.start()
        except docker.errors.DockerException as exc:
            tail = self._live.pop(container.id, None)
            if tail:
                tail.close()
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)
            detail = _explain(exc)
            if spec.gpus and "device driver" in detail:
                raise SpecError(
                    "gpus", f"{spec.gpus} GPU(s) requested but the engine has no GPU runtime"
                ) from exc
            raise ExecutorError(f"the container did not start: {detail}") from exc
        return Handle(executor=self.name, external_id=container.id, job_id=spec.job_id)

    # --- poll / outcome --------------------------------------------------------------------
    def poll(self, handle: Handle) -> Outcome | None:
        try:
            container = self._container(handle)
        except HandleNotFound as exc:
            return Outcome.lost(str(exc))
        if container.status in RUNNING_STATES:
            if not self._enforce_deadline(container):
                return None
            container.reload()
            if container.status in RUNNING_STATES:
                return None
        tail = self._live.pop(container.id, None)  # the job has ended: no more partial lines
        if tail:
            tail.close()
        return self._outcome(container)

    def _outcome(self, container) -> Outcome:
        state = container.attrs["State"]
        exit_code = state.get("ExitCode")
        labels = container.labels
        tail = self._stderr_tail(container)
        if container.name.endswith(MARK_CANCELED):
            return Outcome.canceled(exit_code, tail)
        if container.name.endswith(MARK_TIMEOUT):
            return Outcome.timed_out(exit_code, float(labels.get(LABEL_TIMEOUT, 0)), tail)
        if state.get("OOMKilled") and exit_code != 0:  # a job that survived a killed child
            memory = int(labels[LABEL_MEMORY]) if LABEL_MEMORY in labels else None
            return Outcome.oom(exit_code, memory, tail)
        if state.get("Error"):
            return Outcome(exit_code, f"failed: {state['Error']}", tail=tail)
        return Outcome.from_exit(exit_code, tail)

    def _stderr_tail(self, container) -> tuple[str, ...]:
        """The last TAIL_LINES lines of stderr. The engine's `tail` counts entries of both
        streams, so look further back until enough stderr lines are found or the whole log
        has been seen."""
        api = self.client.api
        url = api._url("/containers/{0}/logs", container.id)
        for entries in (TAIL_LINES * 10, 5000, 50000):
            params = {"stdout": 1, "stderr": 1, "follow": 0, "tail": entries}
            try:
                res = api._get(url, params=params, stream=True)
                api._raise_for_status(res)
                frames = list(_frames(res.raw))
            except docker.errors.DockerException:
                return ()
            finally:
                with contextlib.suppress(Exception):
                    res.close()
            data = b"".join(payload for stream, payload in frames if stream == STDERR)
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            if len(lines) >= TAIL_LINES or len(frames) < entries:
                break
        return tuple(finish_line(line) for line in lines[-TAIL_LINES:])

    def _deadline(self, container) -> float | None:
        """The wall-clock time (epoch seconds) when the job's timeout runs out."""
        timeout = container.labels.get(LABEL_TIMEOUT)
        started = parse_engine_time(container.attrs["State"].get("StartedAt"))
        if not timeout or started is None:
            return None
        return started.timestamp() + float(timeout)

    def _enforce_deadline(self, container) -> bool:
        """Stop a container whose timeout has passed; True when it did."""
        deadline = self._deadline(container)
        if deadline is None or time.time() < deadline or container.status not in RUNNING_STATES:
            return False
        self._mark(container, MARK_TIMEOUT)
        with contextlib.suppress(docker.errors.NotFound):
            container.stop(timeout=self.stop_grace_seconds)
        return True

    def _mark(self, container, mark: str) -> None:
        """Record why a container is being stopped where every process can see it."""
        if container.name.endswith((MARK_CANCELED, MARK_TIMEOUT)):
            return
        with contextlib.suppress(docker.errors.APIError):
            container.rename(container.name + mark)
            container.reload()

    # --- cancel / cleanup / orphans --------------------------------------------------------
    def cancel(self, handle: Handle) -> None:
        try:
            container = self._container(handle)
        except HandleNotFound:
            return
        if container.status not in RUNNING_STATES:
            return
        self._mark(container, MARK_CANCELED)
        try:
            container.stop(timeout=self.stop_grace_seconds)
        except docker.errors.NotFound:
            return
        except docker.errors.DockerException as exc:
            raise ExecutorError(f"could not stop job {handle.job_id}: {exc}") from exc

    def cleanup(self, handle: Handle) -> None:
        self._check(handle)
        tail = self._live.pop(handle.external_id, None)
        if tail:
            tail.close()
        try:
            self.client.api.remove_container(handle.external_id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: a removal already in progress
                raise ExecutorError(f"could not remove job {handle.job_id}: {exc}") from exc

    def find_orphans(self) -> list[Orphan]:
        filters = {"label": [f"{LABEL_MANAGED}=true", f"{LABEL_INSTANCE}={self.instance}"]}
        try:
            rows = self.client.api.containers(all=True, filters=filters)
        except docker.errors.DockerException as exc:
            raise ExecutorError(f"Docker engine error: {exc}") from exc
        orphans = []
        for row in rows:
            job_id = row["Labels"].get(LABEL_JOB, "")
            orphans.append(
                Orphan(
                    job_id=job_id,
                    handle=Handle(self.name, row["Id"], job_id),
                    state=row.get("State", ""),
                    created=datetime.fromtimestamp(row["Created"], UTC),
                )
            )
        return orphans

    # --- events ----------------------------------------------------------------------------
    def events(self, handle: Handle, after_seq: int = 0) -> Iterator[Event]:
        container = self._container(handle)
        return self._events(container, after_seq)

    def _events(self, container, after_seq: int) -> Iterator[Event]:
        inbox: queue.Queue = queue.Queue()
        stop = threading.Event()
        closers: list = []
        last_seq = after_seq
        shown: dict[str, str | None] = {STDOUT: None, STDERR: None}
        shown_at: dict[str, float] = {STDOUT: 0.0, STDERR: 0.0}
        final_at: dict[str, float] = {STDOUT: 0.0, STDERR: 0.0}
        deadline = self._deadline(container)
        live = self._live.get(container.id)
        if container.status in RUNNING_STATES:
            if live is None:
                with contextlib.suppress(Exception):
                    live = self._live[container.id] = LiveTail(
                        self.client.api, container.id, aligned=False
                    )
            if self.metrics_interval_seconds:
                _thread(self._read_stats, container.id, inbox, stop, closers)
        _thread(self._read_log, container.id, inbox, stop, closers)
        splitter = LineSplitter(after_seq)
        last_yield = time.monotonic()
        try:
            while True:
                try:
                    item = inbox.get(timeout=0.1)
                except queue.Empty:
                    item = None
                if item is not None:
                    kind = item[0]
                    if kind == "log":
                        _, stream, chunk, ts = item
                        for event in splitter.feed(stream, chunk, ts):
                            shown[event.stream] = None
                            shown_at[event.stream] = 0.0
                            final_at[event.stream] = time.monotonic()
                            last_seq = event.seq
                            last_yield = time.monotonic()
                            yield event
                    elif kind == "metric":
                        last_yield = time.monotonic()
                        yield item[1]
                    elif kind == "end":
                        for event in splitter.close():
                            last_seq = event.seq
                            yield event
                        return
                    elif kind == "error":
                        raise ExecutorError(item[1])
                mono = time.monotonic()
                for stream, (raw, since, done) in (live.snapshot() if live else {}).items():
                    if (
                        mono - since < PARTIAL_INTERVAL
                        or mono - shown_at[stream] < PARTIAL_INTERVAL
                    ):
                        continue
                    if live.aligned and done != splitter.completed[stream]:
                        continue  # the log is behind (or ahead of) the live view
                    if not live.aligned and mono - final_at[stream] < PARTIAL_INTERVAL:
                        continue
                    text = partial_text(raw)
                    if text and text != shown[stream]:
                        shown[stream], shown_at[stream] = text, mono
                        last_yield = mono
                        yield LogEvent(last_seq, stream, text, now(), partial=True)
                if deadline is not None and time.time() >= deadline:
                    container.reload()
                    if self._enforce_deadline(container):
                        deadline = None
                if mono - last_yield >= self.heartbeat_seconds:
                    last_yield = mono
                    yield Heartbeat(now(), last_seq)
        finally:
            stop.set()
            for close in closers:
                with contextlib.suppress(Exception):
                    close()

    def _read_log(self, container_id: str, inbox: queue.Queue, stop, closers) -> None:
        """Follow the engine's log of both streams, frame by frame, in the log's own order.

        The log is append-only and read from its start, so frames are counted: when the
        follow breaks off while the job runs, the log is read again and the frames already
        passed on are skipped. Once the job has stopped, one last plain read picks up what a
        follow can miss at the very end (a last line without newline)."""
        api = self.client.api
        passed = 0
        failures = 0
        try:
            while not stop.is_set():
                passed, broken = self._pass_frames(api, container_id, passed, True, inbox, closers)
                if stop.is_set():
                    return
                try:
                    status = api.inspect_container(container_id)["State"]["Status"]
                except docker.errors.NotFound:
                    break
                if status not in RUNNING_STATES:
                    self._pass_frames(api, container_id, passed, False, inbox, closers)
                    break
                failures = failures + 1 if broken else 0
                if failures > 20:
                    raise ExecutorError("the log stream keeps breaking")
                time.sleep(0.2)
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # the consumer gets it as an ExecutorError
            if not stop.is_set():
                inbox.put(("error", f"reading the log of {container_id[:12]} failed: {exc}"))
            return
        inbox.put(("end",))

    def _pass_frames(self, api, container_id, skip, follow, inbox, closers) -> tuple[int, bool]:
        """Read the log from its start, pass on the frames after the first `skip`; return the
        number of frames read and whether the stream broke."""
        params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": int(follow)}
        res = api._get(api._url("/containers/{0}/logs", container_id), params=params, stream=True)
        api._raise_for_status(res)
        closers.append(res.close)
        sock = api._get_raw_response_socket(res)
        api._disable_socket_timeout(sock)
        count = 0
        try:
            while True:
                header = _read_exact(res.raw, 8)
                if len(header) < 8:
                    return max(count, skip), False
                size = struct.unpack(">I", header[4:])[0]
                payload = _read_exact(res.raw, size)
                if len(payload) < size:
                    return max(count, skip), True
                count += 1
                stream = _STREAMS.get(header[0])
                if count <= skip or stream is None:
                    continue
                ts, chunk = _split_timestamp(payload)
                inbox.put(("log", stream, chunk, ts))
        except Exception:
            return max(count, skip), True
        finally:
            res.close()

    def _read_stats(self, container_id: str, inbox: queue.Queue, stop, closers) -> None:
        """Resource usage every metrics_interval_seconds, as MetricEvents system/*."""
        api = self.client.api
        last = 0.0
        try:
            res = api._get(
                api._url("/containers/{0}/stats", container_id), params={"stream": 1}, stream=True
            )
            api._raise_for_status(res)
            closers.append(res.close)
            sock = api._get_raw_response_socket(res)
            api._disable_socket_timeout(sock)
            for line in res.iter_lines():
                if stop.is_set():
                    break
                if not line or time.monotonic() - last < self.metrics_interval_seconds:
                    continue
                sample = json.loads(line)
                memory = (sample.get("memory_stats") or {}).get("usage")
                if memory is None:
                    continue  # the container has stopped
                last = time.monotonic()
                ts = parse_engine_time(sample.get("read")) or now()
                inbox.put(("metric", MetricEvent("system/memory_bytes", float(memory), ts)))
                cpu = _cpu_percent(sample)
                if cpu is not None:
                    inbox.put(("metric", MetricEvent("system/cpu_percent", cpu, ts)))
        except Exception:
            return


def _cpu_percent(sample: dict) -> float | None:
    """CPU use in percent of one core, as `docker stats` computes it."""
    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    try:
        delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        system = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
        cores = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or [1])
    except (KeyError, TypeError):
        return None
    if system <= 0 or delta < 0:
        return None
    return round(delta / system * cores * 100.0, 2)


def _thread(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _read_exact(raw, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = raw.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _frames(raw) -> Iterator[tuple[str | None, bytes]]:
    """(stream, payload) of each frame of a multiplexed (non-TTY) response."""
    while True:
        header = _read_exact(raw, 8)
        if len(header) < 8:
            return
        size = struct.unpack(">I", header[4:])[0]
        yield _STREAMS.get(header[0]), _read_exact(raw, size)


def _split_timestamp(payload: bytes) -> tuple[datetime, bytes]:
    """A log frame is `<RFC 3339 timestamp> <bytes>`."""
    space = payload.find(b" ")
    if 0 < space <= 40:
        ts = parse_engine_time(payload[:space].decode("ascii", "replace"))
        if ts is not None:
            return ts, payload[space + 1 :]
    return now(), payload


def _explain(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)
