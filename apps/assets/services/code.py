"""Code snapshots: the `code` folder of a job or component, frozen as a zip and stored once
per content on the workspace's default datastore (`LocalUpload/code/<hash>.zip`).

The client (CLI, browser) sends a zip. The server checks every member (no absolute path, no
`..`, no link, no device, within the size limit), computes the manifest hash (sorted paths
with the SHA-256 of each file: the same files give the same snapshot however they were
zipped), and stores the zip unless a snapshot with that hash exists. `snapshot_extract()`
unpacks one for a runner; `snapshot_read()` reads one file for the Code tab.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.workspaces import permissions, storage
from apps.workspaces.models import Datastore, Workspace
from apps.workspaces.permissions import Action
from studio.errors import NotFound, ValidationError

from ..models import CodeSnapshot

CODE_PREFIX = "LocalUpload/code"


def max_bytes() -> int:
    return int(getattr(settings, "STUDIO_CODE_MAX_BYTES", 100 * 2**20))


def _clean_member(info: zipfile.ZipInfo, field: str) -> str | None:
    """The member's relative path, None for a folder entry; ValidationError when unsafe."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ValidationError.for_field(field, f"'{info.filename}' is an absolute path.")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ValidationError.for_field(field, f"'{info.filename}' leaves the code folder ('..').")
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip tool did not say
    if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
        raise ValidationError.for_field(
            field, f"'{info.filename}' is a link or a special file; only files are kept."
        )
    if info.is_dir() or not parts:
        return None
    return "/".join(parts)


def manifest_of(
    zf: zipfile.ZipFile, *, field: str = "code", limit: int | None = None
) -> list[dict]:
    """Every file of the zip with its size and SHA-256, sorted by path."""
    limit = max_bytes() if limit is None else limit
    total = 0
    files: dict[str, dict] = {}
    for info in zf.infolist():
        rel = _clean_member(info, field)
        if rel is None:
            continue
        total += info.file_size
        if total > limit:
            raise ValidationError.for_field(
                field,
                f"the code folder is larger than the limit of {limit // 2**20} MiB "
                "(leave files out with .amlignore or .gitignore).",
            )
        digest = hashlib.sha256()
        size = 0
        with zf.open(info) as fh:
            while chunk := fh.read(2**20):
                size += len(chunk)
                total += len(chunk) - (info.file_size if size == len(chunk) else 0)
                if total > limit:
                    raise ValidationError.for_field(
                        field, f"the code folder is larger than the limit of {limit // 2**20} MiB."
                    )
                digest.update(chunk)
        files[rel] = {"path": rel, "size": size, "sha256": digest.hexdigest()}
    return [files[k] for k in sorted(files)]


def manifest_hash(manifest: list[dict]) -> str:
    text = json.dumps([[f["path"], f["sha256"]] for f in manifest], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _open_zip(fileobj: IO[bytes], field: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValidationError.for_field(field, f"is not a zip archive ({exc}).") from None


def snapshot_create(
    *,
    actor,
    workspace: Workspace,
    fileobj: IO[bytes],
    field: str = "code",
    datastore: Datastore | None = None,
) -> CodeSnapshot:
    """Store a zipped code folder once per content; return its snapshot (an existing one
    when the same files were stored before)."""
    if actor is not None:
        permissions.require(actor, Action.ASSET_CREATE, workspace)
    with tempfile.SpooledTemporaryFile(max_size=8 * 2**20) as spool:
        size = 0
        while chunk := fileobj.read(2**20):
            size += len(chunk)
            if size > 2 * max_bytes() + 2**20:
                raise ValidationError.for_field(
                    field,
                    f"the code archive is larger than the limit of {max_bytes() // 2**20} MiB.",
                )
            spool.write(chunk)
        spool.seek(0)
        with _open_zip(spool, field) as zf:
            manifest = manifest_of(zf, field=field)
            bad = zf.testzip()
            if bad:
                raise ValidationError.for_field(field, f"'{bad}' in the archive is corrupt.")
        digest = manifest_hash(manifest)
        existing = CodeSnapshot.objects.filter(workspace=workspace, content_hash=digest).first()
        if existing is not None:
            return existing
        datastore = datastore or Datastore.objects.get(workspace=workspace, is_default=True)
        path = f"{CODE_PREFIX}/{digest}.zip"
        spool.seek(0)
        store = storage.open_store(datastore)
        if not store.exists(path):
            store.write_stream(path, spool, size_hint=size)
    try:
        with transaction.atomic():
            return CodeSnapshot.objects.create(
                workspace=workspace,
                content_hash=digest,
                datastore=datastore,
                path=path,
                size_bytes=sum(f["size"] for f in manifest),
                file_count=len(manifest),
                manifest=manifest,
                created_by=actor if actor is not None and actor.is_authenticated else None,
            )
    except IntegrityError:  # the same files stored at the same moment: one row is enough
        return CodeSnapshot.objects.get(workspace=workspace, content_hash=digest)


def snapshot_from_folder(*, actor, workspace: Workspace, folder: Path, field: str = "code"):
    """Snapshot a folder on this machine (the curated and built-in components' code)."""
    from studio.codezip import zip_folder

    buf = io.BytesIO()
    zip_folder(Path(folder), buf)
    buf.seek(0)
    return snapshot_create(actor=actor, workspace=workspace, fileobj=buf, field=field)


def snapshot_extract(snapshot: CodeSnapshot, dest: Path) -> None:
    """Unpack a snapshot into `dest` (a runner's working directory). Internal: no actor."""
    store = storage.open_store(snapshot.datastore)
    with store.open_read(snapshot.path) as raw, tempfile.SpooledTemporaryFile(2**24) as spool:
        while chunk := raw.read(2**20):
            spool.write(chunk)
        spool.seek(0)
        with zipfile.ZipFile(spool) as zf:
            for info in zf.infolist():
                rel = _clean_member(info, "code")
                if rel is None:
                    continue
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(2**20):
                        out.write(chunk)
                mode = (info.external_attr >> 16) & 0o777
                if mode & 0o111:
                    target.chmod(0o755)


def snapshot_read(*, actor, snapshot: CodeSnapshot, path: str, limit: int = 2**20) -> bytes:
    """The head of one file of a snapshot (the Code tab's preview)."""
    permissions.require(actor, Action.ASSET_VIEW, snapshot.workspace)
    rel = posixpath.normpath(path.strip("/"))
    if rel not in {f["path"] for f in snapshot.manifest}:
        raise NotFound(f"No file '{path}' in the code snapshot.")
    store = storage.open_store(snapshot.datastore)
    with store.open_read(snapshot.path) as raw, tempfile.SpooledTemporaryFile(2**24) as spool:
        while chunk := raw.read(2**20):
            spool.write(chunk)
        spool.seek(0)
        with zipfile.ZipFile(spool) as zf:
            for info in zf.infolist():
                if _clean_member(info, "code") == rel:
                    with zf.open(info) as fh:
                        return fh.read(limit)
    raise NotFound(f"No file '{path}' in the code snapshot.")
