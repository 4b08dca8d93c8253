"""The one adapter between MLflow artifacts and the workspace's artifact datastore.

Runs' and logged models' files live in the workspace's `workspaceartifactstore` datastore,
at the paths the MLflow client sees after `mlflow-artifacts:/`:
`<experiment id>/<run id>/artifacts/<path>` and `<experiment id>/models/<model id>/artifacts/<path>`.

Every MLflow view goes through `put_stream`, `open`, `list`, `exists` and `delete` here, and
nothing else in the jobs app touches artifact files. `_store()` is the one place that picks
the implementation. Today it is `_LocalFolder`, the datastore's folder on the server's disk
(the built-in datastores are local folders under STUDIO_HOME). The shared storage layer
(`apps.workspaces.storage.open_store`, for local, Azure Blob and S3 datastores alike) offers
the same operations; once it is in, `_store()` returns `storage.open_store(datastore)` and
`list`/`delete` below follow its paged `ls(cursor=)` and `delete(recursive=True)`.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings

from apps.workspaces.models import Datastore, Workspace
from studio.errors import NotFound, ValidationError

ARTIFACT_DATASTORE = "workspaceartifactstore"
CHUNK = 1 << 20  # bytes copied at a time: uploads and downloads never hold more


@dataclass(frozen=True)
class ArtifactEntry:
    """One file or folder of a listing, its path relative to the listed folder."""

    path: str
    is_dir: bool
    size: int | None


def clean(path: str | None, *, field: str = "path") -> str:
    """A relative '/'-separated artifact path; '..', '\\', control characters and absolute
    paths are refused with a ValidationError naming `field`."""
    text = "" if path is None else str(path)
    if text.startswith("/"):
        raise ValidationError.for_field(field, "Absolute paths are not allowed.")
    if "\\" in text or any(ord(ch) < 32 for ch in text):
        raise ValidationError.for_field(field, "Control characters and '\\' are not allowed.")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValidationError.for_field(field, "'..' is not allowed: paths stay in the store.")
    if len(text) > 1024 or any(len(p.encode()) > 255 for p in parts):
        raise ValidationError.for_field(field, "Path too long.")
    return "/".join(parts)


@dataclass(frozen=True)
class _Stat:
    name: str
    is_dir: bool
    size: int | None


class _LocalFolder:
    """A local datastore's folder: the subset of the storage layer's Store that artifacts
    use (stat, ls, open_read, write_stream, exists, delete), on paths already cleaned."""

    TEMP_PREFIX = ".studio-upload-"

    def __init__(self, root: Path):
        self.root = root

    def _full(self, rel: str) -> Path:
        full = self.root / rel if rel else self.root
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(full)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise ValidationError.for_field("path", f"'{rel}' leads out of the store.")
        return full

    def stat(self, rel: str) -> _Stat:
        full = self._full(rel)
        if not full.exists():
            raise NotFound(f"No artifact at '{rel}'.")
        is_dir = full.is_dir()
        return _Stat(full.name, is_dir, None if is_dir else full.stat().st_size)

    def ls(self, rel: str) -> Iterator[_Stat]:
        with os.scandir(self._full(rel)) as it:
            for e in sorted(it, key=lambda e: e.name):
                if not e.name.startswith(self.TEMP_PREFIX):
                    is_dir = e.is_dir()
                    yield _Stat(e.name, is_dir, None if is_dir else e.stat().st_size)

    def open_read(self, rel: str) -> IO[bytes]:
        entry = self.stat(rel)
        if entry.is_dir:
            raise ValidationError.for_field("path", f"'{rel}' is a folder, not a file.")
        return self._full(rel).open("rb")

    def write_stream(self, rel: str, readable: IO[bytes], *, chunk_size: int) -> None:
        target = self._full(rel)
        if target.is_dir():
            raise ValidationError.for_field("path", f"'{rel}' is a folder.")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ValidationError.for_field("path", f"A part of '{rel}' is a file.") from None
        self._full(rel)  # again: a link may have been met while making the folders
        temp = target.with_name(f"{self.TEMP_PREFIX}{uuid.uuid4().hex}")
        try:
            with temp.open("wb") as out:
                while chunk := readable.read(chunk_size):
                    out.write(chunk)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def exists(self, rel: str) -> bool:
        return self._full(rel).exists()

    def delete(self, rel: str) -> None:
        full = self._full(rel)
        if full.is_dir():
            shutil.rmtree(full)
        elif full.exists():
            full.unlink()
        else:
            raise NotFound(f"No artifact at '{rel}'.")


def _local_root(datastore: Datastore) -> Path:
    config = datastore.config or {}
    raw = str(config.get("path") or "")
    if config.get("relative_to") == "STUDIO_HOME":
        return Path(settings.STUDIO_HOME).resolve() / raw
    return Path(raw)


def _store(workspace: Workspace) -> _LocalFolder:
    """The artifact datastore of the workspace: THE switch point of the implementation."""
    datastore = Datastore.objects.filter(workspace=workspace, name=ARTIFACT_DATASTORE).first()
    if datastore is None:
        raise NotFound(f"Workspace '{workspace.name}' has no '{ARTIFACT_DATASTORE}' datastore.")
    if datastore.type != Datastore.Type.LOCAL:
        raise ValidationError.for_field(
            "datastore", f"'{ARTIFACT_DATASTORE}' must be a local folder for MLflow artifacts."
        )
    return _LocalFolder(_local_root(datastore))


def put_stream(workspace: Workspace, path: str, readable: IO[bytes]) -> None:
    """Write a file from a readable stream, CHUNK bytes at a time, replacing any file of that
    name. The file appears whole or not at all."""
    rel = clean(path)
    if not rel:
        raise ValidationError.for_field("path", "Give a file name.")
    _store(workspace).write_stream(rel, readable, chunk_size=CHUNK)


def open(workspace: Workspace, path: str) -> IO[bytes]:  # noqa: A001 - the adapter's verb
    """A binary file object reading the artifact (NotFound if it does not exist,
    ValidationError if it is a folder)."""
    return _store(workspace).open_read(clean(path))


def list(workspace: Workspace, path: str) -> list[ArtifactEntry]:  # noqa: A001
    """The entries of a folder, relative to it; a file lists just itself (by its name), as
    cloud listings do; a missing path lists nothing."""
    rel = clean(path)
    store = _store(workspace)
    try:
        entry = store.stat(rel)
    except NotFound:
        return []
    if not entry.is_dir:
        return [ArtifactEntry(path=posixpath.basename(rel), is_dir=False, size=entry.size)]
    return [
        ArtifactEntry(path=e.name, is_dir=e.is_dir, size=None if e.is_dir else e.size)
        for e in store.ls(rel)
    ]


def exists(workspace: Workspace, path: str) -> bool:
    return _store(workspace).exists(clean(path))


def is_file(workspace: Workspace, path: str) -> bool:
    """True for an existing file (not a folder)."""
    try:
        return not _store(workspace).stat(clean(path)).is_dir
    except NotFound:
        return False


def delete(workspace: Workspace, path: str) -> None:
    """Delete a file or a whole folder (NotFound if absent)."""
    rel = clean(path)
    if not rel:
        raise ValidationError.for_field("path", "The artifact root cannot be deleted.")
    _store(workspace).delete(rel)
