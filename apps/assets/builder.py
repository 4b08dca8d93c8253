"""Building environment images on this machine's Docker engine (docker SDK, low-level API).

No database here: the environments service prepares a build context (a folder), calls
`build()` with a callback for each line of output, and records what it returns. The studio
never pulls: an image either exists on the engine or is built from one that does.

An extra CA bundle (settings.STUDIO_BUILD_CA_BUNDLE: an intercepting proxy, a corporate CA) is
copied into the context and named by PIP_CERT and REQUESTS_CA_BUNDLE during the build's RUN
steps, as build arguments declared after every FROM, so they do not persist in the image.

The one database write here is the heartbeat (`beating()`): while a build waits for the
build lock of its spec and while it runs, a thread stamps `ImageBuild.heartbeat_at` every
BEAT_SECONDS, output or not (a pip step may be silent for minutes); the reaper
(apps/jobs/reaper.py) fails a Queued or Running build whose heartbeat is older than a minute:
its worker is gone.

A live worker can hang too (a `RUN` step waiting forever on the network): `build()` stops a
build running past settings.STUDIO_BUILD_TIMEOUT_SECONDS. It shuts the build's stream down,
which makes the engine cancel the build (the classic builder kills and removes the step's
container; BuildKit cancels its solve), removes the step's container itself if it is still
there, and returns a failed result saying "build timed out after N s".
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import requests
from django.conf import settings

CA_FILE = "studio-build-ca.crt"
CA_PATH = "/etc/studio/build-ca.crt"
VENV = "/opt/studio-env"
TAG_REPO = "studio-env"
LABEL = "studio.spec_hash"
BEAT_SECONDS = 5.0  # how often a running build proves its worker is alive

log = logging.getLogger(__name__)

_STEP = re.compile(r"^Step \d+/\d+ : ")
_RUNNING_IN = re.compile(r"^\s*---> Running in ([0-9a-f]{12,64})\s*$")
_FROM = re.compile(r"^\s*FROM\s", re.IGNORECASE)


class EngineUnavailable(RuntimeError):
    """No Docker engine answers."""


@dataclass
class BuildResult:
    ok: bool
    failed_step: str = ""
    error: str = ""


def engine_name() -> str:
    return socket.gethostname()


_client: docker.APIClient | None = None


def client() -> docker.APIClient:
    """The low-level client of this machine's engine (DOCKER_HOST or the local socket)."""
    global _client
    if _client is None:
        try:
            _client = docker.APIClient(**docker.utils.kwargs_from_env(), timeout=600)
            _client.ping()
        except docker.errors.DockerException as exc:
            _client = None
            raise EngineUnavailable(f"no Docker engine answers: {exc}") from exc
    return _client


def tag_for(spec_hash: str) -> str:
    return f"{TAG_REPO}:{spec_hash}"


def image_exists(tag: str) -> bool:
    try:
        client().inspect_image(tag)
        return True
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        if getattr(exc, "status_code", None) == 404:
            return False
        raise


def image_on_engine(tag: str, *, timeout: float = 2.0) -> bool | None:
    """Whether `tag` is on this machine's engine, asked the way a page may ask: a client of
    its own with a short timeout, so a slow or absent engine never holds a page up. None when
    no engine answers in time."""
    try:
        api = docker.APIClient(**docker.utils.kwargs_from_env(), timeout=timeout)
    except docker.errors.DockerException:
        return None
    try:
        api.inspect_image(tag)
        return True
    except docker.errors.ImageNotFound:
        return False
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return None
    finally:
        api.close()


def remove_image(tag: str) -> None:
    """Remove an image (tests, and a forced rebuild that replaces the tag)."""
    try:
        client().remove_image(tag, force=True)
    except docker.errors.ImageNotFound:
        pass


def ca_bundle() -> Path | None:
    path = (settings.STUDIO_BUILD_CA_BUNDLE or "").strip()
    if not path:
        return None
    p = Path(path)
    return p if p.is_file() else None


def _ca_lines() -> list[str]:
    return [
        f"COPY {CA_FILE} {CA_PATH}",
        f"ARG PIP_CERT={CA_PATH}",
        f"ARG REQUESTS_CA_BUNDLE={CA_PATH}",
    ]


