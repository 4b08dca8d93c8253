"""Experiments, jobs (every job is an MLflow run), their status timeline, logs, metrics,
params and logged models.

A job submitted from YAML, the studio or the API, and a run a laptop starts with
`mlflow.start_run()`, are the same row: the MLflow REST API reads and writes these tables.
Metric samples are append-only and indexed by (job, key, step); `LatestMetric` keeps the last
value of each key so the experiment table never has to scan the samples.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.workspaces.models import Compute, Workspace


def _now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


class Experiment(models.Model):
    """A named group of jobs in a workspace (MLflow's experiment). Its MLflow id is the
    numeric primary key as a string, as the reference server hands them out."""

    class Lifecycle(models.TextChoices):
        ACTIVE = "active", "active"
        DELETED = "deleted", "deleted"

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=500)
    lifecycle_stage = models.CharField(
        max_length=10, choices=Lifecycle.choices, default=Lifecycle.ACTIVE
    )
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_experiment_name"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace.name}/{self.name}"

    @property
    def artifact_location(self) -> str:
        return f"mlflow-artifacts:/{self.pk}"


class Job(models.Model):
    """A job: a command job, a sweep, a pipeline or one of its steps, or a run started by an
    MLflow client outside the studio. Its MLflow run id is `id.hex`."""

    class Type(models.TextChoices):
        COMMAND = "command", "Command"
        SWEEP = "sweep", "Sweep"
        PIPELINE = "pipeline", "Pipeline"
        RUN = "run", "MLflow run"  # logged from outside: no container, no spec

    class Status(models.TextChoices):
        NOT_STARTED = "NotStarted", "Not started"
        QUEUED = "Queued", "Queued"
        PREPARING = "Preparing", "Preparing"
        RUNNING = "Running", "Running"
        FINALIZING = "Finalizing", "Finalizing"
        COMPLETED = "Completed", "Completed"
        FAILED = "Failed", "Failed"
        CANCELED = "Canceled", "Canceled"
        CANCEL_REQUESTED = "CancelRequested", "Cancel requested"

    TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="jobs")
    # Experiments are only ever soft-deleted (lifecycle_stage); a hard delete comes with the
    # workspace, which takes its jobs along.
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="jobs")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    # Azure's job name: unique in the workspace, given or generated. MLflow's run name is
    # `display_name`.
    name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=500, blank=True)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.COMMAND)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NOT_STARTED)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    compute = models.ForeignKey(
        Compute, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    # Everything resolved and frozen at submit: command, environment image, inputs, outputs,
    # environment variables, limits. Empty for MLflow-only runs.
    spec = models.JSONField(default=dict, blank=True)
    # Where the runner's executor keeps the job (executor name + external id), written as
    # soon as it starts so a reaper can find it after a worker dies.
    handle = models.JSONField(default=dict, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    archived = models.BooleanField(default=False)
    lifecycle_stage = models.CharField(max_length=10, default=Experiment.Lifecycle.ACTIVE)
    # MLflow's user_id as the client sent it (e.g. the laptop's login name).
    mlflow_user = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    start_time_ms = models.BigIntegerField(null=True, blank=True)
    end_time_ms = models.BigIntegerField(null=True, blank=True)
    # Highest log line number stored so far (the runner's resume point).
    log_seq = models.BigIntegerField(default=0)
    # The code snapshot the job runs in (its working directory), frozen at submit.
    code = models.ForeignKey(
        "assets.CodeSnapshot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # How many times a runner claimed it (a job re-queued after a lost worker runs again),
    # and the worker (hostname) that holds it now.
    attempts = models.IntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    # When it entered Queued: the order of the compute's queue.
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_job_name"),
        ]
        indexes = [
            # The job lists' sorts (selectors.job_list_page): column then id, read either way.
            models.Index(fields=["workspace", "created_at", "id"], name="job_ws_created_id"),
            models.Index(fields=["workspace", "display_name", "id"], name="job_ws_name_id"),
            models.Index(fields=["workspace", "status", "id"], name="job_ws_status_id"),
            models.Index(fields=["experiment", "-created_at"]),
            models.Index(fields=["status"]),
            models.Index(fields=["compute", "status", "queued_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.workspace.name}/{self.name}"

    @property
    def run_id(self) -> str:
        return self.id.hex

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def artifact_uri(self) -> str:
        return f"mlflow-artifacts:/{self.experiment_id}/{self.run_id}/artifacts"


class JobStatusChange(models.Model):
    """The status timeline: each transition with its time (and why, when it ended badly)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=20, choices=Job.Status.choices)
    reason = models.CharField(max_length=1000, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job", "at", "id"]

    def __str__(self) -> str:
        return f"{self.job_id} → {self.status}"


class JobParam(models.Model):
    """An MLflow param: logged once per key, never changed (MLflow's rule)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="params")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        ordering = ["job", "key"]
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="unique_param_key")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class MetricSample(models.Model):
    """One logged metric value. Append-only; read by (job, key) in step order."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the (job, key, step, timestamp_ms) index serves job lookups, and
    # a second index would be written for every logged point.
    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, related_name="metric_samples", db_index=False
    )
    key = models.CharField(max_length=250)
    value = models.FloatField()
    timestamp_ms = models.BigIntegerField(default=_now_ms)
    step = models.BigIntegerField(default=0)
    model_id = models.CharField(max_length=64, blank=True)
    dataset_name = models.CharField(max_length=500, blank=True)
    dataset_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["job", "key", "step", "timestamp_ms"])]

    def __str__(self) -> str:
        return f"{self.key}[{self.step}]={self.value}"


