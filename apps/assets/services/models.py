"""Model assets (`az ml model`): custom_model, mlflow_model, triton_model versions whose files
live on a datastore, and MLflow's registered models, which are the same rows.

Where a version's files come from (`path`):
- a local file or folder, uploaded (a folder as a zip) to the default datastore under a
  content-addressed path, `LocalUpload/models/<sha256>/<name>` (`upload_file`, `upload_zip`:
  reusable by any kind that uploads local files);
- `azureml://datastores/<ds>/paths/<p>` (or the long form);
- `azureml://jobs/<job>/outputs/<name>[/paths/<p>]`: a job's named output (its URI in
  `job.spec["outputs"][name]["uri"]`); `artifacts` and `default` name the job's MLflow
  artifact root;
- `runs:/<run id>/<path>`, `models:/m-<id>` (an MLflow logged model) and `mlflow-artifacts:/<p>`:
  files on the workspace's artifact datastore.

The version's `path` is always the canonical `azureml://datastores/<ds>/paths/<p>`; `source`
keeps what was given. An `MLmodel` file in the folder is parsed (flavors, signature, input
example); an mlflow_model without one is refused. A model from a job records the job
(`created_by_job`, lineage).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.workspaces import permissions, storage
from apps.workspaces.models import Datastore, Workspace
from apps.workspaces.permissions import Action
from studio.errors import Conflict, NotFound, ValidationError

from ..models import Asset, Kind, ModelVersion
from . import versions
from .code import manifest_hash

ARTIFACT_DATASTORE = "workspaceartifactstore"
UPLOAD_PREFIX = "LocalUpload/models"
MLMODEL = "MLmodel"
MAX_MLMODEL_BYTES = 2**20
MAX_EXAMPLE_BYTES = 256 * 2**10
MAX_FILES = 100_000
CHUNK = 2**20
TYPES = [t.value for t in ModelVersion.Type]
JOB_ARTIFACT_OUTPUTS = ("artifacts", "default")


def max_upload_bytes() -> int:
    return int(getattr(settings, "STUDIO_MODEL_MAX_BYTES", 50 * 2**30))


# Where the files are -------------------------------------------------------------------------


@dataclass
class Location:
    """Files on a datastore, and what they came from (a job, an MLflow run or logged model)."""

    datastore: Datastore
    path: str
    job: Any = None
    run_id: str = ""
    logged_model_id: str = ""

    @property
    def uri(self) -> str:
        return storage.uri(self.datastore.name, self.path)


_JOB_URI = re.compile(
    r"^azureml://jobs/(?P<job>[^/]+)/outputs/(?P<output>[^/]+)(?:/paths/?(?P<p>.*))?$"
)
_RUNS_URI = re.compile(r"^runs:/(?P<run>[0-9a-fA-F-]{32,36})(?:/(?P<p>.*))?$")
_LOGGED_MODEL_URI = re.compile(r"^models:/(?P<id>m-[0-9a-f]{32})/?$")
_ARTIFACT_RUN = re.compile(r"^(?P<exp>\d+)/(?P<run>[0-9a-f]{32})/artifacts(?:/|$)")
_ARTIFACT_MODEL = re.compile(r"^(?P<exp>\d+)/models/(?P<id>m-[0-9a-f]{32})/artifacts(?:/|$)")

PATH_FORMS = (
    "azureml://datastores/<datastore>/paths/<path>, azureml://jobs/<job>/outputs/<name>, "
    "runs:/<run id>/<path>, models:/<logged model id> or mlflow-artifacts:/<path>"
)


def artifact_datastore(workspace: Workspace, *, field_name: str = "path") -> Datastore:
    ds = Datastore.objects.filter(workspace=workspace, name=ARTIFACT_DATASTORE).first()
    if ds is None:
        raise ValidationError.for_field(
            field_name, f"workspace '{workspace.name}' has no '{ARTIFACT_DATASTORE}' datastore."
        )
    return ds


def _job_by_name_or_id(*, actor, workspace: Workspace, key: str, field_name: str):
    from apps.jobs.models import Job

    if actor is not None:
        permissions.require(actor, Action.JOB_VIEW, workspace)
    qs = Job.objects.filter(workspace=workspace)
    job = qs.filter(name=key).first()
    if job is None and re.fullmatch(r"[0-9a-fA-F-]{32,36}", key):
        with contextlib.suppress(ValueError):
            job = qs.filter(pk=key.replace("-", "")).first()
    if job is None:
        raise ValidationError.for_field(field_name, f"no job '{key}' in '{workspace.name}'.")
    return job


def _from_artifacts(workspace: Workspace, rel: str, field_name: str) -> Location:
    """A path on the artifact datastore, with the run or logged model it belongs to."""
    from apps.jobs.models import Job, LoggedModel

    rel = storage.clean_path(rel, field=field_name)
    loc = Location(datastore=artifact_datastore(workspace, field_name=field_name), path=rel)
    if m := _ARTIFACT_MODEL.match(rel):
        model = LoggedModel.objects.filter(
            model_id=m["id"], experiment__workspace=workspace
        ).first()
        if model is not None:
            loc.logged_model_id = model.model_id
            if model.source_job_id:
                loc.run_id = model.source_job_id.hex
                loc.job = Job.objects.filter(pk=model.source_job_id).first()
    elif m := _ARTIFACT_RUN.match(rel):
        loc.job = Job.objects.filter(pk=m["run"], workspace=workspace).first()
        loc.run_id = m["run"] if loc.job else ""
    return loc


def _logged_model_location(workspace: Workspace, model_id: str, field_name: str) -> Location:
    from apps.jobs.models import LoggedModel

    model = LoggedModel.objects.filter(model_id=model_id, experiment__workspace=workspace).first()
    if model is None:
        raise ValidationError.for_field(field_name, f"no logged model '{model_id}'.")
    rel = f"{model.experiment_id}/models/{model.model_id}/artifacts"
    return _from_artifacts(workspace, rel, field_name)


def _job_output(*, actor, workspace, text: str, field_name: str) -> Location:
    m = _JOB_URI.match(text)
    job = _job_by_name_or_id(actor=actor, workspace=workspace, key=m["job"], field_name=field_name)
    output, sub = m["output"], storage.clean_path(m["p"] or "", field=field_name)
    if output in JOB_ARTIFACT_OUTPUTS:
        rel = posixpath.join(f"{job.experiment_id}/{job.run_id}/artifacts", sub).rstrip("/")
        loc = Location(datastore=artifact_datastore(workspace, field_name=field_name), path=rel)
    else:
        outputs = (job.spec or {}).get("outputs") or {}
        uri = (outputs.get(output) or {}).get("uri") if isinstance(outputs, dict) else None
        if not uri:
            known = ", ".join(sorted(outputs)) if isinstance(outputs, dict) else ""
            raise ValidationError.for_field(
                field_name,
                f"job '{job.name}' has no output '{output}' with files"
                + (f" (its outputs: {known})." if known else "."),
            )
        datastore, base = storage.resolve_datastore_uri(workspace, uri, field=field_name)
        loc = Location(datastore=datastore, path=posixpath.join(base, sub).rstrip("/"))
    loc.job, loc.run_id = job, job.run_id
    return loc


def _run_path(*, actor, workspace, text: str, field_name: str) -> Location:
    """runs:/<run>/<path>: the run's artifacts at <path>, else (MLflow 3) the run's logged
    model named <path>."""
    from apps.jobs.models import LoggedModel

    m = _RUNS_URI.match(text)
    job = _job_by_name_or_id(actor=actor, workspace=workspace, key=m["run"], field_name=field_name)
    sub = storage.clean_path(m["p"] or "", field=field_name)
    rel = posixpath.join(f"{job.experiment_id}/{job.run_id}/artifacts", sub).rstrip("/")
    loc = Location(datastore=artifact_datastore(workspace, field_name=field_name), path=rel)
    if sub and not storage.open_store(loc.datastore).exists(rel):
        model = LoggedModel.objects.filter(source_job=job, name=sub).order_by("-created_ms").first()
        if model is not None:
            loc = _logged_model_location(workspace, model.model_id, field_name)
    loc.job, loc.run_id = job, job.run_id
    return loc


def locate(*, actor, workspace: Workspace, value: Any, field_name: str = "path") -> Location:
    """Where a model's files are, for any accepted form of `path` (ValidationError naming
    `field_name` otherwise). Checks the actor may read jobs when the path names one."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.for_field(field_name, "is required.")
    text = value.strip()
    if text.startswith("azureml://jobs/"):
        if not _JOB_URI.match(text):
            raise ValidationError.for_field(
                field_name, "job outputs are azureml://jobs/<job>/outputs/<name>[/paths/<path>]."
            )
        return _job_output(actor=actor, workspace=workspace, text=text, field_name=field_name)
    if text.startswith("azureml://"):
        datastore, rel = storage.resolve_datastore_uri(workspace, text, field=field_name)
        if datastore.name == ARTIFACT_DATASTORE:
            return _from_artifacts(workspace, rel, field_name)
        return Location(datastore=datastore, path=rel)
    if text.startswith("runs:/"):
        if not _RUNS_URI.match(text):
            raise ValidationError.for_field(field_name, "runs URIs are runs:/<run id>/<path>.")
        return _run_path(actor=actor, workspace=workspace, text=text, field_name=field_name)
    if text.startswith("models:/"):
        if m := _LOGGED_MODEL_URI.match(text):
            return _logged_model_location(workspace, m["id"], field_name)
        raise ValidationError.for_field(
            field_name, "models URIs here are models:/m-<logged model id>."
        )
    if text.startswith("mlflow-artifacts:"):
        rel = re.sub(r"^mlflow-artifacts:(//[^/]*)?/*", "", text)
        return _from_artifacts(workspace, rel, field_name)
    raise ValidationError.for_field(
        field_name, f"'{text}' is not a model location: use {PATH_FORMS}, or a local path."
    )


