"""The one storage layer: every feature that reads or writes a datastore's files goes through
`open_store(datastore)`, whatever the datastore's type.

It stands on fsspec: the local filesystem for `local` datastores, adlfs for `azure_blob`
(an Azure Blob container) and s3fs for `s3` (a bucket on any S3-compatible server). A `Store`
is one datastore's files seen as paths relative to its root (the folder, container or
bucket), with:

- `ls(path, cursor=, limit=)` for one page of a folder (folders first, then files, by name);
- `open_read(path)` and `iter_bytes(path)` to stream a file out;
- `open_write(path)` and `write_stream(path, fileobj)` to stream one in, never holding more
  than a block (8 MiB) in memory: a temporary name then a rename for local folders, a block
  or multipart upload (committed only at the end, aborted on failure) for Azure and S3;
- `stat`, `exists`, `delete`, `move` (a file to another path of the same datastore), and
  `check()`, which proves the location is reachable with the
  credentials before a datastore is saved.

Paths are relative, '/'-separated, and may not leave the root (`..` is refused). Errors come
out as the studio's DomainErrors: NotFound for a missing file, ValidationError naming the
field for bad input, StorageUnavailable (502) when the storage server fails or refuses.

Credentials are decrypted from the vault only to build the client, are never logged, and are
masked out of any error text that a storage library might echo.

Local datastores: the four built-in ones live under STUDIO_HOME/workspaces/<workspace id>/.
A user-made `local` datastore takes a relative path (inside the workspace's own folder under
STUDIO_HOME) or an absolute folder under one of the roots an operator lists in
STUDIO_LOCAL_DATASTORE_ROOTS (a comma-separated list of absolute folders; empty by default,
so no other folder of the server can be exposed). The rest of STUDIO_HOME (keys, database,
other workspaces) is never reachable.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote, urlsplit

from django.conf import settings
from rest_framework import status

from studio.errors import DomainError, NotFound, ValidationError

from . import vault

log = logging.getLogger(__name__)
# The Azure SDK logs every request and response (headers and all) at INFO: far too much for
# the studio's log. Its warnings still show.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

BLOCK_SIZE = 8 * 2**20  # bytes held in memory per upload or download block
READ_CHUNK = 2**20  # what iter_bytes yields at a time
MAX_S3_PARTS = 9_000  # S3 allows 10,000 parts; keep a margin
MAX_AZURE_BLOCKS = 45_000  # Azure allows 50,000 blocks
CHECK_TIMEOUT = 10  # seconds for the connection test
MOVE_TIMEOUT = 3600  # seconds an Azure server-side copy (a move) may stay pending
UPLOAD_PREFIX = ".studio-upload-"  # temporary names of local uploads, hidden from listings
LOCAL_ROOTS_ENV = "STUDIO_LOCAL_DATASTORE_ROOTS"


class StorageUnavailable(DomainError):
    """The storage server failed, could not be reached, or refused the stored credentials."""

    status_code = status.HTTP_502_BAD_GATEWAY
    code = "storage_unavailable"


# Paths -------------------------------------------------------------------------------------


def clean_path(path: str | None, *, field: str = "path") -> str:
    """A datastore path made safe: '/'-separated, relative to the datastore's root, without
    empty or '.' parts. '..', backslashes and control characters are refused, naming `field`.
    A leading '/' means the datastore's root, never the server's."""
    text = "" if path is None else str(path)
    if any(ord(ch) < 32 for ch in text) or "\\" in text:
        raise ValidationError.for_field(field, "Control characters and '\\' are not allowed.")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValidationError.for_field(field, "'..' is not allowed: paths stay in the datastore.")
    if any(len(p.encode()) > 255 for p in parts) or len(text) > 1024:
        raise ValidationError.for_field(field, "Path too long.")
    return "/".join(parts)


def uri(datastore_name: str, path: str) -> str:
    """The Azure ML style URI of a path: azureml://datastores/<name>/paths/<path>."""
    return f"azureml://datastores/{datastore_name}/paths/{quote(clean_path(path))}"


_SHORT_URI = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/?(?P<path>.*)$")
_LONG_URI = re.compile(
    r"^azureml://subscriptions/[^/]+/resource[gG]roups/[^/]+/(?:providers/[^/]+/)?"
    r"workspaces/(?P<ws>[^/]+)/datastores/(?P<ds>[^/]+)/paths/?(?P<path>.*)$"
)


