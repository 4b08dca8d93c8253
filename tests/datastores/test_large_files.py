"""A 200 MB file round-trips byte-exactly through every datastore type, through the storage
layer and through the HTTP API (a real server: pytest-django's live_server), streamed, with
memory staying flat:

- through the HTTP API, tracemalloc's peak (every Python allocation of client, server and
  storage client, exactly) stays under 64 MiB;
- through the storage layer alone, the process's resident memory, sampled every few
  milliseconds from a baseline taken after malloc_trim(), grows by less than 64 MiB.
  (tracemalloc would do too, but it doubles the time of the Azurite and S3 transfers.)
- through the page's upload form (multipart, the streaming upload handler), tracemalloc's
  peak stays under 64 MiB too.

The file is made once per session from a seeded generator, in 8 MiB chunks; sha256 sums are
computed while the bytes stream, never over a buffered copy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import random
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from apps.workspaces import services as workspace_services
from apps.workspaces import storage
from tests.datastores.conftest import KINDS

SIZE = 200 * 2**20
CHUNK = 8 * 2**20
# What a streamed transfer may hold in Python memory at its peak: a few 8 MiB blocks.
FLAT = 64 * 2**20


@pytest.fixture(scope="session")
def big_file(tmp_path_factory) -> tuple[Path, str]:
    """A 200 MB file of pseudo-random bytes, and its sha256."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    rng = random.Random(20240501)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(SIZE // CHUNK):
            block = rng.randbytes(CHUNK)
            digest.update(block)
            out.write(block)
    return path, digest.hexdigest()


def traced_peak(action: Callable[[], object]) -> tuple[object, int]:
    """Run `action` with tracemalloc on; its result and the peak of traced memory."""
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def rss_growth(action: Callable[[], object]) -> tuple[object, int]:
    """Run `action`; its result and how far resident memory rose above where it started."""
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * page

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc_trim(0)  # give freed memory back, so reusing it cannot hide a buffer
    baseline = peak = rss()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = action()
    finally:
        done.set()
        sampler.join()
    return result, max(peak, rss()) - baseline


def sha256_stream(chunks) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_a_200_mb_file_round_trips_through_the_storage_layer_in_flat_memory(
    kind, make_datastore, big_file
):
    path, expected = big_file
    store = storage.open_store(make_datastore(kind))

    def upload():
        with path.open("rb") as source:
            return store.write_stream("big/big.bin", source, size_hint=SIZE)

    entry, up_growth = rss_growth(upload)
    (digest, size), down_growth = rss_growth(lambda: sha256_stream(store.iter_bytes("big/big.bin")))

    assert entry.size == SIZE
    assert (digest, size) == (expected, SIZE)
    assert up_growth < FLAT, f"upload grew memory by {up_growth / 2**20:.0f} MiB"
    assert down_growth < FLAT, f"download grew memory by {down_growth / 2**20:.0f} MiB"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", KINDS)
def test_a_200_mb_file_round_trips_through_the_http_api_in_flat_memory(
    kind, make_datastore, owner, live_server, big_file
):
    path, expected = big_file
    datastore = make_datastore(kind)
    _, token = workspace_services.token_create(actor=owner, name="big")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = (
        f"{live_server.url}/api/v1/workspaces/churn/datastores/{datastore.name}"
        "/files/content?path=api/big.bin"
    )

    # Warm up first: the server's first request imports and caches things, which is not
    # memory that the transfer holds.
    assert session.put(url, data=b"warm-up").status_code == 201

    def upload():
        with path.open("rb") as source:  # requests streams a file object with its length
            response = session.put(
                url, data=source, headers={"Content-Type": "application/octet-stream"}
            )
        return response

    def download():
        with session.get(url, stream=True) as response:
            response.raise_for_status()
            return sha256_stream(response.iter_content(2**20))

    put, up_peak = traced_peak(upload)
    (digest, size), down_peak = traced_peak(download)

    assert put.status_code == 201, put.text
    assert put.json()["size"] == SIZE
    assert (digest, size) == (expected, SIZE)
    # Client and server run in this process: the peaks cover both ends.
    assert up_peak < FLAT, f"upload peaked at {up_peak / 2**20:.0f} MiB"
    assert down_peak < FLAT, f"download peaked at {down_peak / 2**20:.0f} MiB"


class _MultipartBody:
    """A multipart/form-data body with one file, read from disk as it is sent (requests'
    own `files=` would read the whole file into memory first)."""

    def __init__(self, path: Path, boundary: str):
        self.head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.file = path.open("rb")
        self.size = path.stat().st_size
        self.sent_head = False

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def read(self, _hint: int = -1) -> bytes:
        if not self.sent_head:
            self.sent_head = True
            return self.head
        data = self.file.read(2**20)
        if data:
            return data
        tail, self.tail = self.tail, b""
        return tail


@pytest.mark.django_db(transaction=True)
def test_the_pages_upload_streams_a_200_mb_file_to_storage_in_flat_memory(
    owner, workspace, live_server, big_file, settings
):
    from django.test import Client

    path, expected = big_file
    browser = Client()
    browser.force_login(owner)
    session = requests.Session()
    session.cookies.set(
        settings.SESSION_COOKIE_NAME, browser.cookies[settings.SESSION_COOKIE_NAME].value
    )
    page = f"{live_server.url}/w/churn/datastores/workspaceblobstore/"
    assert session.get(page).status_code == 200  # sets the CSRF cookie; warms the server up
    body = _MultipartBody(path, "studio-test-boundary")

    response, peak = traced_peak(
        lambda: session.post(
            f"{page}upload/?path=web",
            data=body,
            headers={
                "Content-Type": "multipart/form-data; boundary=studio-test-boundary",
                "X-CSRFToken": session.cookies["csrftoken"],
                "HX-Request": "true",
            },
        )
    )
    body.file.close()

    assert response.status_code == 200, response.text[:300]
    assert "Uploaded big.bin." in response.text
    store = storage.open_store(workspace.datastores.get(name="workspaceblobstore"))
    assert sha256_stream(store.iter_bytes("web/big.bin")) == (expected, SIZE)
    assert peak < FLAT, f"upload peaked at {peak / 2**20:.0f} MiB"