class LatestMetric(models.Model):
    """The latest value of each metric of a job (highest step, then latest timestamp), kept
    in the same transaction as the samples: the experiment table reads only this."""

    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, related_name="latest_metrics", db_index=False
    )  # unique_latest_metric (job, key) serves job lookups
    key = models.CharField(max_length=250)
    value = models.FloatField()
    timestamp_ms = models.BigIntegerField()
    step = models.BigIntegerField()

    class Meta:
        ordering = ["job", "key"]
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="unique_latest_metric")]
        indexes = [models.Index(fields=["key", "value"])]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class MetricRollup(models.Model):
    """A summary of a metric's samples per block of `ROLLUP_STEPS` steps, kept in the same
    transaction as the samples: count, step and time range, the lowest and highest value
    with the step each was logged at, and the sum. A chart of a million points is drawn from
    these (a thousand rows) instead of scanning the samples."""

    ROLLUP_STEPS = 1000

    id = models.BigAutoField(primary_key=True)
    # unique_metric_rollup (job, key, bucket) serves job lookups
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=250)
    bucket = models.BigIntegerField()  # step // ROLLUP_STEPS
    n = models.BigIntegerField()
    step_lo = models.BigIntegerField()
    step_hi = models.BigIntegerField()
    t_lo = models.BigIntegerField()
    t_hi = models.BigIntegerField()
    v_lo = models.FloatField()
    v_lo_step = models.BigIntegerField()
    v_hi = models.FloatField()
    v_hi_step = models.BigIntegerField()
    v_sum = models.FloatField()

    class Meta:
        ordering = ["job", "key", "bucket"]
        constraints = [
            models.UniqueConstraint(fields=["job", "key", "bucket"], name="unique_metric_rollup"),
        ]

    def __str__(self) -> str:
        return f"{self.key}[{self.bucket}] n={self.n}"


class LogLine(models.Model):
    """A line of a job's stdout or stderr, numbered per job without gaps (`seq` from 1)."""

    class Stream(models.TextChoices):
        STDOUT = "stdout", "stdout"
        STDERR = "stderr", "stderr"
        SYSTEM = "system", "system"  # the studio's own lines: image build, status changes

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_lines")
    seq = models.BigIntegerField()
    stream = models.CharField(max_length=6, choices=Stream.choices)
    text = models.TextField()
    ts = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="unique_log_seq")]

    def __str__(self) -> str:
        return f"{self.seq}: {self.text[:60]}"


class DatasetInput(models.Model):
    """A dataset an MLflow run logged as input (`log_inputs`, autolog), as the client sent it."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dataset_inputs")
    name = models.CharField(max_length=500)
    digest = models.CharField(max_length=64)
    source_type = models.CharField(max_length=100, blank=True)
    source = models.TextField(blank=True)
    schema = models.TextField(blank=True)
    profile = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["job", "id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "name", "digest"], name="unique_dataset_input"),
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}"


class LoggedModel(models.Model):
    """An MLflow 3 logged model (`mlflow.<flavor>.log_model`): files under the experiment's
    artifacts, linked to the run that produced it. Registering one makes a Model asset."""

    class Status(models.TextChoices):
        PENDING = "LOGGED_MODEL_PENDING", "pending"
        READY = "LOGGED_MODEL_READY", "ready"
        UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED", "upload failed"

    model_id = models.CharField(max_length=40, primary_key=True)  # "m-" + 32 hex
    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="logged_models"
    )
    source_job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="logged_models"
    )
    name = models.CharField(max_length=500)
    model_type = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.PENDING)
    status_message = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    creator = models.CharField(max_length=255, blank=True)
    created_ms = models.BigIntegerField(default=_now_ms)
    updated_ms = models.BigIntegerField(default=_now_ms)

    class Meta:
        ordering = ["-created_ms"]
        indexes = [models.Index(fields=["experiment", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.model_id})"

    @property
    def artifact_uri(self) -> str:
        return f"mlflow-artifacts:/{self.experiment_id}/models/{self.model_id}/artifacts"


class JobModelInput(models.Model):
    """A logged model a run used (`log-inputs` models: an evaluation run's metrics logged
    with a model's id, `mlflow.evaluate`)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="model_inputs")
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "logged_model"], name="unique_model_input"),
        ]

    def __str__(self) -> str:
        return f"{self.logged_model_id} → {self.job_id}"


class JobModelOutput(models.Model):
    """A logged model a run declared as its output (`runs/outputs`), with the step."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="model_outputs")
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="+")
    step = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "logged_model"], name="unique_model_output"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} → {self.logged_model_id}"