def split_uri(value: str) -> tuple[str | None, str, str] | None:
    """(workspace or None, datastore, path) of a datastore URI, short or long form; None when
    `value` is not one. Only the text: nothing is looked up."""
    text = str(value or "").strip()
    match = _SHORT_URI.match(text) or _LONG_URI.match(text)
    if match is None:
        return None
    return match.groupdict().get("ws"), match["ds"], unquote(match["path"])


def resolve_datastore_uri(workspace, value: str, *, field: str = "path"):
    """(datastore, path) for `azureml://datastores/<ds>/paths/<p>` or the long form
    `azureml://subscriptions/.../workspaces/<ws>/datastores/<ds>/paths/<p>`.

    No permission check: the caller has decided the actor may use the workspace's data.
    """
    from .models import Datastore

    text = str(value or "").strip()
    parts = split_uri(text)
    if parts is None:
        raise ValidationError.for_field(
            field, f"{text!r} is not an azureml://datastores/<name>/paths/<path> URI."
        )
    ws_name, ds_name, path = parts
    if ws_name and ws_name != workspace.name:
        raise ValidationError.for_field(
            field, f"The URI names workspace '{ws_name}', not '{workspace.name}'."
        )
    datastore = Datastore.objects.filter(workspace=workspace, name=ds_name).first()
    if datastore is None:
        raise ValidationError.for_field(
            field, f"No datastore '{ds_name}' in workspace '{workspace.name}'."
        )
    return datastore, clean_path(path, field=field)


# Listing entries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One file or folder of a datastore."""

    name: str
    path: str
    is_dir: bool
    size: int | None
    modified: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "is_dir": self.is_dir,
            "size": self.size,
            "modified": self.modified,
        }


def _modified(info: dict) -> datetime | None:
    for key in ("last_modified", "LastModified", "mtime", "modified"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=UTC)
    return None


def _sort_key(entry: Entry) -> tuple[int, str]:
    return (0 if entry.is_dir else 1, entry.name)


def _encode_cursor(entry: Entry) -> str:
    raw = json.dumps(list(_sort_key(entry))).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, name = json.loads(raw)
        return int(kind), str(name)
    except (ValueError, TypeError, binascii.Error):
        raise ValidationError.for_field("cursor", "Not a cursor this listing gave.") from None


# Secrets in error text -----------------------------------------------------------------------


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Mask secret values (and their URL-encoded forms) in a message from a storage library."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                text = text.replace(form, "***")
    return text


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line[:300]


# The stores --------------------------------------------------------------------------------


