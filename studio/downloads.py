"""A file streamed to the client, with HTTP byte ranges (RFC 9110 §14).

Every download of a stored file (a job's outputs, an MLflow artifact, a datastore file, a
`uri_file` data asset) goes through `file_download`: it says `Accept-Ranges: bytes` and
answers one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) with 206 and `Content-Range`, so a
browser resumes a broken download and `curl -C -` continues one. A range that starts past the
end gets 416; several ranges or a header it does not understand get the whole file (a server
may ignore Range). `If-Range` must equal the `Last-Modified` sent, else the whole file comes
back, so a resumed download never splices two versions of a file. (Django's FileResponse
answers no ranges.)

What is downloaded is stored content a user or a job wrote, never a page of the studio: every
answer is `nosniff` and carries a sandboxing Content-Security-Policy, so an HTML file opened
from its URL (autolog's estimator.html, say) cannot run script in the studio's origin.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import IO

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header, http_date

CHUNK = 1 << 20
SANDBOX = "default-src 'none'; sandbox"
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
UNSATISFIABLE = "unsatisfiable"


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """The (first, last) byte positions one `Range` header asks of a `size`-byte file;
    UNSATISFIABLE when it starts past the end; None for no range, several, or nonsense."""
    match = _RANGE.match(header or "")
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last n bytes
        count = int(last)
        if count == 0:
            return UNSATISFIABLE
        return max(size - count, 0), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None  # invalid: ignored, as RFC 9110 allows
    if start >= size:
        return UNSATISFIABLE
    return start, end


def _seekable(handle: IO[bytes]) -> bool:
    try:
        return bool(handle.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _size_of(handle: IO[bytes]) -> int | None:
    size = getattr(handle, "size", None)
    if isinstance(size, int):
        return size
    if not _seekable(handle):
        return None
    here = handle.tell()
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(here)
    return size


def file_download(
    request,
    handle: IO[bytes],
    *,
    name: str,
    size: int | None = None,
    content_type: str = "application/octet-stream",
    attachment: bool = True,
    modified: datetime | None = None,
) -> HttpResponse:
    """Stream `handle` (closed when the response ends) as `name`, whole or the one byte range
    the request asks for. Ranges need a seekable handle of a known size; without them the
    file comes whole, and Accept-Ranges is not claimed."""
    size = _size_of(handle) if size is None else size
    ranges = size is not None and _seekable(handle)
    last_modified = http_date(modified.timestamp()) if modified else None
    header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    wanted = byte_range(header, size) if ranges and header and request.method == "GET" else None
    if wanted is not None and if_range is not None and if_range != last_modified:
        wanted = None  # the file may have changed since the first part: send all of it
    if wanted == UNSATISFIABLE:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    start, end = wanted if wanted else (0, (size or 0) - 1)
    if start:
        handle.seek(start)
    length = None if size is None else max(end - start + 1, 0)

    def chunks():
        try:
            left = length
            while left is None or left > 0:
                block = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not block:
                    return
                if left is not None:
                    left -= len(block)
                yield block
        finally:
            with contextlib.suppress(Exception):
                handle.close()

    response = StreamingHttpResponse(
        chunks(), status=206 if wanted else 200, content_type=content_type
    )
    if length is not None:
        response["Content-Length"] = str(length)
    if ranges:
        response["Accept-Ranges"] = "bytes"
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    if last_modified:
        response["Last-Modified"] = last_modified
    response["Content-Disposition"] = content_disposition_header(attachment, name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    return response
