"""Versioned assets of a workspace: data, environments, models, components, and the code
snapshots that components and jobs run.

An `Asset` is a name of one kind in a workspace (Azure's "container"): it holds what belongs
to the name as a whole (description, tags, labels such as MLflow aliases, the counter for the
next version, the latest version) so that list pages read one row per name. Each kind's
versions live in their own table, built on `AssetVersion`. A version is immutable once
created: only its description, tags and archived state change.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.workspaces.models import Datastore, Workspace

# Azure ML asset names: letters, digits, '-', '_' and '.', starting with a letter or a digit
# (lenient, as the examples use `r-iris-example`). Versions: the same characters.
ASSET_NAME_RE = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$"
ASSET_VERSION_RE = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$"


class Kind(models.TextChoices):
    DATA = "data", "Data"
    ENVIRONMENT = "environment", "Environment"
    MODEL = "model", "Model"
    COMPONENT = "component", "Component"


class Asset(models.Model):
    """A name of one asset kind in a workspace, with what is shared by all its versions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # Named pointers to versions ({"champion": "3"}): MLflow's registered-model aliases.
    labels = models.JSONField(default=dict, blank=True)
    # The newest version that is not archived ("" when every version is archived), and the
    # number of versions, kept by the services in the same transaction as the versions.
    latest_version = models.CharField(max_length=64, blank=True)
    version_count = models.IntegerField(default=0)
    # The next auto-assigned version (Azure: an integer per name, one above the highest).
    next_version = models.BigIntegerField(default=1)
    archived = models.BooleanField(default=False)  # every version archived
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "kind", "name"], name="unique_asset_name"),
        ]
        indexes = [
            models.Index(fields=["workspace", "kind", "archived", "name"]),
            models.Index(fields=["workspace", "kind", "archived", "-updated_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class AssetVersion(models.Model):
    """What every version of every kind has. Abstract: each kind has its own table."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)  # = asset.name, kept for readable queries
    version = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    archived = models.BooleanField(default=False)
    # Lineage: the user who created it, or the job whose output it is.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    kind: str = ""

    class Meta:
        abstract = True
        ordering = ["asset", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def reference(self) -> str:
        return f"azureml:{self.name}:{self.version}"


def _version_meta(prefix: str):
    """Constraints and indexes shared by every version table (names must be unique)."""
    return (
        [
            models.UniqueConstraint(fields=["asset", "version"], name=f"unique_{prefix}_version"),
        ],
        [
            models.Index(fields=["asset", "archived", "-created_at"], name=f"{prefix}_by_age"),
            # A name's versions newest first (the versions tab and API at 10,000 versions).
            models.Index(fields=["asset", "-created_at", "-id"], name=f"{prefix}_newest"),
            models.Index(fields=["workspace", "name"], name=f"{prefix}_by_name"),
        ],
    )


class CodeSnapshot(models.Model):
    """A frozen copy of a `code` folder, stored once per content: a zip on a datastore, named
    by the SHA-256 of its manifest (sorted paths and file hashes), so that the same files
    give the same snapshot however they were zipped."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    content_hash = models.CharField(max_length=64)
    datastore = models.ForeignKey(Datastore, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=1024)  # of the zip, inside the datastore
    size_bytes = models.BigIntegerField(default=0)  # of the files, unpacked
    file_count = models.IntegerField(default=0)
    # [{"path": "src/train.py", "size": 1234, "sha256": "..."}], sorted by path.
    manifest = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "content_hash"], name="unique_code_snapshot"
            ),
        ]

    def __str__(self) -> str:
        return f"code:{self.content_hash[:12]}"


_c, _i = _version_meta("data")


class DataVersion(AssetVersion):
    """A data asset version: a file, a folder or an MLTable folder, on a datastore
    (`azureml://datastores/<ds>/paths/<p>`) or at an http(s) URL kept as a reference."""

    class Type(models.TextChoices):
        URI_FILE = "uri_file", "File (uri_file)"
        URI_FOLDER = "uri_folder", "Folder (uri_folder)"
        MLTABLE = "mltable", "Table (mltable)"

    kind = Kind.DATA
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.URI_FOLDER)
    # The canonical location: azureml://datastores/<ds>/paths/<path> or http(s)://...
    path = models.CharField(max_length=2048)
    datastore = models.ForeignKey(
        Datastore, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # SHA-256 of the uploaded bytes (files) or of the manifest (folders); "" for references.
    content_hash = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    file_count = models.IntegerField(null=True, blank=True)
    # The MLTable file's text, for `mltable`.
    mltable = models.TextField(blank=True)
    # The profile a worker computes (row count, per-column missing, min, max, mean), cached.
    profile = models.JSONField(default=dict, blank=True)
    profile_status = models.CharField(max_length=20, blank=True)  # "", running, done, failed

    class Meta(AssetVersion.Meta):
        constraints = _c
        indexes = _i


_c, _i = _version_meta("env")


class EnvironmentVersion(AssetVersion):
    """An environment version: an image; a base image plus a conda file or pip requirements;
    or a Docker build context. `spec_hash` (of the normalised spec) names the image it builds
    to, so the same spec never builds twice."""

    class Source(models.TextChoices):
        IMAGE = "image", "Image"
        CONDA = "conda", "Image + conda file"
        PIP = "pip", "Image + pip requirements"
        DOCKER = "docker", "Docker build context"

    kind = Kind.ENVIRONMENT
    source = models.CharField(max_length=10, choices=Source.choices)
    image = models.CharField(max_length=500, blank=True)
    conda_file = models.TextField(blank=True)
    pip_requirements = models.TextField(blank=True)
    # The build context (a folder with a Dockerfile), frozen like code.
    build_context = models.ForeignKey(
        CodeSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dockerfile_path = models.CharField(max_length=500, blank=True)
    os_type = models.CharField(max_length=10, default="linux")
    inference_config = models.JSONField(default=dict, blank=True)
    spec_hash = models.CharField(max_length=64, db_index=True)
    # Anonymous (inline in a job or component) and curated environments are kept too.
    is_anonymous = models.BooleanField(default=False)
    is_curated = models.BooleanField(default=False)

    class Meta(AssetVersion.Meta):
        constraints = _c
        indexes = _i


class ImageBuild(models.Model):
    """One build of an image for a spec hash on a Docker engine. The newest build of a hash
    tells its state; its log lines stream to the environment's page while it runs."""

    class Status(models.TextChoices):
        QUEUED = "Queued", "Queued"
        RUNNING = "Running", "Building"
        SUCCEEDED = "Succeeded", "Succeeded"
        FAILED = "Failed", "Failed"

    TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(
        EnvironmentVersion, on_delete=models.CASCADE, related_name="builds"
    )
    spec_hash = models.CharField(max_length=64)
    image_tag = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    forced = models.BooleanField(default=False)
    # Which engine built it (a worker's hostname): an image exists where it was built.
    engine = models.CharField(max_length=255, blank=True)
    failed_step = models.TextField(blank=True)
    error = models.TextField(blank=True)
    log_seq = models.BigIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written every few seconds while Running: the reaper fails a build silent too long.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["spec_hash", "-created_at"])]

    def __str__(self) -> str:
        return f"build {self.image_tag} ({self.status})"