class Upload:
    """A file being written. `write()` blocks; `commit()` makes the file appear under its
    name; `abort()` leaves nothing behind. As a context manager it commits on success and
    aborts on an exception."""

    def __init__(self, store: Store, path: str, handle: Any):
        self.store = store
        self.path = path
        self.handle = handle
        self.size = 0
        self.done = False

    def write(self, data: bytes) -> None:
        with self.store._errors(self.path):
            self.handle.write(data)
        self.size += len(data)

    def commit(self) -> None:
        with self.store._errors(self.path):
            self.handle.close()
        self.done = True

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        try:
            self.handle.discard()
        except Exception as exc:  # noqa: BLE001 - best effort; the upload is failing anyway
            log.warning("could not discard a failed upload to %s: %s", self.path, type(exc))
        # fsspec commits on close() unless the final flush is marked as done already.
        self.handle.forced = True
        with contextlib.suppress(Exception):
            self.handle.close()

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class _ZipSink(io.RawIOBase):
    """Where zipfile writes a streamed zip: bytes wait here until the generator hands them
    out. Not seekable, so zipfile writes data descriptors and never seeks back."""

    def __init__(self):
        super().__init__()
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class Store:
    """One datastore's files, relative to its root. Subclasses give the filesystem."""

    kind = "base"
    root_kind = "folder"

    def __init__(self, *, name: str, fs: Any, root: str, secrets: tuple[str, ...] = ()):
        self.name = name
        self.fs = fs
        self.root = root.rstrip("/")
        self._secrets = secrets

    # -- paths
    def _full(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def _rel(self, full: str) -> str:
        full = full.rstrip("/")
        prefix = self.root + "/"
        return full[len(prefix) :] if full.startswith(prefix) else ""

    def uri(self, path: str) -> str:
        return uri(self.name, path)

    # -- errors
    @contextlib.contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        """Storage library exceptions as DomainErrors, with secrets masked out."""
        try:
            yield
        except DomainError:
            raise
        except FileNotFoundError:
            raise NotFound(f"No file or folder '{path}' in datastore '{self.name}'.") from None
        except (IsADirectoryError, NotADirectoryError) as exc:
            kind = "a folder" if isinstance(exc, IsADirectoryError) else "not a folder"
            raise ValidationError.for_field("path", f"'{path}' is {kind}.") from None
        except Exception as exc:  # noqa: BLE001 - any failure of the storage server or client
            reason = _scrub(_first_line(str(exc)) or type(exc).__name__, self._secrets)
            log.warning("datastore %s: %s on %r: %s", self.name, type(exc).__name__, path, reason)
            raise StorageUnavailable(
                f"Datastore '{self.name}' failed: {type(exc).__name__}: {reason}"
            ) from None

    # -- reading
    def _entry(self, info: dict) -> Entry:
        rel = self._rel(info["name"])
        is_dir = info.get("type") == "directory"
        return Entry(
            name=rel.rsplit("/", 1)[-1],
            path=rel,
            is_dir=is_dir,
            size=None if is_dir else info.get("size"),
            modified=_modified(info),
        )

    def _listing(self, rel: str) -> list[dict]:
        return self.fs.ls(self._full(rel), detail=True)

    def ls(
        self, path: str = "", *, cursor: str | None = None, limit: int = 100, hidden: bool = False
    ) -> tuple[list[Entry], str | None]:
        """One page of a folder: folders first, then files, each by name; and the cursor
        of the next page (None on the last). A local datastore's missing folder is empty.
        Names of unfinished uploads (UPLOAD_PREFIX) are left out unless `hidden`."""
        rel = clean_path(path)
        limit = max(1, min(int(limit), 1000))
        after = _decode_cursor(cursor) if cursor else None
        with self._errors(rel):
            try:
                infos = self._listing(rel)
            except FileNotFoundError:
                if rel:
                    raise
                raise StorageUnavailable(
                    f"Datastore '{self.name}' failed: its {self.root_kind} '{self.root}' "
                    "does not exist."
                ) from None
        full = self._full(rel).rstrip("/")
        entries = []
        for info in infos:
            name = info["name"].rstrip("/")
            if name == full:
                if info.get("type") != "directory":
                    raise ValidationError.for_field("path", f"'{rel}' is a file, not a folder.")
                continue
            entry = self._entry(info)
            if entry.name and (hidden or not entry.name.startswith(UPLOAD_PREFIX)):
                entries.append(entry)
        entries.sort(key=_sort_key)
        if after is not None:
            entries = [e for e in entries if _sort_key(e) > after]
        page = entries[:limit]
        more = len(entries) > limit
        return page, (_encode_cursor(page[-1]) if more and page else None)

    def entries(self, path: str = "", *, hidden: bool = False) -> Iterator[Entry]:
        """Every entry of one folder, page after page (the order of `ls`)."""
        cursor = None
        while True:
            page, cursor = self.ls(path, cursor=cursor, limit=1000, hidden=hidden)
            yield from page
            if not cursor:
                return

    def walk(self, path: str = "") -> Iterator[Entry]:
        """Every file below a folder, depth first: a folder's files by name, then each of its
        folders by name. Unfinished-upload names are hidden at the level they stand in only,
        so walking a staging folder itself yields its files."""
        stack = [clean_path(path)]
        while stack:
            folders = []
            for entry in self.entries(stack.pop()):
                if entry.is_dir:
                    folders.append(entry.path)
                else:
                    yield entry
            stack.extend(reversed(folders))

    def zip_chunks(self, path: str) -> Iterator[bytes]:
        """A file (under its own name) or a folder's files (under their paths in it) as a
        zip, produced while it is sent: a chunk of a file at a time, never a whole file in
        memory and no temporary file. Fixed member times, so the same files give the same
        bytes."""
        rel = clean_path(path)
        entry = self.stat(rel)  # now, so a missing path is an error before the first byte
        if entry.is_dir:
            prefix = rel + "/" if rel else ""
            files = ((e.path, e.path[len(prefix) :]) for e in self.walk(rel))
        else:
            files = iter([(rel, entry.name)])
        return self._zip(files)

    def _zip(self, files: Iterator[tuple[str, str]]) -> Iterator[bytes]:
        sink = _ZipSink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for source, name in files:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as out:
                    for chunk in self.iter_bytes(source):
                        out.write(chunk)
                        if sink.parts:
                            yield sink.take()
                if sink.parts:
                    yield sink.take()
        yield sink.take()

    def stat(self, path: str) -> Entry:
        rel = clean_path(path)
        if not rel:
            return Entry(name="", path="", is_dir=True, size=None, modified=None)
        with self._errors(rel):
            info = self.fs.info(self._full(rel))
        return self._entry(info)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except NotFound:
            return False
        return True

    def open_read(self, path: str) -> IO[bytes]:
        """A file object reading the file in blocks (a streaming read, not the whole file)."""
        entry = self.stat(path)
        if entry.is_dir:
            raise ValidationError.for_field("path", f"'{entry.path}' is a folder, not a file.")
        with self._errors(entry.path):
            return self._open_read(entry.path, size=entry.size)

    def _open_read(self, rel: str, size: int | None = None) -> IO[bytes]:
        return self.fs.open(self._full(rel), "rb", block_size=BLOCK_SIZE, cache_type="readahead")

    def iter_bytes(self, path: str, *, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """The file's bytes, a chunk at a time (for streamed HTTP responses). Opens now, so
        a missing file fails here rather than mid-response."""
        handle = self.open_read(path)
        rel = clean_path(path)

        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    with self._errors(rel):
                        data = handle.read(chunk_size)
                    if not data:
                        return
                    yield data
            finally:
                with contextlib.suppress(Exception):
                    handle.close()

        return chunks()

    def read_head(self, path: str, size: int) -> bytes:
        """Up to `size` bytes from the start of a file (previews)."""
        handle = self.open_read(path)
        parts: list[bytes] = []
        try:
            with self._errors(clean_path(path)):
                while size > 0:
                    data = handle.read(size)
                    if not data:
                        break
                    parts.append(data)
                    size -= len(data)
            return b"".join(parts)
        finally:
            with contextlib.suppress(Exception):
                handle.close()

    # -- writing
    def _block_size(self, size_hint: int | None, max_blocks: int) -> int:
        if not size_hint:
            return BLOCK_SIZE
        needed = -(-size_hint // max_blocks)
        return max(BLOCK_SIZE, -(-needed // 2**20) * 2**20)

    def open_write(self, path: str, *, size_hint: int | None = None) -> Upload:
        """Start writing a file (replacing one of that name). Use as a context manager."""
        rel = clean_path(path)
        if not rel:
            raise ValidationError.for_field("path", "Give a file name.")
        with self._errors(rel):
            existing = self._info_or_none(rel)
            if existing is not None and existing.get("type") == "directory":
                raise ValidationError.for_field("path", f"'{rel}' is a folder.")
            return Upload(self, rel, self._open_write(rel, size_hint))

    def _info_or_none(self, rel: str) -> dict | None:
        try:
            return self.fs.info(self._full(rel))
        except FileNotFoundError:
            return None

    def _open_write(self, rel: str, size_hint: int | None) -> Any:
        raise NotImplementedError

    def write_stream(
        self,
        path: str,
        fileobj: IO[bytes],
        *,
        chunk_size: int = BLOCK_SIZE,
        size_hint: int | None = None,
    ) -> Entry:
        """Copy a readable file object into the datastore a chunk at a time."""
        with self.open_write(path, size_hint=size_hint) as upload:
            while True:
                data = fileobj.read(chunk_size)
                if not data:
                    break
                upload.write(data)
        return self.stat(path)

    def delete(self, path: str, *, recursive: bool = False) -> None:
        entry = self.stat(path)
        if not entry.path:
            raise ValidationError.for_field("path", "The datastore's root cannot be deleted.")
        if entry.is_dir and not recursive:
            raise ValidationError.for_field("path", f"'{entry.path}' is a folder.")
        with self._errors(entry.path):
            self.fs.rm(self._full(entry.path), recursive=entry.is_dir)

    def move(self, src: str, dst: str) -> Entry:
        """Move a file to another path of the same datastore, replacing a file of that name
        (a rename on a local folder; a server-side copy, then the source deleted, on Azure
        and S3: the bytes never pass through the studio)."""
        source = self.stat(src)
        if source.is_dir or not source.path:
            raise ValidationError.for_field("path", f"'{source.path}' is a folder, not a file.")
        target = clean_path(dst)
        if not target:
            raise ValidationError.for_field("path", "Give a file name.")
        with self._errors(target):
            existing = self._info_or_none(target)
            if existing is not None and existing.get("type") == "directory":
                raise ValidationError.for_field("path", f"'{target}' is a folder.")
            self._move(source.path, target)
        return self.stat(target)

    def _move(self, src: str, dst: str) -> None:
        self.fs.mv(self._full(src), self._full(dst))

    def check(self) -> None:
        """Prove the location exists and the credentials work; ValidationError naming the
        field at fault otherwise."""
        raise NotImplementedError


class LocalStore(Store):
    """A folder on the server's disk, through fsspec's local filesystem."""

    kind = "local"

    def __init__(self, *, name: str, root: Path):
        from fsspec.implementations.local import LocalFileSystem

        super().__init__(name=name, fs=LocalFileSystem(), root=str(root))
        self.root_path = root

    def _inside(self, rel: str) -> str:
        """The full path, refusing one that a symbolic link leads out of the root."""
        full = self._full(rel)
        real_root = os.path.realpath(self.root_path)
        real = os.path.realpath(full)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise ValidationError.for_field("path", f"'{rel}' leads out of the datastore.")
        return full

    def _listing(self, rel: str) -> list[dict]:
        full = self._inside(rel)
        if not rel and not os.path.isdir(full):
            return []
        return self.fs.ls(full, detail=True)

    def stat(self, path: str) -> Entry:
        rel = clean_path(path)
        if rel:
            self._inside(rel)
        return super().stat(rel)

    def _open_read(self, rel: str, size: int | None = None) -> IO[bytes]:
        return open(self._inside(rel), "rb", buffering=READ_CHUNK)  # noqa: SIM115

    def _open_write(self, rel: str, size_hint: int | None) -> Any:
        full = Path(self._inside(rel))
        full.parent.mkdir(parents=True, exist_ok=True)
        self._inside(rel)  # again: a link may have been met while making the folders
        return _LocalAtomicFile(full)

    def delete(self, path: str, *, recursive: bool = False) -> None:
        rel = clean_path(path)
        if rel:
            self._inside(rel)
        super().delete(rel, recursive=recursive)

    def _move(self, src: str, dst: str) -> None:
        target = Path(self._inside(dst))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._inside(src), self._inside(dst))

    def check(self) -> None:
        root = self.root_path
        if root.exists() and not root.is_dir():
            raise ValidationError.for_field("path", f"{root} exists and is not a folder.")
        probe = root
        while not probe.exists():
            probe = probe.parent
        if not os.access(probe, os.W_OK | os.X_OK):
            raise ValidationError.for_field("path", f"The studio cannot write to {probe}.")


class _LocalAtomicFile:
    """Writes to a temporary name beside the target, renamed over it on close()."""

    def __init__(self, target: Path):
        self.target = target
        self.temp = target.with_name(f"{UPLOAD_PREFIX}{uuid.uuid4().hex}-{target.name}"[:255])
        self.handle = open(self.temp, "wb")  # noqa: SIM115
        self.forced = False

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def close(self) -> None:
        if self.forced:
            return
        self.forced = True
        self.handle.close()
        os.replace(self.temp, self.target)

    def discard(self) -> None:
        self.forced = True
        self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


class AzureBlobStore(Store):
    """A container in an Azure Storage account (or Azurite), through adlfs."""

    kind = "azure_blob"
    root_kind = "container"

    def __init__(self, *, name: str, account_url: str, container: str, connection: str, secrets):
        from adlfs import AzureBlobFileSystem

        # A connection string carries any endpoint (http for Azurite, a sovereign cloud) and
        # any credential kind, and keeps adlfs from falling back to the server's own
        # identity (DefaultAzureCredential) when the datastore has none.
        fs = AzureBlobFileSystem(
            connection_string=connection,
            skip_instance_cache=True,
            use_listings_cache=False,
            blocksize=BLOCK_SIZE,
        )
        super().__init__(name=name, fs=fs, root=container, secrets=secrets)
        self.account_url = account_url
        self.container = container
        self._connection = connection

    def _open_write(self, rel: str, size_hint: int | None) -> Any:
        block = self._block_size(size_hint, MAX_AZURE_BLOCKS)
        return self.fs.open(self._full(rel), "wb", block_size=block)

    def _move(self, src: str, dst: str) -> None:
        # A blob copy may finish after start_copy_from_url answers (status "pending"):
        # wait for it before deleting the source, which would abort it.
        from azure.storage.blob import ContainerClient

        client = ContainerClient.from_connection_string(self._connection, self.container)
        with client:
            source = client.get_blob_client(src)
            target = client.get_blob_client(dst)
            copy = target.start_copy_from_url(source.url)
            status, copy_id = copy.get("copy_status"), copy.get("copy_id")
            deadline = time.monotonic() + MOVE_TIMEOUT
            while status == "pending":
                if time.monotonic() > deadline:
                    with contextlib.suppress(Exception):
                        target.abort_copy(copy_id)
                    raise StorageUnavailable(
                        f"Datastore '{self.name}' failed: copying '{src}' did not finish."
                    )
                time.sleep(0.5)
                status = target.get_blob_properties().copy.status
            if status != "success":
                raise StorageUnavailable(
                    f"Datastore '{self.name}' failed: copying '{src}' ended as {status}."
                )
            source.delete_blob()

    def check(self) -> None:
        from azure.core.exceptions import HttpResponseError, ServiceRequestError
        from azure.storage.blob import ContainerClient

        client = ContainerClient.from_connection_string(
            self._connection,
            self.container,
            retry_total=0,
            connection_timeout=CHECK_TIMEOUT,
            read_timeout=CHECK_TIMEOUT,
        )
        where = f"cannot reach container {self.container}"
        try:
            with client:
                next(iter(client.list_blobs(results_per_page=1).by_page()), None)
        except HttpResponseError as exc:
            code = getattr(exc.error_code, "value", exc.error_code) or exc.reason or ""
            message = f"{where}: {exc.status_code} {code}".strip()
            field = "container_name" if exc.status_code == 404 else "credentials"
            if exc.status_code not in (401, 403, 404):
                field = "endpoint"
            raise ValidationError.for_field(field, _scrub(message, self._secrets)) from None
        except (ServiceRequestError, ValueError) as exc:
            reason = _scrub(_first_line(str(exc)), self._secrets)
            raise ValidationError.for_field(
                "endpoint", f"{where} at {self.account_url}: {reason}"
            ) from None


class S3Store(Store):
    """A bucket on an S3-compatible server (AWS, MinIO, moto...), through s3fs."""

    kind = "s3"
    root_kind = "bucket"

    def __init__(self, *, name: str, bucket: str, endpoint_url: str, region: str, creds, secrets):
        import s3fs

        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        self.region = region or "us-east-1"
        self._creds = creds
        fs = s3fs.S3FileSystem(
            # No credentials means anonymous: never the server's own AWS identity.
            anon=not creds,
            key=creds.get("access_key_id") if creds else None,
            secret=creds.get("secret_access_key") if creds else None,
            endpoint_url=self.endpoint_url,
            client_kwargs={"region_name": self.region},
            skip_instance_cache=True,
            use_listings_cache=False,
            default_block_size=BLOCK_SIZE,
        )
        super().__init__(name=name, fs=fs, root=bucket, secrets=secrets)

    def _open_write(self, rel: str, size_hint: int | None) -> Any:
        block = self._block_size(size_hint, MAX_S3_PARTS)
        return self.fs.open(self._full(rel), "wb", block_size=block)

    def _open_read(self, rel: str, size: int | None = None) -> IO[bytes]:
        # One streamed GET rather than a ranged GET a block: fewer requests to the server,
        # and aiohttp's flow control keeps the buffered part small.
        from fsspec.asyn import sync

        handle = sync(self.fs.loop, self.fs.open_async, self._full(rel), "rb")
        # a seek (a download's byte range) switches to fsspec's ranged reads; the stat's size
        # spares a download from seeking to the end to learn it (which would drop the stream)
        return _SyncStreamedRead(
            self.fs.loop, handle, reopen=lambda: Store._open_read(self, rel), size=size
        )

    def check(self) -> None:
        import botocore.session
        from botocore import UNSIGNED
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        config = Config(
            connect_timeout=CHECK_TIMEOUT,
            read_timeout=CHECK_TIMEOUT,
            retries={"max_attempts": 1},
            signature_version=None if self._creds else UNSIGNED,
        )
        client = botocore.session.Session().create_client(
            "s3",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self._creds.get("access_key_id") if self._creds else None,
            aws_secret_access_key=self._creds.get("secret_access_key") if self._creds else None,
            config=config,
        )
        where = f"cannot reach bucket {self.bucket}"
        try:
            client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
        except ClientError as exc:
            http = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
            code = exc.response.get("Error", {}).get("Code", "")
            field = {404: "bucket", 301: "region", 400: "region"}.get(http, "credentials")
            if code == "NoSuchBucket":
                field = "bucket"
            raise ValidationError.for_field(
                field, _scrub(f"{where}: {http} {code}".strip(), self._secrets)
            ) from None
        except (EndpointConnectionError, BotoCoreError, ValueError) as exc:
            reason = _scrub(_first_line(str(exc)), self._secrets)
            raise ValidationError.for_field("endpoint_url", f"{where}: {reason}") from None
        finally:
            client.close()


class _SyncStreamedRead(io.RawIOBase):
    """A blocking file object over fsspec's async streamed file (one GET, read as it comes).
    With `reopen` (a seekable file of the same object), a seek drops the stream and goes on
    with that file's ranged reads: a download that resumes at byte n reads from byte n."""

    def __init__(
        self, loop, handle, reopen: Callable[[], IO[bytes]] | None = None, size: int | None = None
    ):
        super().__init__()
        self._loop = loop
        self._handle = handle
        self._reopen = reopen
        self._ranged: IO[bytes] | None = None
        self.size = size  # as fsspec's files have it (studio/downloads.py reads it)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._reopen is not None

    def seek(self, offset: int, whence: int = 0) -> int:
        if self._reopen is None:
            raise io.UnsupportedOperation("seek")
        if self._ranged is None:
            self._close_stream()
            self._ranged = self._reopen()
        return self._ranged.seek(offset, whence)

    def tell(self) -> int:
        return self.seek(0, 1)

    def read(self, size: int = -1) -> bytes:
        from fsspec.asyn import sync

        if size is None or size < 0:
            size = READ_CHUNK  # never the whole object at once
        if self._ranged is not None:
            return self._ranged.read(size)
        return sync(self._loop, self._handle.read, size)

    def _close_stream(self) -> None:
        body = getattr(self._handle, "r", None)
        if body is not None:
            with contextlib.suppress(Exception):
                body.close()

    def close(self) -> None:
        if not self.closed:
            self._close_stream()
            if self._ranged is not None:
                with contextlib.suppress(Exception):
                    self._ranged.close()
        super().close()


# Building a store --------------------------------------------------------------------------


def local_roots() -> list[Path]:
    """The absolute folders (besides a workspace's own) where `local` datastores may point:
    STUDIO_LOCAL_DATASTORE_ROOTS, comma-separated. Read here, not in settings.py, as only
    the storage layer uses it."""
    raw = os.environ.get(LOCAL_ROOTS_ENV, "")
    return [Path(p.strip()).resolve() for p in raw.split(",") if p.strip()]


def workspace_root(workspace) -> Path:
    """The workspace's own folder under STUDIO_HOME (the built-in datastores live there)."""
    return Path(settings.STUDIO_HOME).resolve() / "workspaces" / str(workspace.id)


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def local_root(workspace, config: dict, *, field: str = "path") -> Path:
    """The folder of a local datastore, checked to be inside the workspace's own folder or
    an operator-allowed root; ValidationError naming `field` otherwise."""
    raw = str(config.get("path") or "").strip()
    if not raw:
        raise ValidationError.for_field(field, "Give the folder of the datastore.")
    home = Path(settings.STUDIO_HOME).resolve()
    own = workspace_root(workspace)
    if config.get("relative_to") == "STUDIO_HOME":
        path = Path(os.path.realpath(home / raw))
        if _within(path, own):
            return path
        raise ValidationError.for_field(field, "The folder is outside this workspace's storage.")
    path = Path(raw)
    if not path.is_absolute():
        raise ValidationError.for_field(field, "Give an absolute folder.")
    path = Path(os.path.realpath(path))
    if _within(path, own):
        return path
    if _within(home, path) or _within(path, home):
        raise ValidationError.for_field(field, "The studio's own data folder cannot be used.")
    if not any(_within(path, root) for root in local_roots()):
        allowed = ", ".join(str(r) for r in local_roots()) or "none configured"
        raise ValidationError.for_field(
            field,
            f"{path} is not under a folder allowed for datastores ({LOCAL_ROOTS_ENV}: {allowed}).",
        )
    return path


def azure_account_url(config: dict) -> str:
    """The blob endpoint of an account: `account_url` (or an `endpoint` given as a URL, as
    for Azurite's http://127.0.0.1:10000/devstoreaccount1), else
    https://<account>.blob.<endpoint, default core.windows.net>."""
    explicit = config.get("account_url") or ""
    endpoint = config.get("endpoint") or "core.windows.net"
    if not explicit and urlsplit(endpoint).scheme in ("http", "https"):
        explicit = endpoint
    if explicit:
        return explicit.rstrip("/")
    return f"https://{config['account_name']}.blob.{endpoint.strip('.')}"


def _azure_connection(config: dict, creds: dict) -> str:
    parts = [f"BlobEndpoint={azure_account_url(config)}"]
    if creds.get("account_key"):
        parts += [f"AccountName={config['account_name']}", f"AccountKey={creds['account_key']}"]
    elif creds.get("sas_token"):
        parts.append(f"SharedAccessSignature={creds['sas_token'].lstrip('?')}")
    return ";".join(parts) + ";"


def build_store(*, workspace, name: str, type: str, config: dict, credentials: dict) -> Store:
    """A store from a datastore's settings and plain credentials (used before saving, to
    test them, and by open_store)."""
    secrets = tuple(str(v) for v in (credentials or {}).values() if v)
    if type == "local":
        return LocalStore(name=name, root=local_root(workspace, config))
    if type == "azure_blob":
        try:
            return AzureBlobStore(
                name=name,
                account_url=azure_account_url(config),
                container=config["container_name"],
                connection=_azure_connection(config, credentials or {}),
                secrets=secrets,
            )
        except ValueError as exc:  # adlfs refuses the endpoint or the connection details
            reason = _scrub(_first_line(str(exc)), secrets)
            raise ValidationError.for_field(
                "endpoint", f"Cannot use this account: {reason}"
            ) from None
    if type == "s3":
        return S3Store(
            name=name,
            bucket=config["bucket"],
            endpoint_url=config.get("endpoint_url") or "",
            region=config.get("region") or "",
            creds=credentials or {},
            secrets=secrets,
        )
    raise ValidationError.for_field("type", f"Unknown datastore type {type!r}.")


def encrypt_credentials(workspace, values: dict[str, str]) -> bytes:
    """The vault token of a datastore's secret values (b'' for none)."""
    if not values:
        return b""
    cipher = vault.workspace_cipher(workspace.vault_key)
    return cipher.encrypt(json.dumps(values, sort_keys=True).encode())


def decrypt_credentials(datastore) -> dict[str, str]:
    """The datastore's secret values, for building its client. Never log or return them."""
    token = bytes(datastore.credentials or b"")
    if not token:
        return {}
    cipher = vault.workspace_cipher(datastore.workspace.vault_key)
    return json.loads(cipher.decrypt(token))


def open_store(datastore) -> Store:
    """The Store of a saved datastore."""
    return build_store(
        workspace=datastore.workspace,
        name=datastore.name,
        type=datastore.type,
        config=datastore.config or {},
        credentials=decrypt_credentials(datastore),
    )


def sha256_of(fileobj: IO[bytes], *, chunk_size: int = BLOCK_SIZE) -> str:
    """sha256 of a stream, read a chunk at a time (tests and the benchmark)."""
    digest = hashlib.sha256()
    while True:
        data = fileobj.read(chunk_size)
        if not data:
            return digest.hexdigest()
        digest.update(data)
