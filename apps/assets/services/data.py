"""Data assets (`az ml data create`): uri_file, uri_folder and mltable versions.

A version points at one of three places:

- a datastore path, `azureml://datastores/<ds>/paths/<p>`: checked to exist and to be a file
  (uri_file) or a folder (uri_folder, mltable with its `MLTable` file);
- an http(s) URL: kept as a reference, never fetched;
- local files the client uploads (`StagedUpload`): streamed to the default datastore (or the
  one named) under a temporary folder `LocalUpload/.studio-upload-<token>/`, hashed while
  they stream, then moved to a content-addressed path when the version row is created:
  `LocalUpload/<sha256>/<file name>` for a file, `LocalUpload/<manifest hash>/...` for a
  folder (the manifest is the sorted paths with each file's SHA-256, as for code). Bytes
  already stored under that path are not stored again. When anything fails, the temporary
  folder and any file moved for this version are deleted: no orphan is left.

The profile (row count; per column missing values, min, max, mean) is computed by a worker
(`data_profile_compute`, task `assets.profile_data`) and cached on the row.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import posixpath
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.workspaces import permissions, storage
from apps.workspaces.models import Datastore, Workspace
from apps.workspaces.permissions import Action
from studio.errors import Conflict, DomainError, ValidationError

from ..models import DataVersion, Kind
from . import versions
from .code import manifest_hash

log = logging.getLogger(__name__)

TYPES = tuple(DataVersion.Type.values)
UPLOAD_ROOT = "LocalUpload"
MLTABLE_FILE = "MLTable"
MLTABLE_MAX_BYTES = 2**20
WALK_LIMIT = 10_000  # files counted for a datastore folder's size
STALE_UPLOAD_SECONDS = 24 * 3600
HASH_CHUNK = 2**20
TABULAR = (".csv", ".tsv", ".txt", ".parquet", ".pq")


# Checking input ----------------------------------------------------------------------------


def clean_type(value: Any, field: str = "type") -> str:
    if value is None or value == "":
        return DataVersion.Type.URI_FOLDER
    if value not in TYPES:
        raise ValidationError.for_field(
            field, f"'{value}' is not a data type: one of {', '.join(TYPES)}."
        )
    return str(value)


def default_datastore(workspace: Workspace, name: str | None = None, field: str = "datastore"):
    if name:
        found = Datastore.objects.filter(workspace=workspace, name=name).first()
        if found is None:
            raise ValidationError.for_field(
                field, f"No datastore '{name}' in workspace '{workspace.name}'."
            )
        return found
    return Datastore.objects.get(workspace=workspace, is_default=True)


def parse_mltable(text: str, field: str = "path") -> dict:
    """The MLTable file's YAML, checked to have `paths` (a list of file/folder/pattern)."""
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValidationError.for_field(
            field, f"the MLTable file is not valid YAML{where}: {getattr(exc, 'problem', exc)}."
        ) from None
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), list) or not spec["paths"]:
        raise ValidationError.for_field(
            field, "the MLTable file needs `paths:` (a list of `- file: ...` or `- folder: ...`)."
        )
    for i, entry in enumerate(spec["paths"]):
        if not isinstance(entry, dict) or not ({"file", "folder", "pattern"} & set(entry)):
            raise ValidationError.for_field(
                field, f"MLTable paths[{i}] needs one of file, folder or pattern."
            )
    return spec


def _kind_mismatch(type_: str, is_dir: bool, where: str, field: str) -> None:
    if type_ == DataVersion.Type.URI_FILE and is_dir:
        raise ValidationError.for_field(
            field, f"{where} is a folder; a uri_file is one file (use type uri_folder)."
        )
    if type_ != DataVersion.Type.URI_FILE and not is_dir:
        raise ValidationError.for_field(
            field, f"{where} is a file; a {type_} is a folder (use type uri_file)."
        )


# Datastore paths and URLs ------------------------------------------------------------------


def _walk_size(store: storage.Store, rel: str) -> tuple[int | None, int | None]:
    """(bytes, files) of a folder, or (None, None) past WALK_LIMIT files."""
    total = count = 0
    for entry in store.walk(rel):
        total += entry.size or 0
        count += 1
        if count > WALK_LIMIT:
            return None, None
    return total, count