def with_ca(dockerfile: str) -> str:
    """The Dockerfile with the CA bundle copied in and named by build arguments after every
    FROM (build stages start afresh)."""
    out = []
    for line in dockerfile.splitlines():
        out.append(line)
        if _FROM.match(line) and not line.rstrip().endswith("\\"):
            out.extend(_ca_lines())
    return "\n".join(out) + "\n"


def packages_dockerfile(*, base_image: str, python: str = "") -> str:
    """The Dockerfile of a pip or conda environment: a venv (with the image's own packages
    visible) in which the requirements are installed with pip."""
    lines = [f"FROM {base_image}"]
    check = (
        "import sys; have='%d.%d' % sys.version_info[:2]; print('python', sys.version.split()[0])"
    )
    if python:
        check += (
            f"; want='{python}'; print(('warning: the conda file asks for python ' + want + "
            "', the image has ' + have + ' (there is no conda to install another python)') "
            "if not have.startswith(want) else 'python version ok: ' + want)"
        )
    lines += [
        f'RUN python3 -c "{check}"',
        f"RUN python3 -m venv --system-site-packages {VENV}",
        f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH",
        "COPY requirements.txt /tmp/studio/requirements.txt",
        "RUN pip install --no-cache-dir --disable-pip-version-check "
        "-r /tmp/studio/requirements.txt",
    ]
    return "\n".join(lines) + "\n"


def prepare_context(
    folder: Path, *, dockerfile: str, dockerfile_path: str = "Dockerfile", files=None
) -> str:
    """Write the Dockerfile (with the CA lines when a bundle is set) and extra files into
    `folder`; return the Dockerfile's path inside it."""
    bundle = ca_bundle()
    if bundle is not None:
        shutil.copyfile(bundle, folder / CA_FILE)
        dockerfile = with_ca(dockerfile)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    name = dockerfile_path or "Dockerfile"
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dockerfile)
    return name


@contextlib.contextmanager
def beating(**build_filter) -> Iterator[None]:
    """Stamp `heartbeat_at` of the Queued or Running ImageBuild rows matching `build_filter`
    now and every BEAT_SECONDS until the block ends (a daemon thread with its own
    connection). A Queued build that beats is owned by a worker (it waits for the build lock
    of its spec); one that never beat waits for a worker to take its task."""
    from django.utils import timezone

    from studio.heartbeat import beating as beat_while

    from .models import ImageBuild

    live = [ImageBuild.Status.QUEUED, ImageBuild.Status.RUNNING]

    def beat() -> None:
        rows = ImageBuild.objects.filter(status__in=live, **build_filter)
        rows.update(heartbeat_at=timezone.now())

    beat()
    with beat_while(beat, every=BEAT_SECONDS, name="build-heartbeat"):
        yield


def timeout_seconds() -> float:
    """The build time limit (settings.STUDIO_BUILD_TIMEOUT_SECONDS; 0 or less: none)."""
    return float(getattr(settings, "STUDIO_BUILD_TIMEOUT_SECONDS", 0) or 0)


def build(
    folder: Path,
    *,
    tag: str,
    dockerfile: str = "Dockerfile",
    spec_hash: str = "",
    on_line: Callable[[str], None],
    timeout: float | None = None,
) -> BuildResult:
    """Build `folder` into `tag`, calling `on_line` for each line of output as it comes;
    stopped and failed past `timeout` seconds (default: the setting). The caller beats."""
    seconds = timeout_seconds() if timeout is None else timeout
    progress = _Progress()
    deadline = _Deadline(seconds, progress)
    result: BuildResult | None = None
    error: Exception | None = None
    with deadline:
        try:
            stream = client().build(
                path=str(folder),
                dockerfile=dockerfile,
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                labels={LABEL: spec_hash} if spec_hash else None,
            )
            deadline.attach(stream)
            result = _follow(stream, progress, on_line)
        except Exception as exc:  # the stream cut by the deadline raises too: judged below
            error = exc
    if deadline.expired:
        _remove_container(progress.container)
        message = f"build timed out after {seconds:g} s"
        on_line(message)
        return BuildResult(ok=False, failed_step=progress.step, error=message)
    if isinstance(error, EngineUnavailable):
        on_line(str(error))
        return BuildResult(ok=False, failed_step=progress.step, error=str(error))
    if error is not None:  # the engine said no, or its stream broke (a read timeout)
        on_line(f"error: {error}")
        return BuildResult(ok=False, failed_step=progress.step, error=str(error))
    if result is not None:
        return result
    if not image_exists(tag):
        return BuildResult(
            ok=False, failed_step=progress.step, error="the build ended without an image"
        )
    return BuildResult(ok=True)