# What the files are --------------------------------------------------------------------------


@dataclass
class Inspection:
    is_dir: bool
    size_bytes: int = 0
    file_count: int = 0
    files: list[tuple[str, int]] = field(default_factory=list)  # (path relative, size)


def walk(store: storage.Store, rel: str) -> Iterator[tuple[str, int]]:
    """Every file under a folder as (path relative to it, size), folders first, by name."""
    base = storage.clean_path(rel)
    prefix = len(base) + 1 if base else 0
    for entry in store.walk(rel):
        yield entry.path[prefix:], entry.size or 0


def inspect(location: Location, *, field_name: str = "path") -> Inspection:
    """The file or folder at a location (ValidationError when nothing is there)."""
    store = storage.open_store(location.datastore)
    try:
        entry = store.stat(location.path)
    except NotFound:
        raise ValidationError.for_field(
            field_name, f"nothing at {location.uri}: the path must name a file or a folder."
        ) from None
    if not entry.is_dir:
        name = posixpath.basename(location.path)
        return Inspection(False, entry.size or 0, 1, [(name, entry.size or 0)])
    files = []
    for item in walk(store, location.path):
        files.append(item)
        if len(files) > MAX_FILES:
            raise ValidationError.for_field(field_name, f"more than {MAX_FILES} files.")
    if not files:
        raise ValidationError.for_field(field_name, f"the folder {location.uri} is empty.")
    return Inspection(True, sum(s for _, s in files), len(files), files)


