"""Sending a job's image to a Docker engine that does not have it (an attached compute).

The studio's images (the base image, environment images `studio-env:<hash>`, the curated
ones) are built on the studio's own engine and are in no registry, so an attached engine
cannot pull them. Before a job's container is created there, `ensure_image()` compares the
image's ID on both engines and, when the remote one lacks it (or has another image under
that name), streams `docker save` from the source engine into `docker load` on the remote
one: `APIClient.get_image()` yields the tar in 2 MB chunks and `APIClient.load_image()`
posts a generator as a chunked body (requests never joins it), so the image never sits in
memory or on disk here. Image IDs survive save/load, so an equal ID means nothing to send.

One transfer per (engine, image) at a time, across every worker of the studio: a Redis
lock on the broker (`CELERY_BROKER_URL`, or the `lock_url` given) whose lease is renewed
while the image travels; a job that finds the lock taken waits, then finds the image there.
With the embedded filesystem broker every worker is on one machine, so a file lock does.
No Django here (see docs/executors.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import docker.errors
import requests

from .base import ExecutorError, SpecError

log = logging.getLogger(__name__)

LOCK_LEASE_SECONDS = 60  # a Redis lock expires this long after its holder stops renewing it
LOCK_WAIT_SECONDS = 3600  # how long a job waits for another job's transfer of its image
PROGRESS_SECONDS = 10.0  # how often a long transfer says how far it got
LOCK_PREFIX = "studio:image-send:"

Say = Callable[[str], None]


class SourceError(Exception):
    """Reading the image from the source engine failed (kept apart from the remote's
    errors, which the POST to the remote engine raises)."""


def megabytes(n: int) -> str:
    """Decimal megabytes, as `docker images` prints sizes."""
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e6:.1f} MB"


def image_id(api, image: str) -> str | None:
    """The image's ID on an engine (sha256:...), None when the engine has no such image."""
    try:
        return api.inspect_image(image)["Id"]
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.NotFound:
        return None


def ensure_image(
    remote_api,
    source_api,
    image: str,
    *,
    engine: str,
    say: Say,
    lock: Callable[[str], contextlib.AbstractContextManager],
) -> bool:
    """Make sure the engine behind `remote_api` (its URL: `engine`) has `image` as the
    source engine has it. Returns True when it was sent. `source_api` may be None (no
    engine here): then the remote one must have the image already."""
    remote_id = _remote_id(remote_api, image, engine)
    source_id, size = None, 0
    if source_api is not None:
        try:
            info = source_api.inspect_image(image)
            source_id, size = info["Id"], int(info.get("Size") or 0)
        except docker.errors.NotFound:
            pass
        except (docker.errors.DockerException, requests.RequestException) as exc:
            log.warning("the studio's engine does not answer: %s", exc)
    if source_id is None:
        if remote_id is not None:
            return False  # only the remote engine has it (loaded there by hand): use it
        raise SpecError(
            "image",
            f"{image} is neither on {engine} nor on the studio's engine (images are never pulled)",
        )
    if remote_id == source_id:
        return False
    with lock(_lock_name(engine, image)) as waited:
        # Look again under the lock: another job may have sent it since the first look.
        if _remote_id(remote_api, image, engine) == source_id:
            if waited:
                say(f"image {image} is now on {engine} (sent for another job)")
            return False
        send_image(remote_api, source_api, image, engine=engine, size=size, say=say)
    if _remote_id(remote_api, image, engine) != source_id:
        raise ExecutorError(f"{engine} loaded image {image} but does not have it afterwards")
    return True


def _remote_id(remote_api, image: str, engine: str) -> str | None:
    try:
        return image_id(remote_api, image)
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise ExecutorError(f"the Docker engine at {engine} does not answer: {exc}") from exc


