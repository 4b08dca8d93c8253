"""The one adapter between MLflow artifacts and the workspace's artifact datastore.

Runs' and logged models' files live in the workspace's `workspaceartifactstore` datastore,
at the paths the MLflow client sees after `mlflow-artifacts:/`:
`<experiment id>/<run id>/artifacts/<path>` and `<experiment id>/models/<model id>/artifacts/<path>`.

Every MLflow view goes through `put_stream`, `open`, `list`, `exists`, `is_file` and `delete`
here, and nothing else in the jobs app touches artifact files.

One more read-only folder, `model-versions/<name>/<version>/<path>`, is a registered model
version's files wherever they are: a version registered from a job's named output lives on
`workspaceblobstore`, say, and the registry's get-download-uri points the client here, so
`mlflow.pyfunc.load_model("models:/<name>/<version>")` works for it too. A job's run token
is sent here for every version, since another run's folder is out of its reach. `open` and
`list` read it; nothing writes there. They stand on the shared
storage layer (`apps.workspaces.storage`), so the artifact datastore may be a local folder
(the default), an Azure Blob container or an S3 bucket; `_store()` is the one place that
opens it. Files are streamed both ways, CHUNK bytes at a time.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import IO

from apps.workspaces import storage
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
    return storage.clean_path(text, field=field)


MODEL_VERSIONS = "model-versions"


def model_version_uri(name: str, version: str) -> str:
    """Where the MLflow client reads a registered model version's files through the proxy."""
    return f"mlflow-artifacts:/{MODEL_VERSIONS}/{name}/{version}"


def is_model_version_path(rel: str) -> bool:
    return rel.split("/", 1)[0] == MODEL_VERSIONS


def _model_version_place(workspace: Workspace, rel: str) -> tuple[storage.Store, str]:
    """(store, path) of `model-versions/<name>/<version>/<rest>`: the version's own files."""
    from apps.assets.models import ModelVersion

    parts = rel.split("/")
    if len(parts) < 3:
        raise ValidationError.for_field(
            "path", f"{MODEL_VERSIONS}/ paths are {MODEL_VERSIONS}/<name>/<version>/<path>."
        )
    row = (
        ModelVersion.objects.filter(workspace=workspace, name=parts[1], version=parts[2])
        .only("path")
        .first()
    )
    if row is None:
        raise NotFound(f"Model version '{parts[1]}' version {parts[2]} not found.")
    datastore, base = storage.resolve_datastore_uri(workspace, row.path)
    inner = "/".join(parts[3:])
    return storage.open_store(datastore), (f"{base}/{inner}" if inner and base else base or inner)


def _read_place(workspace: Workspace, path: str) -> tuple[storage.Store, str]:
    rel = clean(path)
    if is_model_version_path(rel):
        return _model_version_place(workspace, rel)
    return _store(workspace), rel


def _store(workspace: Workspace) -> storage.Store:
    """The workspace's artifact datastore, opened through the storage layer."""
    datastore = (
        Datastore.objects.select_related("workspace")
        .filter(workspace=workspace, name=ARTIFACT_DATASTORE)
        .first()
    )
    if datastore is None:
        raise NotFound(f"Workspace '{workspace.name}' has no '{ARTIFACT_DATASTORE}' datastore.")
    return storage.open_store(datastore)


def put_stream(workspace: Workspace, path: str, readable: IO[bytes]) -> None:
    """Write a file from a readable stream, CHUNK bytes at a time, replacing any file of that
    name. The file appears whole or not at all."""
    rel = clean(path)
    if not rel:
        raise ValidationError.for_field("path", "Give a file name.")
    store = _store(workspace)
    parent = posixpath.dirname(rel)
    if parent:
        try:
            in_the_way = not store.stat(parent).is_dir
        except NotFound:
            in_the_way = False
        if in_the_way:
            raise ValidationError.for_field("path", f"'{parent}' is a file, not a folder.")
    store.write_stream(rel, readable, chunk_size=CHUNK)


def open(workspace: Workspace, path: str) -> IO[bytes]:  # noqa: A001 - the adapter's verb
    """A binary file object reading the artifact (NotFound if it does not exist,
    ValidationError if it is a folder)."""
    store, rel = _read_place(workspace, path)
    return store.open_read(rel)


def list(workspace: Workspace, path: str) -> list[ArtifactEntry]:  # noqa: A001
    """The entries of a folder, relative to it; a file lists just itself (by its name), as
    cloud listings do; a missing path lists nothing."""
    store, rel = _read_place(workspace, path)
    try:
        entry = store.stat(rel)
    except NotFound:
        return []
    if not entry.is_dir:
        return [ArtifactEntry(path=posixpath.basename(rel), is_dir=False, size=entry.size)]
    return [
        ArtifactEntry(path=e.name, is_dir=e.is_dir, size=None if e.is_dir else e.size)
        for e in store.entries(rel)
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
    _store(workspace).delete(rel, recursive=True)
