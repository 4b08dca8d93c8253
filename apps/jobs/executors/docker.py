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
import logging
import os
import posixpath
import queue
import re
import shutil
import signal
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

import docker
import docker.errors
import docker.tls
import docker.types
from docker.utils.socket import frames_iter

from . import image_transfer
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
    Mount,
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
LABEL_COPY_OUT = "studio.copy_out"  # JSON [[container path, host path], ...] for collect()
TLS_FILES = ("ca_cert", "client_cert", "client_key")
ENGINE_API_VERSION = "1.41"  # Docker 20.10; an ssh:// client asks the engine after that
NAME_PREFIX = "studio-job-"
MARK_CANCELED = "--canceled"
MARK_TIMEOUT = "--timeout"
RUNNING_STATES = ("created", "running", "paused", "restarting")
_STREAMS = {1: STDOUT, 2: STDERR}
log = logging.getLogger(__name__)


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
        remote: bool = False,
        tls: Mapping | None = None,
        ssh: Mapping | None = None,
        image_source: str | None = None,
        lock_url: str | None = None,
        say: Callable[[str], None] | None = None,
    ):
        """`remote`: the engine does not see this machine's files (another machine's
        engine): spec.mounts and a bind-mounted ca_bundle are refused or copied instead
        (copy_in / copy_out). `tls` (tcp://): PEM texts `ca_cert`, `client_cert`,
        `client_key` and `verify` (default True). `ssh` (ssh://): `private_key` (PEM),
        `known_hosts` (pinned keys; without them the first key is accepted), `command`
        (default "ssh"). Secrets are written to a private temporary folder (0700, files
        0600) only while the executor's client lives; close() removes it.

        An engine given by `base_url` gets the job's image from the studio's engine when
        it lacks it (image_transfer.py): `image_source` is that engine's URL (default: the
        environment's, as `docker` uses it), `lock_url` where the per-(engine, image)
        transfer lock lives (default: STUDIO_LOCK_URL, else CELERY_BROKER_URL when Redis,
        else a file lock), and `say(text)` receives the lines for the job's log (a runner
        sets `executor.say`; default: this module's logger)."""
        self._client = client
        self._base_url = base_url
        self.remote = remote
        self._tls = dict(tls or {})
        self._ssh = dict(ssh or {})
        self._secret_dir: str | None = None
        self._finalizer = None
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
        self.image_source = image_source
        self.lock_url = lock_url
        self.say = say

    # --- engine ----------------------------------------------------------------------------
    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                if self._base_url and self._base_url.startswith("ssh://"):
                    self._client = self._ssh_client(self._base_url)
                elif self._base_url:
                    tls = self._tls_config() if self._tls else None
                    self._client = engine_client(self._base_url, tls)
                else:
                    self._client = docker.from_env()
            except docker.errors.DockerException as exc:
                ssh = self._ssh_reason()
                self.close()
                if ssh:
                    raise ExecutorError(f"ssh to the engine at {self._base_url}: {ssh}") from exc
                tls = tls_reason(str(exc))
                if tls:
                    raise ExecutorError(f"TLS with the engine at {self._base_url}: {tls}") from exc
                raise ExecutorError(f"no Docker engine answers: {exc}") from exc
        return self._client

    def close(self) -> None:
        """Close the client and remove the secrets' folder (idempotent; also at exit)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if self._finalizer is not None:
            self._finalizer()
        self._finalizer = self._secret_dir = None

    def _secret(self, name: str, text: str) -> str:
        """Write a secret to the private folder (created 0700 on first use), mode 0600."""
        if self._secret_dir is None:
            self._secret_dir = tempfile.mkdtemp(prefix="studio-engine-")
            self._finalizer = weakref.finalize(
                self, shutil.rmtree, self._secret_dir, ignore_errors=True
            )
        path = os.path.join(self._secret_dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return path

    def _tls_config(self) -> docker.tls.TLSConfig:
        files = {k: self._secret(k + ".pem", self._tls[k]) for k in TLS_FILES if self._tls.get(k)}
        cert = (files["client_cert"], files["client_key"]) if "client_cert" in files else None
        verify = files.get("ca_cert", True) if self._tls.get("verify", True) else False
        return docker.tls.TLSConfig(client_cert=cert, ca_cert=files.get("ca_cert"), verify=verify)

    def ssh_command(self) -> list[str]:
        """The ssh client's command line before `-l user -p port -- host docker system
        dial-stdio`: batch mode, the vault's key, and the pinned host keys (strict when
        there are some, else the first key is accepted)."""
        known = self._ssh.get("known_hosts") or ""
        args = [self._ssh.get("command") or "ssh", "-o", "BatchMode=yes"]
        args += ["-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=15"]
        args += ["-o", f"UserKnownHostsFile={self._secret('known_hosts', known)}"]
        args += ["-o", "StrictHostKeyChecking=" + ("yes" if known.strip() else "accept-new")]
        if self._ssh.get("private_key"):
            key = self._secret("id_key", self._ssh["private_key"].strip() + "\n")
            args += ["-i", key, "-o", "IdentitiesOnly=yes"]
        return args

    def _ssh_client(self, url: str) -> docker.DockerClient:
        """docker's `use_ssh_client=True` (the system ssh runs `docker system dial-stdio`
        on the engine's machine), with our ssh options on its command line."""
        try:
            import paramiko  # noqa: F401 - docker's ssh transport imports it even to shell out
        except ImportError:
            raise ExecutorError("ssh:// engines need paramiko: pip install 'docker[ssh]'") from None
        client = docker.DockerClient(base_url=url, use_ssh_client=True, version=ENGINE_API_VERSION)
        stderr = self._secret("ssh_stderr.log", "")
        _use_ssh_options(client.api._custom_adapter, self.ssh_command(), stderr)
        client.api._version = client.api._retrieve_server_version()
        return client

    def _ssh_reason(self) -> str:
        """What the ssh client said when it gave up ('' if nothing), e.g. `Host key for
        [10.0.0.5]:22 has changed and you have requested strict checking. Host key
        verification failed.` or `studio@10.0.0.5: Permission denied (publickey).`"""
        if not self._secret_dir:
            return ""
        try:
            with open(os.path.join(self._secret_dir, "ssh_stderr.log"), errors="replace") as fh:
                said = [line.strip() for line in fh.read().splitlines()]
        except OSError:
            return ""
        said = [t for t in said if t and not t.startswith(("@", "Warning: Permanently added"))]
        if not said:
            return ""
        last = said[-2:] if len(said) > 1 and "host key" in said[-2].lower() else said[-1:]
        return " ".join(last)[:300]

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
        if self.remote and spec.mounts:
            raise SpecError(
                "mounts", "a remote Docker engine does not see this machine's files: use copy_in"
            )
        for i, mount in enumerate(spec.copy_in):
            if not os.path.exists(mount.source):
                raise SpecError(f"copy_in[{i}].source", f"{mount.source} does not exist")
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
            if not self.remote:  # a remote engine gets a copy (start())
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
        if spec.copy_out:
            labels[LABEL_COPY_OUT] = json.dumps([[m.target, m.source] for m in spec.copy_out])
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
        if spec.cpus:  # at most the engine's own cores (a remote engine's, not this host's)
            options["nano_cpus"] = int(min(spec.cpus, self.engine_cpus() or spec.cpus) * 1e9)
        if spec.shm_bytes:
            options["shm_size"] = spec.shm_bytes
        if spec.gpus:
            options["device_requests"] = [
                docker.types.DeviceRequest(count=spec.gpus, capabilities=[["gpu"]])
            ]
        return options

    def start(self, spec: RunSpec) -> Handle:
        options = self.container_options(spec)
        if self._base_url:  # an attached engine: send it the image when it lacks it
            self.ensure_image(spec.image)
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
        copies = list(spec.copy_in)
        if spec.ca_bundle and self.remote:
            copies.append(Mount(spec.ca_bundle, CA_BUNDLE_TARGET, True))
        if copies:
            try:
                self._copy_in(container.id, copies, spec.uid, spec.gid)
            except Exception as exc:
                with contextlib.suppress(docker.errors.DockerException):
                    container.remove(force=True)
                raise ExecutorError(f"copying the job's files in failed: {_explain(exc)}") from exc
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

    # --- images (an engine that never saw the studio's images) ----------------------------
    def ensure_image(self, image: str) -> bool:
        """Make sure this executor's engine has `image` as the studio's engine has it (same
        image ID), streaming it there (`docker save` | `docker load`) under a lock per
        (engine, image) when it does not. Returns True when the image was sent."""
        source = self._source_api()
        try:
            return image_transfer.ensure_image(
                self.client.api,
                source,
                image,
                engine=self._base_url or "the Docker engine",
                say=self._say,
                lock=image_transfer.transfer_lock(
                    self.lock_url
                    if self.lock_url is not None
                    else image_transfer.lock_url_default(),
                    say=self._say,
                ),
            )
        finally:
            if source is not None:
                with contextlib.suppress(Exception):
                    source.close()

    def _source_api(self):
        """A client of the studio's own engine (where images are built), or None when
        none answers here (the remote engine must then have the image)."""
        try:
            if self.image_source:
                return docker.APIClient(base_url=self.image_source, version=ENGINE_API_VERSION)
            return docker.from_env(version=ENGINE_API_VERSION).api
        except docker.errors.DockerException:
            return None

    def engine_cpus(self) -> int | None:
        """The engine's core count (asked once), or None when it does not say."""
        if not hasattr(self, "_engine_cpus"):
            try:
                self._engine_cpus = int(self.client.info().get("NCPU") or 0) or None
            except (docker.errors.DockerException, ValueError, TypeError):
                self._engine_cpus = None
        return self._engine_cpus

    def _say(self, text: str) -> None:
        if self.say is not None:
            self.say(text)
        else:
            log.info("%s", text)

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

    # --- copies (an engine without this machine's files) -----------------------------------
    def _copy_in(self, container_id: str, copies: list[Mount], uid: int, gid: int) -> None:
        """One tar of every copy, extracted at / of the created container (the engine makes
        missing parents). Read-only copies belong to root (the job can read, not write),
        the others to the job's user."""
        with tempfile.TemporaryFile() as fh:
            with tarfile.open(fileobj=fh, mode="w") as tar:
                for mount in copies:
                    owner = (0, 0) if mount.read_only else (uid, gid)
                    _add_tree(tar, mount.source, mount.target.strip("/"), owner, mount.read_only)
            fh.seek(0)
            self.client.api.put_archive(container_id, "/", fh)

    def collect(self, handle: Handle) -> list[str]:
        """Copy the spec's copy_out paths of an ended job back to this machine (each into
        its host folder, merged with what is there); returns the container paths copied
        (a path the job never made is skipped). Call it before cleanup()."""
        container = self._container(handle)
        pairs = json.loads(container.labels.get(LABEL_COPY_OUT) or "[]")
        copied = []
        for target, source in pairs:
            try:
                stream, _ = self.client.api.get_archive(container.id, target)
            except docker.errors.NotFound:
                continue
            except docker.errors.DockerException as exc:
                raise ExecutorError(f"copying {target} out failed: {_explain(exc)}") from exc
            with tempfile.TemporaryFile() as fh:
                for chunk in stream:
                    fh.write(chunk)
                fh.seek(0)
                _extract_tree(fh, source)
            copied.append(target)
        return copied

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


def _add_tree(tar: tarfile.TarFile, source: str, arcname: str, owner, read_only: bool) -> None:
    """Add a host file or folder to `tar` as `arcname`, owned by `owner` (uid, gid);
    read-only entries lose their write bits."""
    top = os.path.abspath(source)
    entries = [(top, arcname)]
    if os.path.isdir(top) and not os.path.islink(top):
        for root, dirs, files in os.walk(top):
            dirs.sort()
            rel = os.path.relpath(root, top)
            base = arcname if rel == "." else posixpath.join(arcname, *rel.split(os.sep))
            entries += [(os.path.join(root, n), posixpath.join(base, n)) for n in dirs]
            entries += [(os.path.join(root, n), posixpath.join(base, n)) for n in sorted(files)]
    for path, name in entries:
        info = tar.gettarinfo(path, arcname=name)
        info.uid, info.gid = owner
        info.uname = info.gname = ""
        if read_only:
            info.mode &= ~0o222
        if info.isdir():
            info.mode |= 0o755 if read_only else 0o700
        elif info.isreg():
            info.mode |= 0o444 if read_only else 0o600
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
            continue
        tar.addfile(info)


def _extract_tree(fileobj, dest: str) -> None:
    """Extract a get_archive() tar (its first component is the copied path's own name) into
    the host path `dest`, with tarfile's `data` filter (no absolute paths, no links out,
    no device files, no owners); a member the filter refuses is skipped."""
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        for member in tar:
            parts = member.name.split("/", 1)
            if len(parts) == 1 or not parts[1].strip("/"):
                if member.isreg():  # the copied path is a file itself
                    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
                    member.name = os.path.basename(dest)
                    _extract_one(tar, member, os.path.dirname(dest) or ".")
                else:
                    os.makedirs(dest, exist_ok=True)
                continue
            member.name = parts[1]
            _extract_one(tar, member, dest)


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str) -> None:
    try:
        tar.extract(member, dest, filter="data")
    except tarfile.FilterError:
        pass  # a link out of the folder, a device: not the job's output


def tls_reason(text: str) -> str:
    """A TLS failure in plain words ('' when `text` is not one), e.g. `[SSL:
    SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate (_ssl.c:2580)`."""
    found = re.search(r"\[SSL: ([A-Z0-9_]+)\] ([^(']+)", text)
    if not found:
        return ""
    code, words = found.group(1), found.group(2).strip()
    if code == "CERTIFICATE_VERIFY_FAILED":
        why = "the engine's certificate is not signed by tls.ca_cert, or not for this host"
    elif "ALERT" in code and ("CERTIFICATE" in code or "UNKNOWN_CA" in code):
        why = "the engine refused the client certificate (tls.client_cert): not one of its CA"
    else:
        why = "the handshake failed"
    return f"{why} ({words})"


def engine_client(
    base_url: str, tls: docker.tls.TLSConfig | None = None, timeout: int | None = None
) -> docker.DockerClient:
    """A client of the engine at `base_url` (tcp:// or unix://) that keeps the TLS settings
    it is given. requests replaces a session's CA file (docker-py's `ca_cert`) with
    REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE on every request when either is set, as on a
    machine behind a TLS-intercepting proxy, so an engine with its own CA failed with
    "unable to get local issuer certificate"; here the session's `verify` wins."""
    options = {"timeout": timeout} if timeout else {}
    client = docker.DockerClient(
        base_url=base_url, tls=tls or False, version=ENGINE_API_VERSION, **options
    )
    if tls:
        api = client.api
        merge = api.merge_environment_settings

        def merge_keeping_verify(url, proxies, stream, verify, cert):
            settings = merge(url, proxies, stream, verify, cert)
            settings["verify"] = api.verify if verify is None else verify
            return settings

        api.merge_environment_settings = merge_keeping_verify
    try:
        client.api._version = client.api._retrieve_server_version()
    except docker.errors.DockerException:
        client.close()
        raise
    return client


def _use_ssh_options(adapter, command: list[str], stderr_path: str) -> None:
    """Make a shell-out SSHHTTPAdapter run `command` (ssh with our options) instead of a
    bare `ssh`: docker's SSHSocket/SSHConnection/SSHConnectionPool, with the one line that
    builds the command line changed."""
    from docker.transport import sshconn

    class Socket(sshconn.SSHSocket):
        def connect(self, **kwargs):
            args = list(command)
            if self.user:
                args += ["-l", self.user]
            if self.port:
                args += ["-p", self.port]
            args += ["--", self.host, "docker system dial-stdio"]
            env = dict(os.environ)
            env.pop("LD_LIBRARY_PATH", None)
            env.pop("SSL_CERT_FILE", None)
            with open(stderr_path, "ab") as stderr:  # read by _ssh_reason() on a failure
                self.proc = subprocess.Popen(
                    args,
                    env=env,
                    stdout=subprocess.PIPE,
                    stdin=subprocess.PIPE,
                    stderr=stderr,
                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
                )

    class Connection(sshconn.SSHConnection):
        def connect(self):
            sock = Socket(self.ssh_host)
            sock.settimeout(self.timeout)
            sock.connect()
            self.sock = sock

    class Pool(sshconn.SSHConnectionPool):
        def _new_conn(self):
            return Connection(None, self.timeout, self.ssh_host)

    def get_connection(url, proxies=None):
        return Pool(timeout=adapter.timeout, maxsize=adapter.max_pool_size, host=adapter.ssh_host)

    adapter.get_connection = get_connection