class ImageBuildLogLine(models.Model):
    """A line of a build's output, numbered per build from 1 without gaps."""

    id = models.BigAutoField(primary_key=True)
    build = models.ForeignKey(ImageBuild, on_delete=models.CASCADE, related_name="log_lines")
    seq = models.BigIntegerField()
    text = models.TextField()
    ts = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["build", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["build", "seq"], name="unique_build_log_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.seq}: {self.text[:60]}"


_c, _i = _version_meta("model")


class ModelVersion(AssetVersion):
    """A model version: files on a datastore (a custom model, an MLflow model folder with its
    `MLmodel`, a Triton model repository). Also MLflow's registered model version."""

    class Type(models.TextChoices):
        CUSTOM = "custom_model", "Custom"
        MLFLOW = "mlflow_model", "MLflow"
        TRITON = "triton_model", "Triton"

    kind = Kind.MODEL
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.CUSTOM)
    path = models.CharField(max_length=2048)  # azureml://datastores/<ds>/paths/<p>
    datastore = models.ForeignKey(
        Datastore, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    size_bytes = models.BigIntegerField(null=True, blank=True)
    file_count = models.IntegerField(null=True, blank=True)
    # Parsed from MLmodel: {"python_function": {...}, "sklearn": {...}}, the signature and
    # the input example; the MLmodel text itself.
    flavors = models.JSONField(default=dict, blank=True)
    signature = models.JSONField(default=dict, blank=True)
    input_example = models.JSONField(null=True, blank=True)
    mlmodel = models.TextField(blank=True)
    stage = models.CharField(max_length=50, blank=True)
    # Where it came from, as given: a local upload, a datastore URI, a job output, runs:/...
    source = models.CharField(max_length=2048, blank=True)
    # MLflow registry fields: the run and logged model it came from, and its status.
    run_id = models.CharField(max_length=32, blank=True)
    logged_model_id = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=30, default="READY")

    class Meta(AssetVersion.Meta):
        constraints = _c
        indexes = _i


_c, _i = _version_meta("component")


class ComponentVersion(AssetVersion):
    """A component version: typed inputs and outputs, a command with `${{inputs.x}}`,
    `${{outputs.y}}` and `$[[...]]`, an environment and a code snapshot."""

    class Type(models.TextChoices):
        COMMAND = "command", "Command"
        PIPELINE = "pipeline", "Pipeline"

    kind = Kind.COMPONENT
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.COMMAND)
    display_name = models.CharField(max_length=500, blank=True)
    is_deterministic = models.BooleanField(default=True)
    command = models.TextField(blank=True)
    # {"name": {"type": ..., "default": ..., "optional": ..., "min": ..., "max": ...,
    #  "enum": [...], "description": ...}} in declaration order.
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    environment = models.ForeignKey(
        EnvironmentVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    code = models.ForeignKey(
        CodeSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The whole normalised YAML (resources, distribution, jobs of a pipeline component...).
    spec = models.JSONField(default=dict, blank=True)
    # Built-in components ship with the studio (the Designer's classic set).
    is_builtin = models.BooleanField(default=False)

    class Meta(AssetVersion.Meta):
        constraints = _c
        indexes = _i


VERSION_MODELS: dict[str, type[AssetVersion]] = {
    Kind.DATA: DataVersion,
    Kind.ENVIRONMENT: EnvironmentVersion,
    Kind.MODEL: ModelVersion,
    Kind.COMPONENT: ComponentVersion,
}


class AssetUse(models.Model):
    """Lineage, "used by": a job consumed an asset version (as an input, its environment,
    its component or its code)."""

    class Role(models.TextChoices):
        INPUT = "input", "Input"
        ENVIRONMENT = "environment", "Environment"
        COMPONENT = "component", "Component"

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="asset_uses")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="uses")
    version = models.CharField(max_length=64)
    role = models.CharField(max_length=20, choices=Role.choices)
    input_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["asset", "version", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.job_id} used {self.asset_id}:{self.version}"
