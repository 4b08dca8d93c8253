"""Byte ranges of downloads (studio/downloads.py), on a real file object; the datastore,
job file, MLflow artifact and data asset downloads are tested with them where they live."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.test import RequestFactory
from django.utils.http import http_date

from studio.downloads import UNSATISFIABLE, byte_range, file_download

DATA = bytes(range(256)) * 40  # 10,240 bytes
MODIFIED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 10_239)),
        ("bytes=-10", (10_230, 10_239)),
        ("bytes=-99999", (0, 10_239)),  # more than the file: all of it
        ("bytes=10000-99999", (10_000, 10_239)),  # an end past the end is cut
        ("bytes = 5 - 6", (5, 6)),
        ("bytes=10240-", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),
        ("bytes=9-3", None),  # invalid: ignored
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=-", None),
        ("", None),
    ],
)
def test_byte_range_reads_one_range_of_the_header(header, wanted):
    assert byte_range(header, len(DATA)) == wanted


def _download(tmp_path, **headers):
    path = tmp_path / "f.bin"
    path.write_bytes(DATA)
    request = RequestFactory().get("/f", headers=headers)
    return file_download(request, path.open("rb"), name="f.bin", modified=MODIFIED)


def test_a_whole_download_says_it_takes_ranges(tmp_path):
    whole = _download(tmp_path)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Length"] == str(len(DATA))
    assert whole["Last-Modified"] == http_date(MODIFIED.timestamp())
    assert whole["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert whole["X-Content-Type-Options"] == "nosniff"
    assert b"".join(whole.streaming_content) == DATA


def test_a_range_comes_as_206_with_its_content_range(tmp_path):
    part = _download(tmp_path, Range="bytes=1000-1999")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 1000-1999/{len(DATA)}"
    assert part["Content-Length"] == "1000"
    assert b"".join(part.streaming_content) == DATA[1000:2000]


def test_if_range_must_match_last_modified_or_the_whole_file_comes(tmp_path):
    same = _download(tmp_path, Range="bytes=10-19", If_Range=http_date(MODIFIED.timestamp()))
    assert same.status_code == 206 and b"".join(same.streaming_content) == DATA[10:20]
    changed = _download(tmp_path, Range="bytes=10-19", If_Range='"some-etag"')
    assert changed.status_code == 200 and b"".join(changed.streaming_content) == DATA


def test_a_range_past_the_end_is_416_with_the_size(tmp_path):
    past = _download(tmp_path, Range="bytes=20000-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(DATA)}"


def test_an_empty_file_downloads_whole(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    response = file_download(RequestFactory().get("/e"), path.open("rb"), name="empty")
    assert response.status_code == 200 and response["Content-Length"] == "0"
    assert b"".join(response.streaming_content) == b""


class _Stream(io.RawIOBase):
    """A stream that cannot seek (a socket-like body)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


def test_a_stream_that_cannot_seek_comes_whole_and_claims_no_ranges():
    request = RequestFactory().get("/s", headers={"Range": "bytes=5-9"})
    response = file_download(request, _Stream(DATA), name="s.bin")
    assert response.status_code == 200 and not response.has_header("Accept-Ranges")
    assert b"".join(response.streaming_content) == DATA