@dataclass
class _Progress:
    step: str = ""  # the current "Step n/m : ..." line
    container: str = ""  # the container the current RUN step runs in (classic builder)


def _follow(stream, progress: _Progress, on_line: Callable[[str], None]) -> BuildResult | None:
    """Read the build's output to its end: a failed result on an error, else None."""
    for chunk in stream:
        if "stream" in chunk:
            for line in chunk["stream"].splitlines():
                if not line.strip():
                    continue
                if _STEP.match(line):
                    progress.step = line
                running = _RUNNING_IN.match(line)
                if running:
                    progress.container = running[1]
                on_line(line)
        elif "error" in chunk:
            message = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
            for line in str(message).splitlines():
                on_line(line)
            return BuildResult(ok=False, failed_step=progress.step, error=str(message).strip())
        elif "status" in chunk:
            on_line(str(chunk["status"]))
    return None


class _Deadline:
    """Stops a build past its time limit, from a timer thread: shuts the socket of the build's
    stream down (the reading thread gets an error at once, and the engine cancels a build
    whose client went away), or, when the stream's socket cannot be reached, kills the
    current step's container so that the step fails."""

    def __init__(self, seconds: float, progress: _Progress):
        self.seconds = seconds
        self.progress = progress
        self.expired = False
        self._response = None
        self._ended = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> _Deadline:
        if self.seconds > 0:
            self._timer = threading.Timer(self.seconds, self._expire)
            self._timer.daemon = True
            self._timer.name = "build-deadline"
            self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._ended = True
        if self._timer is not None:
            self._timer.cancel()

    def attach(self, stream) -> None:
        """The build's output stream (a generator of the docker SDK over the HTTP response)."""
        frame = getattr(stream, "gi_frame", None)
        self._response = frame.f_locals.get("response") if frame is not None else None
        if self.expired:  # the limit passed while the context was sent
            self._cut()

    def _expire(self) -> None:
        with self._lock:
            if self._ended:
                return
            self.expired = True
        log.warning("image build past %gs: stopping it", self.seconds)
        self._cut()

    def _cut(self) -> None:
        sock = _socket_of(self._response)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                return
            except OSError:
                log.debug("could not shut the build stream down", exc_info=True)
        _kill_container(self.progress.container)


def _socket_of(response) -> socket.socket | None:
    """The socket under a docker SDK streaming response (unix socket or TCP, TLS or not)."""
    try:
        raw = response.raw._fp.fp.raw
    except AttributeError:
        return None
    sock = getattr(raw, "_sock", raw)
    return sock if isinstance(sock, socket.socket) else None


def _kill_container(container: str) -> None:
    if not container:
        return
    try:
        client().kill(container)
    except docker.errors.DockerException:
        log.debug("could not kill build container %s", container, exc_info=True)


def _remove_container(container: str, *, wait: float = 15.0) -> None:
    """Remove a build step's container left behind (the engine removes it itself when it
    cancels the build; this makes sure), waiting until it is gone."""
    if not container:
        return
    until = time.monotonic() + wait
    while True:
        try:
            client().remove_container(container, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:  # removal already in progress (the engine's own)
            pass
        except docker.errors.DockerException:
            log.warning("could not remove build container %s", container, exc_info=True)
            return
        try:
            client().inspect_container(container)
        except docker.errors.NotFound:
            return
        except docker.errors.DockerException:
            return
        if time.monotonic() > until:
            log.warning("build container %s is still there after %gs", container, wait)
            return
        time.sleep(0.2)