def _json_field(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def parse_mlmodel(text: str, *, field_name: str = "path") -> dict[str, Any]:
    """flavors, signature ({inputs, outputs, params} as lists) and the other MLmodel keys."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError.for_field(
            field_name, f"the MLmodel file is not valid YAML: {exc}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise ValidationError.for_field(
            field_name, "the MLmodel file has no 'flavors' mapping: it is not an MLflow model."
        )
    signature = data.get("signature") if isinstance(data.get("signature"), dict) else {}
    return {
        "flavors": data["flavors"],
        "signature": {k: _json_field(v) for k, v in signature.items() if v is not None},
        "example_info": data.get("saved_input_example_info") or {},
        "run_id": str(data.get("run_id") or ""),
        "model_id": str(data.get("model_id") or ""),
    }


def _read_small(store: storage.Store, rel: str, limit: int) -> bytes | None:
    try:
        data = store.read_head(rel, limit + 1)
    except (NotFound, ValidationError):
        return None
    return data if len(data) <= limit else None


def read_mlflow(location: Location, found: Inspection, *, field_name: str) -> dict[str, Any]:
    """The MLmodel facts of a folder ({} when it has no MLmodel file)."""
    if not found.is_dir or MLMODEL not in {p for p, _ in found.files}:
        return {}
    store = storage.open_store(location.datastore)
    raw = _read_small(store, posixpath.join(location.path, MLMODEL), MAX_MLMODEL_BYTES)
    if raw is None:
        raise ValidationError.for_field(field_name, "the MLmodel file is too large.")
    text = raw.decode("utf-8", errors="replace")
    facts = parse_mlmodel(text, field_name=field_name)
    facts["mlmodel"] = text
    example = None
    artifact = facts["example_info"].get("artifact_path")
    if isinstance(artifact, str) and artifact:
        with contextlib.suppress(ValidationError):
            rel = posixpath.join(location.path, storage.clean_path(artifact))
            body = _read_small(store, rel, MAX_EXAMPLE_BYTES)
            if body is not None:
                with contextlib.suppress(ValueError):
                    example = json.loads(body)
    facts["input_example"] = example
    return facts


# Creating versions ---------------------------------------------------------------------------


def clean_type(value: Any, field_name: str = "type") -> str:
    if value in (None, ""):
        return ModelVersion.Type.CUSTOM
    if value not in TYPES:
        raise ValidationError.for_field(field_name, f"'{value}' is not one of {', '.join(TYPES)}.")
    return value


def model_create(
    *,
    actor,
    workspace: Workspace,
    name: Any,
    path: Any,
    version: Any = None,
    type: Any = None,  # noqa: A002 - the YAML key
    description: Any = "",
    tags: Any = None,
    properties: dict | None = None,
    stage: Any = "",
    source: str | None = None,
    run_id: str = "",
    logged_model_id: str = "",
    location: Location | None = None,
) -> ModelVersion:
    """A model version whose files are already on a datastore (any form of `path`)."""
    if actor is not None:
        permissions.require(actor, Action.ASSET_CREATE, workspace)
    versions.clean_name(name)
    versions.clean_version(version)
    kind_type = clean_type(type)
    if not isinstance(stage, str) or len(stage) > 50:
        raise ValidationError.for_field("stage", "must be a string of at most 50 characters.")
    if properties is not None and not isinstance(properties, dict):
        raise ValidationError.for_field("properties", "must be a mapping.")
    loc = location or locate(actor=actor, workspace=workspace, value=path)
    found = inspect(loc)
    facts = read_mlflow(loc, found, field_name="path")
    if kind_type == ModelVersion.Type.MLFLOW and not facts:
        raise ValidationError.for_field(
            "path",
            f"an mlflow_model is a folder with an MLmodel file; there is none at {loc.uri}.",
        )
    fields = {
        "type": kind_type,
        "path": loc.uri,
        "datastore": loc.datastore,
        "size_bytes": found.size_bytes,
        "file_count": found.file_count,
        "flavors": facts.get("flavors", {}),
        "signature": facts.get("signature", {}),
        "input_example": facts.get("input_example"),
        "mlmodel": facts.get("mlmodel", ""),
        "stage": stage,
        "source": (source if source is not None else str(path or loc.uri))[:2048],
        "run_id": run_id or loc.run_id or facts.get("run_id", "")[:32],
        "logged_model_id": logged_model_id or loc.logged_model_id,
    }
    with transaction.atomic():
        return versions.version_create(
            actor=actor,
            workspace=workspace,
            kind=Kind.MODEL,
            name=name,
            version=version,
            description=description,
            tags=tags,
            properties={str(k): str(v) for k, v in (properties or {}).items()},
            created_by_job=loc.job,
            fields=fields,
        )


def model_register_from_job(
    *,
    actor,
    job,
    output_or_path: str,
    name: Any,
    version: Any = None,
    type: Any = None,  # noqa: A002
) -> ModelVersion:
    """Register a job's output (`model`, an output name) or a path in its MLflow artifacts
    (`outputs/model`, or a full URI) as a model version; the job is its lineage. MLflow
    models are recognised by their MLmodel file when no type is given."""
    text = (output_or_path or "").strip()
    if not text:
        raise ValidationError.for_field("path", "name an output of the job or a path.")
    if "://" in text or text.startswith(("runs:/", "models:/", "mlflow-artifacts:")):
        uri = text
    elif text in ((job.spec or {}).get("outputs") or {}) or text in JOB_ARTIFACT_OUTPUTS:
        uri = f"azureml://jobs/{job.name}/outputs/{text}"
    else:
        uri = f"azureml://jobs/{job.name}/outputs/artifacts/paths/{text}"
    loc = locate(actor=actor, workspace=job.workspace, value=uri)
    if type in (None, ""):
        found = inspect(loc)
        type = ModelVersion.Type.MLFLOW if read_mlflow(loc, found, field_name="path") else None  # noqa: A001
    return model_create(
        actor=actor,
        workspace=job.workspace,
        name=name,
        version=version,
        type=type,
        path=uri,
        location=loc,
    )


# Local uploads (shared: any kind that uploads a local file or folder can use these) ---------


def default_datastore(workspace: Workspace) -> Datastore:
    return Datastore.objects.get(workspace=workspace, is_default=True)


@dataclass
class Uploaded:
    """Files written to a datastore for a new asset; `created` says whether this upload put
    them there (so a failed create deletes only what it wrote)."""

    datastore: Datastore
    path: str
    created: bool

    @property
    def uri(self) -> str:
        return storage.uri(self.datastore.name, self.path)

    def discard(self) -> None:
        if not self.created:
            return
        store = storage.open_store(self.datastore)
        with contextlib.suppress(Exception):
            store.delete(self.path, recursive=True)
            parent = posixpath.dirname(self.path)  # the content hash's folder, if now empty
            if not store.ls(parent, limit=1)[0]:
                store.delete(parent, recursive=True)


def _clean_filename(filename: str, field_name: str) -> str:
    name = posixpath.basename(str(filename or "").replace("\\", "/")).strip()
    if not name or name in (".", ".."):
        raise ValidationError.for_field(field_name, "give the file's name.")
    return storage.clean_path(name, field=field_name)


def upload_file(
    *,
    workspace: Workspace,
    fileobj: IO[bytes],
    filename: str,
    prefix: str = UPLOAD_PREFIX,
    field_name: str = "path",
    datastore: Datastore | None = None,
) -> Uploaded:
    """Stream one file to `<prefix>/<sha256>/<filename>` on the default datastore (once per
    content: the same bytes are not written twice)."""
    name = _clean_filename(filename, field_name)
    datastore = datastore or default_datastore(workspace)
    with tempfile.TemporaryFile() as spool:
        digest, size = hashlib.sha256(), 0
        while chunk := fileobj.read(CHUNK):
            size += len(chunk)
            if size > max_upload_bytes():
                raise ValidationError.for_field(field_name, "the file is larger than the limit.")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        rel = f"{prefix}/{digest.hexdigest()}/{name}"
        store = storage.open_store(datastore)
        if store.exists(rel):
            return Uploaded(datastore, rel, created=False)
        store.write_stream(rel, spool, size_hint=size)
    return Uploaded(datastore, rel, created=True)


def upload_zip(
    *,
    workspace: Workspace,
    fileobj: IO[bytes],
    folder_name: str,
    prefix: str = UPLOAD_PREFIX,
    field_name: str = "path",
    datastore: Datastore | None = None,
) -> Uploaded:
    """Unpack a zipped folder to `<prefix>/<manifest hash>/<folder_name>/` on the default
    datastore, a member at a time (members are checked: no absolute path, '..' or link)."""
    from .code import _clean_member, _open_zip, manifest_of

    name = _clean_filename(folder_name, field_name)
    datastore = datastore or default_datastore(workspace)
    with tempfile.TemporaryFile() as spool:
        size = 0
        while chunk := fileobj.read(CHUNK):
            size += len(chunk)
            if size > max_upload_bytes():
                raise ValidationError.for_field(field_name, "the folder is larger than the limit.")
            spool.write(chunk)
        spool.seek(0)
        with _open_zip(spool, field_name) as zf:
            manifest = manifest_of(zf, field=field_name, limit=max_upload_bytes())
            if not manifest:
                raise ValidationError.for_field(field_name, "the folder is empty.")
            rel = f"{prefix}/{manifest_hash(manifest)}/{name}"
            store = storage.open_store(datastore)
            if store.exists(rel):
                return Uploaded(datastore, rel, created=False)
            uploaded = Uploaded(datastore, rel, created=True)
            try:
                for member in zf.infolist():
                    member_path = _clean_member(member, field_name)
                    if member_path is not None:
                        with zf.open(member) as src:
                            store.write_stream(
                                f"{rel}/{member_path}", src, size_hint=member.file_size
                            )
            except BaseException:
                uploaded.discard()
                raise
    return uploaded


def model_create_from_upload(
    *, actor, workspace: Workspace, fileobj: IO[bytes], filename: str, folder: bool, **spec
) -> ModelVersion:
    """Upload a local file (or a folder sent as a zip) and create the version on it; if the
    version cannot be created, the uploaded files are deleted again."""
    permissions.require(actor, Action.ASSET_CREATE, workspace)
    versions.clean_name(spec.get("name"))
    versions.clean_version(spec.get("version"))
    clean_type(spec.get("type"))
    if folder:
        name = re.sub(r"\.zip$", "", posixpath.basename(str(filename or ""))) or "model"
        uploaded = upload_zip(workspace=workspace, fileobj=fileobj, folder_name=name)
    else:
        uploaded = upload_file(workspace=workspace, fileobj=fileobj, filename=filename)
    try:
        return model_create(
            actor=actor,
            workspace=workspace,
            path=uploaded.uri,
            source=f"local:{posixpath.basename(str(filename))}",
            **{k: v for k, v in spec.items() if k != "path"},
        )
    except BaseException:
        uploaded.discard()
        raise


# Download as a zip (streamed) -----------------------------------------------------------------


def download_zip(row: ModelVersion) -> Iterator[bytes]:
    """The version's files as a zip, produced while it is sent (Store.zip_chunks)."""
    datastore, rel = storage.resolve_datastore_uri(row.workspace, row.path)
    return storage.open_store(datastore).zip_chunks(rel)


# MLflow registry writes -----------------------------------------------------------------------


def _locked_asset(asset: Asset) -> Asset:
    return Asset.objects.select_for_update().get(pk=asset.pk)


@transaction.atomic
def registered_model_create(
    *, actor, workspace: Workspace, name: Any, description: Any = "", tags: Any = None
) -> Asset:
    """A model name with no version yet (MLflow's create_registered_model); Conflict when
    the name exists."""
    permissions.require(actor, Action.ASSET_CREATE, workspace)
    name = versions.clean_name(name)
    if Asset.objects.filter(workspace=workspace, kind=Kind.MODEL, name=name).exists():
        raise Conflict(
            f"Registered Model (name={name}) already exists.", fields={"name": ["exists"]}
        )
    return Asset.objects.create(
        workspace=workspace,
        kind=Kind.MODEL,
        name=name,
        description=versions.clean_description(description),
        tags=versions.clean_tags(tags),
        created_by=actor if actor.is_authenticated else None,
    )


@transaction.atomic
def registered_model_rename(*, actor, asset: Asset, new_name: Any) -> Asset:
    permissions.require(actor, Action.ASSET_UPDATE, asset.workspace)
    new_name = versions.clean_name(new_name, "new_name")
    asset = _locked_asset(asset)
    if new_name == asset.name:
        return asset
    if Asset.objects.filter(workspace=asset.workspace_id, kind=Kind.MODEL, name=new_name).exists():
        raise Conflict(f"Registered Model (name={new_name}) already exists.")
    ModelVersion.objects.filter(asset=asset).update(name=new_name)
    asset.name = new_name
    asset.updated_at = timezone.now()
    asset.save(update_fields=["name", "updated_at"])
    return asset


@transaction.atomic
def registered_model_delete(*, actor, asset: Asset) -> None:
    """Delete a model name and its versions (their files stay: they belong to runs, jobs or
    uploads that may be shared)."""
    permissions.require(actor, Action.ASSET_UPDATE, asset.workspace)
    asset = _locked_asset(asset)
    ModelVersion.objects.filter(asset=asset).delete()
    asset.delete()


@transaction.atomic
def model_version_delete(*, actor, row: ModelVersion) -> None:
    """Delete one version; aliases pointing at it go too."""
    permissions.require(actor, Action.ASSET_UPDATE, row.workspace)
    asset = _locked_asset(row.asset)
    ModelVersion.objects.filter(pk=row.pk).delete()
    asset.labels = {k: v for k, v in asset.labels.items() if v != row.version}
    asset.save(update_fields=["labels"])
    versions._refresh_latest(asset)


@transaction.atomic
def model_version_set_stage(
    *, actor, row: ModelVersion, stage: str, archive_existing: bool = False
) -> ModelVersion:
    """MLflow's (deprecated) stages: None, Staging, Production, Archived."""
    permissions.require(actor, Action.ASSET_UPDATE, row.workspace)
    allowed = {
        "none": "None",
        "staging": "Staging",
        "production": "Production",
        "archived": "Archived",
    }
    canonical = allowed.get(str(stage).lower())
    if canonical is None:
        raise ValidationError.for_field(
            "stage", f"'{stage}' is not one of {', '.join(allowed.values())}."
        )
    now = timezone.now()
    if archive_existing and canonical in ("Staging", "Production"):
        ModelVersion.objects.filter(asset_id=row.asset_id, stage=canonical).exclude(
            pk=row.pk
        ).update(stage="Archived", updated_at=now)
    row.stage = "" if canonical == "None" else canonical
    row.updated_at = now
    row.save(update_fields=["stage", "updated_at"])
    return row