def send_image(remote_api, source_api, image: str, *, engine: str, size: int, say: Say) -> int:
    """Stream `docker save` of the source engine into `docker load` of the remote one;
    returns the bytes sent. Every failure is an ExecutorError that says where it happened
    and how far the transfer got."""
    what = f" ({megabytes(size)})" if size else ""
    say(f"image {image} not on {engine}: sending it{what} from the studio's engine …")
    sent = 0
    started = last = time.monotonic()

    def body() -> Iterator[bytes]:
        nonlocal sent, last
        try:
            for chunk in source_api.get_image(image):
                sent += len(chunk)
                if time.monotonic() - last >= PROGRESS_SECONDS:
                    last = time.monotonic()
                    say(f"… {megabytes(sent)} of about {megabytes(size)} sent")
                yield chunk
        except Exception as exc:
            raise SourceError(str(getattr(exc, "explanation", None) or exc)) from exc

    try:
        for message in remote_api.load_image(body(), quiet=False):
            error = message.get("error") or (message.get("errorDetail") or {}).get("message")
            if error:
                raise ExecutorError(
                    f"{engine} could not load image {image}: {error} (after {megabytes(sent)} sent)"
                )
    except ExecutorError:
        raise
    except SourceError as exc:
        raise ExecutorError(
            f"reading image {image} from the studio's engine failed after {megabytes(sent)}: {exc}"
        ) from exc
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        reason = str(getattr(exc, "explanation", None) or exc)
        raise ExecutorError(
            f"sending image {image} to {engine} failed after {megabytes(sent)}: {reason}"
        ) from exc
    took = time.monotonic() - started
    say(f"image {image} sent to {engine}: {megabytes(sent)} in {took:.1f} s")
    return sent


def _lock_name(engine: str, image: str) -> str:
    return LOCK_PREFIX + hashlib.sha256(f"{engine}\0{image}".encode()).hexdigest()[:32]


def lock_url_default() -> str:
    """Where the transfer locks live: STUDIO_LOCK_URL, else the Celery broker (the one
    thing every worker of a studio shares) when it is Redis."""
    return os.environ.get("STUDIO_LOCK_URL") or os.environ.get("CELERY_BROKER_URL") or ""


def transfer_lock(url: str, *, say: Say, wait: float = LOCK_WAIT_SECONDS, lease=None):
    """A lock factory: name -> context manager that yields whether it had to wait.
    Redis when `url` is redis:// or rediss://, else a file lock (one machine)."""
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url)
        return lambda name: redis_lock(
            client, name, say=say, wait=wait, lease=lease or LOCK_LEASE_SECONDS
        )
    return lambda name: file_lock(name, say=say, wait=wait)


@contextlib.contextmanager
def redis_lock(client, name: str, *, say: Say, wait: float, lease: float) -> Iterator[bool]:
    """A Redis lock whose lease (`lease` seconds) a thread renews until it is released, so
    a worker that dies mid-transfer frees it within one lease and a long one keeps it."""
    from redis.exceptions import LockError, RedisError

    lock = client.lock(name, timeout=lease, thread_local=False)
    try:
        waited = not lock.acquire(blocking=False)
        if waited:
            say("another job is sending the same image to this engine: waiting for it")
            if not lock.acquire(blocking=True, blocking_timeout=wait):
                raise ExecutorError(f"waited {wait:g} s for another job's transfer of the image")
    except RedisError as exc:
        raise ExecutorError(f"the image transfer lock (Redis) failed: {exc}") from exc
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease / 3):
            with contextlib.suppress(RedisError, LockError):
                lock.reacquire()

    renewer = threading.Thread(target=renew, daemon=True)
    renewer.start()
    try:
        yield waited
    finally:
        done.set()
        renewer.join(timeout=5)
        with contextlib.suppress(RedisError, LockError):
            lock.release()


@contextlib.contextmanager
def file_lock(name: str, *, say: Say, wait: float) -> Iterator[bool]:
    """flock(2) on a file named after the lock (workers on this machine only)."""
    folder = os.path.join(tempfile.gettempdir(), "studio-image-locks")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name.removeprefix(LOCK_PREFIX) + ".lock"), "w") as fh:
        waited = False
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waited = True
            say("another job is sending the same image to this engine: waiting for it")
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ExecutorError(
                            f"waited {wait:g} s for another job's transfer of the image"
                        ) from None
                    time.sleep(0.2)
        try:
            yield waited
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
