"""Reads of datastores and of their files, scoped by permissions.

File reads go through the storage layer (apps/workspaces/storage.py); previews read only the
head of a file (64 KiB of text, 50 CSV rows, 1 MiB of JSON), never the whole of it.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from dataclasses import dataclass, field
from typing import IO

from django.db.models import QuerySet

from studio.errors import NotFound, ValidationError

from .. import permissions, storage
from ..models import Datastore, Workspace
from ..permissions import Action

TEXT_PREVIEW_BYTES = 64 * 1024
CSV_PREVIEW_BYTES = 256 * 1024
CSV_PREVIEW_ROWS = 50
JSON_PREVIEW_BYTES = 2**20
# Raster images a browser shows inline. SVG is left out on purpose: it can carry scripts, so
# it is only ever downloaded.
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
TEXT_SUFFIXES = frozenset(
    ".txt .md .log .py .r .sql .sh .yml .yaml .toml .ini .cfg .conf .xml .html .js .css "
    ".ipynb .jsonl .env .gitignore .dockerfile .mlmodel".split()
)


def datastore_list(*, actor, workspace: Workspace) -> QuerySet[Datastore]:
    """The workspace's datastores, the default one first."""
    permissions.require(actor, Action.DATASTORE_VIEW, workspace)
    return Datastore.objects.filter(workspace=workspace).order_by("-is_default", "name")


def datastore_get(
    *, actor, workspace: Workspace, name: str, action: Action = Action.DATASTORE_VIEW
) -> Datastore:
    """One datastore by name (NotFound when absent), if the actor's role allows `action`."""
    permissions.require(actor, action, workspace)
    datastore = Datastore.objects.filter(workspace=workspace, name=name).first()
    if datastore is None:
        raise NotFound(f"No datastore '{name}' in workspace '{workspace.name}'.")
    datastore.workspace = workspace  # keeps the role cache of the workspace object
    return datastore


def datastore_file_list(
    *, actor, datastore: Datastore, path: str = "", cursor: str | None = None, limit: int = 100
) -> tuple[list[storage.Entry], str | None]:
    """One page of a folder of the datastore, and the cursor of the next page."""
    permissions.require(actor, Action.DATASTORE_READ_FILES, datastore.workspace)
    return storage.open_store(datastore).ls(path, cursor=cursor, limit=limit)


def datastore_file_stat(*, actor, datastore: Datastore, path: str) -> storage.Entry:
    permissions.require(actor, Action.DATASTORE_READ_FILES, datastore.workspace)
    return storage.open_store(datastore).stat(path)


def datastore_file_open(*, actor, datastore: Datastore, path: str) -> tuple[storage.Entry, IO]:
    """A file's entry and a seekable binary file object reading it (for downloads)."""
    permissions.require(actor, Action.DATASTORE_READ_FILES, datastore.workspace)
    store = storage.open_store(datastore)
    entry = store.stat(path)
    if entry.is_dir:
        raise ValidationError.for_field("path", f"'{entry.path}' is a folder, not a file.")
    return entry, store.open_read(entry.path)


def image_type(path: str) -> str | None:
    """The content type of a raster image shown inline, or None."""
    return IMAGE_TYPES.get(posixpath.splitext(path)[1].lower())


@dataclass
class Preview:
    """What the preview pane shows: `kind` is text, csv, json, image, svg or binary."""

    entry: storage.Entry
    kind: str
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False
    note: str = ""


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a character cut at the end of the head
            return data[: exc.start].decode("utf-8")
        return None


def datastore_file_preview(*, actor, datastore: Datastore, path: str) -> Preview:
    """A preview of a file from its head: text, a CSV table, pretty JSON or an image."""
    permissions.require(actor, Action.DATASTORE_READ_FILES, datastore.workspace)
    store = storage.open_store(datastore)
    entry = store.stat(path)
    if entry.is_dir:
        raise ValidationError.for_field("path", f"'{entry.path}' is a folder, not a file.")
    suffix = posixpath.splitext(entry.name)[1].lower()
    if suffix in IMAGE_TYPES:
        return Preview(entry=entry, kind="image")
    if suffix == ".svg":
        return Preview(
            entry=entry, kind="svg", note="SVG images can carry scripts: download to view."
        )
    if suffix in (".csv", ".tsv"):
        return _csv_preview(store, entry, delimiter="\t" if suffix == ".tsv" else ",")
    if suffix == ".json":
        return _json_preview(store, entry)
    head = store.read_head(entry.path, TEXT_PREVIEW_BYTES + 1)
    text = _decode(head[:TEXT_PREVIEW_BYTES])
    if text is None:
        return Preview(entry=entry, kind="binary", note="Binary file: no preview.")
    return Preview(entry=entry, kind="text", text=text, truncated=len(head) > TEXT_PREVIEW_BYTES)


def _csv_preview(store: storage.Store, entry: storage.Entry, *, delimiter: str) -> Preview:
    head = store.read_head(entry.path, CSV_PREVIEW_BYTES + 1)
    complete = len(head) <= CSV_PREVIEW_BYTES
    text = _decode(head[:CSV_PREVIEW_BYTES])
    if text is None:
        return Preview(entry=entry, kind="binary", note="Not a text file: no preview.")
    lines = text.splitlines(keepends=True)
    if not complete and lines:
        lines = lines[:-1]  # the last line may be cut
    rows = []
    try:
        for row in csv.reader(io.StringIO("".join(lines)), delimiter=delimiter):
            rows.append(row)
            if len(rows) > CSV_PREVIEW_ROWS:  # header + 50 rows
                break
    except csv.Error:
        return Preview(entry=entry, kind="text", text=text[:TEXT_PREVIEW_BYTES], truncated=True)
    truncated = len(rows) > CSV_PREVIEW_ROWS or not complete
    return Preview(entry=entry, kind="csv", rows=rows[: CSV_PREVIEW_ROWS + 1], truncated=truncated)


def _json_preview(store: storage.Store, entry: storage.Entry) -> Preview:
    head = store.read_head(entry.path, JSON_PREVIEW_BYTES + 1)
    text = _decode(head[:JSON_PREVIEW_BYTES])
    if text is None:
        return Preview(entry=entry, kind="binary", note="Not a text file: no preview.")
    if len(head) <= JSON_PREVIEW_BYTES:
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass  # shown as it is
    truncated = len(text) > TEXT_PREVIEW_BYTES or len(head) > JSON_PREVIEW_BYTES
    return Preview(entry=entry, kind="json", text=text[:TEXT_PREVIEW_BYTES], truncated=truncated)


__all__ = [
    "datastore_file_open",
    "datastore_file_list",
    "datastore_file_preview",
    "datastore_file_stat",
    "datastore_get",
    "datastore_list",
]