def _read_small(store: storage.Store, rel: str, field: str) -> str:
    data = store.read_head(rel, MLTABLE_MAX_BYTES + 1)
    if len(data) > MLTABLE_MAX_BYTES:
        raise ValidationError.for_field(field, "the MLTable file is larger than 1 MiB.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError.for_field(field, "the MLTable file is not UTF-8 text.") from None


def _datastore_fields(workspace: Workspace, type_: str, path: str, field: str) -> dict:
    datastore, rel = storage.resolve_datastore_uri(workspace, path, field=field)
    store = storage.open_store(datastore)
    try:
        entry = store.stat(rel)
    except DomainError as exc:
        if exc.status_code == 404:
            raise ValidationError.for_field(
                field, f"No file or folder '{rel}' in datastore '{datastore.name}'."
            ) from None
        raise
    where = f"'{rel or '/'}' in datastore '{datastore.name}'"
    _kind_mismatch(type_, entry.is_dir, where, field)
    fields: dict[str, Any] = {"datastore": datastore, "path": storage.uri(datastore.name, rel)}
    if entry.is_dir:
        fields["size_bytes"], fields["file_count"] = _walk_size(store, rel)
    else:
        fields["size_bytes"], fields["file_count"] = entry.size, 1
    if type_ == DataVersion.Type.MLTABLE:
        mlpath = posixpath.join(rel, MLTABLE_FILE) if rel else MLTABLE_FILE
        if not store.exists(mlpath):
            raise ValidationError.for_field(
                field, f"{where} has no file named MLTable; an mltable folder needs one."
            )
        text = _read_small(store, mlpath, field)
        parse_mltable(text, field)
        fields["mltable"] = text
    return fields


def _source_fields(workspace: Workspace, type_: str, path: Any, field: str) -> dict:
    if not isinstance(path, str) or not path.strip():
        raise ValidationError.for_field(field, "is required.")
    path = path.strip()
    scheme = urlsplit(path).scheme.lower()
    if scheme == "azureml":
        return _datastore_fields(workspace, type_, path, field)
    if scheme in ("http", "https"):
        if not urlsplit(path).netloc:
            raise ValidationError.for_field(field, f"'{path}' is not a URL.")
        if type_ == DataVersion.Type.MLTABLE:
            raise ValidationError.for_field(
                field,
                "an mltable needs its MLTable file checked: upload the folder or give an "
                "azureml://datastores/... path.",
            )
        return {"path": path, "datastore": None}
    if scheme in ("wasbs", "abfss", "adl", "s3", "gs"):
        raise ValidationError.for_field(
            field,
            f"{scheme}:// paths are not read directly: register the storage as a datastore "
            "and use azureml://datastores/<name>/paths/<path>.",
        )
    raise ValidationError.for_field(
        field,
        f"'{path}' is a local path: upload it (`studio data create --file data.yml` does), or "
        "give azureml://datastores/<name>/paths/<path> or an http(s) URL.",
    )


def data_create(
    *,
    actor,
    workspace: Workspace,
    name: Any,
    path: Any,
    type: Any = None,
    version: Any = None,
    description: Any = "",
    tags: Any = None,
    properties: dict | None = None,
    created_by_job=None,
) -> DataVersion:
    """A data version from a datastore URI or an http(s) URL (uploads: `data_create_upload`)."""
    if actor is not None:
        permissions.require(actor, Action.ASSET_CREATE, workspace)
    versions.clean_name(name)
    type_ = clean_type(type)
    fields = _source_fields(workspace, type_, path, "path")
    with transaction.atomic():
        return versions.version_create(
            actor=actor,
            workspace=workspace,
            kind=Kind.DATA,
            name=name,
            version=version,
            description=description,
            tags=tags,
            properties=properties,
            created_by_job=created_by_job,
            fields={"type": type_, **fields},
        )


# Uploads -----------------------------------------------------------------------------------


class _HashingUpload:
    """One file being streamed into the staging folder, hashed as it goes. `commit()` writes
    a small sidecar (`<id>.json`: path, size, sha256) beside the data (`<id>.data`)."""

    def __init__(self, staged: StagedUpload, rel: str, folder: bool, file_id: str, upload):
        self.staged = staged
        self.rel = rel
        self.folder = folder
        self.file_id = file_id
        self.upload = upload
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.upload.write(data)

    def commit(self) -> dict:
        self.upload.commit()
        entry = {
            "path": self.rel,
            "folder": self.folder,
            "size": self.size,
            "sha256": self.digest.hexdigest(),
        }
        sidecar = f"{self.staged.prefix}/{self.file_id}.json"
        self.staged.store.write_stream(sidecar, io.BytesIO(json.dumps(entry).encode()))
        return entry

    def abort(self) -> None:
        self.upload.abort()


_TOKEN_RE = re.compile(
    r"^(?P<ts>\d{10})-(?P<hex>[0-9a-f]{32})-(?P<ds>[A-Za-z][A-Za-z0-9_]{0,254})$"
)


@dataclass
class StagedUpload:
    """The staging folder of one upload, `LocalUpload/.studio-upload-<token>/` on a datastore
    (the token names the datastore). Files stream in one at a time, each hashed; `files()`
    reads what arrived. Always `cleanup()` at the end, success or not."""

    workspace: Workspace
    datastore: Datastore
    token: str = ""
    _store: Any = None

    def __post_init__(self) -> None:
        if not self.token:
            self.token = f"{int(time.time())}-{uuid.uuid4().hex}-{self.datastore.name}"

    @classmethod
    def load(cls, workspace: Workspace, token: Any, field: str = "upload") -> StagedUpload:
        match = _TOKEN_RE.match(str(token or ""))
        if match is None:
            raise ValidationError.for_field(field, "not an upload this studio started.")
        datastore = Datastore.objects.filter(workspace=workspace, name=match["ds"]).first()
        if datastore is None:
            raise ValidationError.for_field(field, "its datastore no longer exists.")
        return cls(workspace=workspace, datastore=datastore, token=str(token))

    @property
    def store(self) -> storage.Store:
        if self._store is None:
            self._store = storage.open_store(self.datastore)
        return self._store

    @property
    def prefix(self) -> str:
        return f"{UPLOAD_ROOT}/{storage.UPLOAD_PREFIX}{self.token}"

    def open_file(self, name: Any, *, folder: bool, size_hint: int | None = None):
        """Start streaming a file: `name` is the file's name, or (folder) its path inside
        the folder being uploaded."""
        rel = storage.clean_path(str(name or ""), field="path")
        if not folder:
            rel = posixpath.basename(rel)
        if not rel:
            raise ValidationError.for_field("path", "give the file's name.")
        file_id = uuid.uuid4().hex
        upload = self.store.open_write(f"{self.prefix}/{file_id}.data", size_hint=size_hint)
        return _HashingUpload(self, rel, folder, file_id, upload)

    def put(self, name: Any, fileobj, *, folder: bool, size: int | None) -> dict:
        """Stream one file from `fileobj` (exactly `size` bytes when given)."""
        upload = self.open_file(name, folder=folder, size_hint=size)
        try:
            remaining = size
            while remaining is None or remaining > 0:
                want = HASH_CHUNK if remaining is None else min(HASH_CHUNK, remaining)
                data = fileobj.read(want)
                if not data:
                    if remaining:
                        raise ValidationError.for_field(
                            "body", f"the upload ended {remaining} bytes early."
                        )
                    break
                upload.write(data)
                if remaining is not None:
                    remaining -= len(data)
            return upload.commit()
        except BaseException:
            upload.abort()
            raise

    def files(self) -> list[dict]:
        """What arrived, from the sidecars: [{path, folder, size, sha256, staged}]."""
        out: list[dict] = []
        if not self.store.exists(self.prefix):
            return out
        for entry in self.store.walk(self.prefix):
            if not entry.name.endswith(".json"):
                continue
            try:
                info = json.loads(self.store.read_head(entry.path, 65536))
            except ValueError:
                continue
            info["staged"] = entry.path[: -len(".json")] + ".data"
            out.append(info)
        return out

    def cleanup(self) -> None:
        """Delete the staging folder (best effort: a failure is logged)."""
        try:
            if self.store.exists(self.prefix):
                self.store.delete(self.prefix, recursive=True)
        except DomainError as exc:
            log.warning("could not delete staged upload %s: %s", self.prefix, exc.message)


def upload_begin(*, actor, workspace: Workspace, datastore: str | None = None) -> StagedUpload:
    """A staging area for one upload (the caller streams files into it, then calls
    `data_create_upload`, then `cleanup()`). Old abandoned staging folders are swept."""
    permissions.require(actor, Action.ASSET_CREATE, workspace)
    target = default_datastore(workspace, datastore)
    staged = StagedUpload(workspace=workspace, datastore=target)
    _sweep_stale(staged.store)
    return staged


def upload_get(*, actor, workspace: Workspace, token: Any) -> StagedUpload:
    permissions.require(actor, Action.ASSET_CREATE, workspace)
    return StagedUpload.load(workspace, token)


def _sweep_stale(store: storage.Store) -> None:
    """Remove staging folders of uploads abandoned over a day ago (a client that vanished
    mid-upload): their names start with the time they were made."""
    cutoff = time.time() - STALE_UPLOAD_SECONDS
    stale: list[str] = []
    cursor = None
    try:
        while True:
            entries, cursor = store.ls(UPLOAD_ROOT, cursor=cursor, limit=1000, hidden=True)
            for entry in entries:
                if not entry.name.startswith(storage.UPLOAD_PREFIX):
                    continue
                stamp = entry.name[len(storage.UPLOAD_PREFIX) :].split("-", 1)[0]
                if stamp.isdigit() and int(stamp) < cutoff:
                    stale.append(entry.path)
            if not cursor:
                break
    except DomainError:  # no LocalUpload folder yet, or storage trouble: skip
        return
    for rel in stale:
        with contextlib.suppress(DomainError):
            store.delete(rel, recursive=True)


def _upload_shape(files: list[dict], type_: str) -> bool:
    """Whether the upload is a folder; ValidationError when it does not fit the type."""
    if not files:
        raise ValidationError.for_field("path", "nothing was uploaded (is the folder empty?).")
    folder = any(f.get("folder") for f in files)
    if folder and not all(f.get("folder") for f in files) or not folder and len(files) > 1:
        raise ValidationError.for_field("path", "send one file, or the files of one folder.")
    paths = [f["path"] for f in files]
    if len(set(paths)) != len(paths):
        raise ValidationError.for_field("path", "a file of the folder was sent twice.")
    _kind_mismatch(type_, folder, "the uploaded path", "path")
    return folder


def _staged_mltable(staged: StagedUpload, files: list[dict]) -> str:
    entry = next((f for f in files if f["path"] == MLTABLE_FILE), None)
    if entry is None:
        raise ValidationError.for_field(
            "path", "the folder has no file named MLTable; an mltable folder needs one."
        )
    text = _read_small(staged.store, entry["staged"], "path")
    spec = parse_mltable(text, "path")
    present = {f["path"] for f in files}
    for i, item in enumerate(spec["paths"]):
        ref = item.get("file")
        if isinstance(ref, str) and "://" not in ref:
            rel = posixpath.normpath(ref.removeprefix("./"))
            if rel not in present:
                raise ValidationError.for_field(
                    "path", f"MLTable paths[{i}] names '{ref}', which is not in the folder."
                )
    return text


def _promote(staged: StagedUpload, files: list[dict], base: str, created: list[str]) -> None:
    """Move the staged files to their content-addressed paths below `base` (files already
    there are the same bytes and are kept as they are)."""
    store = staged.store
    for entry in files:
        dest = f"{base}/{entry['path']}"
        if store.exists(dest):
            continue
        store.move(entry["staged"], dest)
        created.append(dest)


def _unpromote(staged: StagedUpload, uri: str, created: list[str]) -> None:
    """Undo `_promote` after a failure, unless another version (committed meanwhile) uses
    the same content-addressed path."""
    if DataVersion.objects.filter(datastore=staged.datastore, path=uri).exists():
        return
    for rel in created:
        with contextlib.suppress(DomainError):
            staged.store.delete(rel)


def data_create_upload(
    *,
    actor,
    staged: StagedUpload,
    name: Any,
    type: Any = None,
    version: Any = None,
    description: Any = "",
    tags: Any = None,
) -> DataVersion:
    """A data version from the files streamed into `staged`. On any failure nothing is left:
    no row, no stored file (the caller still calls `staged.cleanup()`)."""
    workspace = staged.workspace
    permissions.require(actor, Action.ASSET_CREATE, workspace)
    versions.clean_name(name)
    versions.clean_version(version)
    type_ = clean_type(type)
    files = staged.files()
    folder = _upload_shape(files, type_)
    manifest = sorted(
        ({"path": f["path"], "size": f["size"], "sha256": f["sha256"]} for f in files),
        key=lambda f: f["path"],
    )
    mltable = _staged_mltable(staged, files) if type_ == DataVersion.Type.MLTABLE else ""
    if folder:
        digest = manifest_hash(manifest)
        base = rel = f"{UPLOAD_ROOT}/{digest}"
    else:
        digest = manifest[0]["sha256"]
        base = f"{UPLOAD_ROOT}/{digest}"
        rel = f"{base}/{manifest[0]['path']}"
    uri = storage.uri(staged.datastore.name, rel)
    created: list[str] = []
    try:
        with transaction.atomic():
            row = versions.version_create(
                actor=actor,
                workspace=workspace,
                kind=Kind.DATA,
                name=name,
                version=version,
                description=description,
                tags=tags,
                fields={
                    "type": type_,
                    "path": uri,
                    "datastore": staged.datastore,
                    "content_hash": digest,
                    "size_bytes": sum(f["size"] for f in manifest),
                    "file_count": len(manifest),
                    "mltable": mltable,
                },
            )
            _promote(staged, files, base, created)
    except BaseException:
        if created:
            _unpromote(staged, uri, created)
        raise
    log.info("data %s:%s uploaded to %s by %s", row.name, row.version, row.path, actor)
    return row


# Profiles ----------------------------------------------------------------------------------


@transaction.atomic
def data_profile_request(*, actor, row: DataVersion) -> DataVersion:
    """Ask a worker to compute (or recompute) the version's profile."""
    permissions.require(actor, Action.ASSET_UPDATE, row.workspace)
    if row.datastore_id is None:
        raise ValidationError.for_field(
            "path", "a URL reference is not read by the studio, so it has no profile."
        )
    updated = (
        DataVersion.objects.filter(pk=row.pk)
        .exclude(profile_status__in=("queued", "running"))
        .update(profile_status="queued")
    )
    if not updated:
        raise Conflict("The profile is being computed already.")
    row.profile_status = "queued"
    from ..tasks import profile_data as profile_data_task

    transaction.on_commit(lambda: profile_data_task.delay(str(row.pk)))
    return row


def data_profile_compute(version_id: str) -> None:
    """Compute and cache a version's profile (the worker; no actor). Claims the row first so
    two workers never compute the same profile."""
    from ..selectors_data import compute_profile

    claimed = DataVersion.objects.filter(pk=version_id, profile_status="queued").update(
        profile_status="running"
    )
    if not claimed:
        return
    row = DataVersion.objects.select_related("datastore", "workspace").get(pk=version_id)
    try:
        profile = compute_profile(row, max_bytes=profile_max_bytes())
        status = "done"
    except DomainError as exc:
        profile, status = {"error": exc.message}, "failed"
    except Exception as exc:  # noqa: BLE001 - a bad file must not leave the row "running"
        log.exception("profile of data %s failed", row)
        profile, status = {"error": f"{type(exc).__name__}: {exc}"[:500]}, "failed"
    profile["computed_at"] = timezone.now().isoformat()
    DataVersion.objects.filter(pk=version_id).update(profile=profile, profile_status=status)


def profile_max_bytes() -> int:
    return int(getattr(settings, "STUDIO_DATA_PROFILE_MAX_BYTES", 2 * 2**30))
