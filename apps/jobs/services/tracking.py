"""Writes of MLflow tracking: experiments, runs (jobs), their params, tags, metrics, inputs
and outputs. The MLflow REST API (apps/jobs/mlflow/) calls these; so will the studio's own
pages and the job runner.

Hot path: `run_log` serves log-metric, log-parameter, set-tag and log-batch. It costs a
constant number of queries whatever the batch size: one to check the job; the insert of the
samples, the upsert of the latest values (replacing a stored latest value only when the new
(step, timestamp) is not older, decided in SQL) and the upsert of the rollups (one statement
on PostgreSQL); and two for params. All in one transaction. Metrics alone on PostgreSQL (a
log-metric, a log-batch of metrics) are one statement in all: the check and the writes.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from studio.errors import Conflict, NotFound, ValidationError

from ..models import (
    DatasetInput,
    Experiment,
    Job,
    JobModelInput,
    JobModelOutput,
    JobParam,
    JobStatusChange,
    LatestMetric,
    LoggedModel,
    MetricSample,
)
from . import rollups

DEFAULT_EXPERIMENT = "Default"
MAX_EXPERIMENT_NAME = 500  # as MLflow (and Experiment.name)
RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"

# MLflow's RunStatus <-> the job's status (Azure's vocabulary). Statuses MLflow lacks map to
# the nearest one: a job being prepared is SCHEDULED, one finalizing still RUNNING.
STATUS_FROM_MLFLOW = {
    "RUNNING": Job.Status.RUNNING,
    "SCHEDULED": Job.Status.QUEUED,
    "FINISHED": Job.Status.COMPLETED,
    "FAILED": Job.Status.FAILED,
    "KILLED": Job.Status.CANCELED,
}
STATUS_TO_MLFLOW = {
    Job.Status.NOT_STARTED: "SCHEDULED",
    Job.Status.QUEUED: "SCHEDULED",
    Job.Status.PREPARING: "SCHEDULED",
    Job.Status.RUNNING: "RUNNING",
    Job.Status.FINALIZING: "RUNNING",
    Job.Status.CANCEL_REQUESTED: "RUNNING",
    Job.Status.COMPLETED: "FINISHED",
    Job.Status.FAILED: "FAILED",
    Job.Status.CANCELED: "KILLED",
}

_ADJECTIVES = (
    "amiable bold brave bright calm clever cool eager frosty gentle happy jolly keen lively "
    "loyal lucid merry nice plucky polite quiet quirky sharp shy sincere sleepy stoic sunny "
    "tender tidy upbeat witty zen"
).split()
_NOUNS = (
    "apple bear bee boat bread brick cactus camel carrot cloud comet coral crane fig fox "
    "garden hat kiwi lamp leaf lemon lion map moon napkin owl pear pepper plum river rocket "
    "sail seal snail spoon star tiger tomato tree yacht"
).split()


def mlflow_validation():
    """MLflow's own validation rules (mlflow.utils.validation), imported on first use:
    importing mlflow takes seconds, which pages that only read jobs should not pay."""
    from mlflow.utils import validation

    return validation


def now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


def job_name_generate() -> str:
    """An Azure-style job name: `<adjective>_<noun>_<8 hex>`."""
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{secrets.token_hex(4)}"


def _require(actor, workspace: Workspace) -> None:
    permissions.require(actor, Action.JOB_RUN, workspace)


def _must_be_active(job_or_stage, run_id: str) -> None:
    stage = getattr(job_or_stage, "lifecycle_stage", job_or_stage)
    if stage != Experiment.Lifecycle.ACTIVE:
        raise ValidationError.for_field(
            "run_id",
            f"The run {run_id} must be in the 'active' state. Current state is {stage}.",
        )


# Experiments -------------------------------------------------------------------------------


def experiment_default(*, workspace: Workspace) -> Experiment:
    """The workspace's "Default" experiment (MLflow's experiment "0"), made on first need."""
    experiment = Experiment.objects.filter(workspace=workspace, name=DEFAULT_EXPERIMENT).first()
    if experiment is not None:
        return experiment
    try:
        with transaction.atomic():
            return Experiment.objects.create(workspace=workspace, name=DEFAULT_EXPERIMENT)
    except IntegrityError:  # made meanwhile by a concurrent request
        return Experiment.objects.get(workspace=workspace, name=DEFAULT_EXPERIMENT)


def _experiment_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError.for_field("name", "Give the experiment a name.")
    if len(name) > MAX_EXPERIMENT_NAME:
        raise ValidationError.for_field("name", f"At most {MAX_EXPERIMENT_NAME} characters.")
    return name


def _name_taken(workspace: Workspace, name: str, *, exclude: int | None = None) -> None:
    clash = Experiment.objects.filter(workspace=workspace, name=name).exclude(pk=exclude).first()
    if clash is not None:
        state = " in deleted state" if clash.lifecycle_stage == "deleted" else ""
        raise Conflict(f"Experiment '{name}' already exists{state}.")


def _tags_dict(tags: Iterable[tuple[str, str]], validate) -> dict[str, str]:
    out = {}
    for key, value in tags:
        validate(key, value)
        out[key] = value
    return out


@transaction.atomic
def experiment_create(
    *, actor, workspace: Workspace, name: str, tags: Sequence[tuple[str, str]] = ()
) -> Experiment:
    """A new experiment of the workspace (names are unique in it, deleted ones included)."""
    _require(actor, workspace)
    name = _experiment_name(name)
    _name_taken(workspace, name)
    tag_map = _tags_dict(tags, mlflow_validation()._validate_experiment_tag)
    try:
        with transaction.atomic():
            return Experiment.objects.create(workspace=workspace, name=name, tags=tag_map)
    except IntegrityError:
        raise Conflict(f"Experiment '{name}' already exists.") from None


@transaction.atomic
def experiment_rename(*, actor, experiment: Experiment, new_name: str) -> Experiment:
    _require(actor, experiment.workspace)
    if experiment.lifecycle_stage != Experiment.Lifecycle.ACTIVE:
        raise ValidationError.for_field("experiment_id", "Cannot rename a deleted experiment.")
    name = _experiment_name(new_name)
    _name_taken(experiment.workspace, name, exclude=experiment.pk)
    experiment.name = name
    experiment.save(update_fields=["name", "updated_at"])
    return experiment


@transaction.atomic
def experiment_set_lifecycle(*, actor, experiment: Experiment, stage: str) -> Experiment:
    """Delete (stage "deleted") or restore ("active") an experiment and, as MLflow does, its
    runs with it."""
    _require(actor, experiment.workspace)
    experiment.lifecycle_stage = stage
    experiment.save(update_fields=["lifecycle_stage", "updated_at"])
    Job.objects.filter(experiment=experiment).update(lifecycle_stage=stage)
    return experiment


@transaction.atomic
def experiment_set_tag(*, actor, experiment: Experiment, key: str, value: str) -> None:
    _require(actor, experiment.workspace)
    mlflow_validation()._validate_experiment_tag(key, value)
    locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
    locked.tags = {**locked.tags, key: value}
    locked.save(update_fields=["tags", "updated_at"])


@transaction.atomic
def experiment_delete_tag(*, actor, experiment: Experiment, key: str) -> None:
    _require(actor, experiment.workspace)
    locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if key not in locked.tags:
        raise NotFound(f"No tag with name: {key} in experiment {experiment.pk}.")
    locked.tags = {k: v for k, v in locked.tags.items() if k != key}
    locked.save(update_fields=["tags", "updated_at"])


# Runs ----------------------------------------------------------------------------------------


def _status_change(job: Job, status: str, reason: str = "") -> None:
    JobStatusChange.objects.create(job=job, status=status, reason=reason[:1000])


@transaction.atomic
def run_create(
    *,
    actor,
    experiment: Experiment,
    user_id: str = "",
    run_name: str = "",
    start_time: int | None = None,
    tags: Sequence[tuple[str, str]] = (),
) -> Job:
    """A run started by an MLflow client: a job of type `run`, without a container, RUNNING."""
    workspace = experiment.workspace
    _require(actor, workspace)
    if experiment.lifecycle_stage != Experiment.Lifecycle.ACTIVE:
        raise ValidationError.for_field(
            "experiment_id", f"Experiment {experiment.pk} is deleted: restore it first."
        )
    tag_map = _tags_dict(tags, mlflow_validation()._validate_tag)
    name = job_name_generate()
    display = (run_name or tag_map.get(RUN_NAME_TAG) or name)[:500]
    tag_map[RUN_NAME_TAG] = display
    parent = None
    if parent_hex := tag_map.get(PARENT_RUN_TAG):
        parent = Job.objects.filter(pk=parse_run_id(parent_hex), workspace=workspace).first()
    job = Job.objects.create(
        workspace=workspace,
        experiment=experiment,
        parent=parent,
        name=name,
        display_name=display,
        type=Job.Type.RUN,
        status=Job.Status.RUNNING,
        tags=tag_map,
        mlflow_user=(user_id or "")[:255],
        created_by=actor,
        start_time_ms=start_time or now_ms(),
    )
    _status_change(job, Job.Status.RUNNING)
    return job


@transaction.atomic
def run_update(
    *,
    actor,
    job: Job,
    status: str | None = None,
    end_time: int | None = None,
    run_name: str | None = None,
) -> Job:
    """Change a run's status (MLflow's name), end time or name.

    A job the studio runs in a container keeps the status its runner gives it: a client's
    `mlflow.end_run()` inside the container does not end the job, so only runs started from
    outside (type `run`) take a status from the client.
    """
    _require(actor, job.workspace)
    job = Job.objects.select_for_update().get(pk=job.pk)
    fields = []
    if status is not None and job.type == Job.Type.RUN:
        new = STATUS_FROM_MLFLOW.get(status)
        if new is None:
            raise ValidationError.for_field("status", f"Unknown run status '{status}'.")
        if new != job.status:
            job.status = new
            fields.append("status")
            _status_change(job, new)
        if end_time is not None:
            job.end_time_ms = end_time
            fields.append("end_time_ms")
    if run_name:
        mlflow_validation()._validate_tag(RUN_NAME_TAG, run_name)
        job.display_name = run_name[:500]
        job.tags = {**job.tags, RUN_NAME_TAG: job.display_name}
        fields += ["display_name", "tags"]
    if fields:
        job.save(update_fields=fields)
    return job


@transaction.atomic
def run_set_lifecycle(*, actor, job: Job, stage: str) -> None:
    """Delete (stage "deleted") or restore ("active") a run."""
    _require(actor, job.workspace)
    Job.objects.filter(pk=job.pk).update(lifecycle_stage=stage)


def parse_run_id(value: str, *, field: str = "run_id") -> uuid.UUID:
    """A run id (32 hex digits, the job's UUID) as a UUID; NotFound for anything else, as
    MLflow answers for an unknown run."""
    try:
        return uuid.UUID(hex=str(value))
    except ValueError:
        raise NotFound(f"Run with id={value} not found") from None


# Logging: the hot path ----------------------------------------------------------------------


class MetricIn(NamedTuple):
    """One metric point as the client sent it (already type-checked by the API layer). A
    NamedTuple: a log-batch makes a thousand of them per request."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    model_id: str = ""
    dataset_name: str = ""
    dataset_digest: str = ""


def _validate_metrics(metrics: Sequence[MetricIn]) -> None:
    seen: set[str] = set()
    nan_refused = connection.vendor == "sqlite"
    for i, m in enumerate(metrics):
        if m.key not in seen:  # the name checks are per key; batches repeat few keys
            mlflow_validation()._validate_metric(
                m.key, m.value, m.timestamp, m.step, path=f"metrics[{i}]"
            )
            seen.add(m.key)
        if nan_refused and math.isnan(m.value):
            # SQLite has no NaN: it would store NULL. PostgreSQL keeps NaN as it is.
            raise ValidationError.for_field(
                f"metrics[{i}].value",
                f"Metric '{m.key}' is NaN, which this studio's SQLite database cannot store "
                "(PostgreSQL can).",
            )
        if len(m.model_id) > 64 or len(m.dataset_name) > 500 or len(m.dataset_digest) > 64:
            raise ValidationError.for_field(
                f"metrics[{i}]", "model_id, dataset_name or dataset_digest is too long."
            )
        if not -(2**63) <= m.step < 2**63 or not 0 <= m.timestamp < 2**63:
            raise ValidationError.for_field(f"metrics[{i}].step", "Out of the int64 range.")


def _job_for_logging(workspace: Workspace, run_id: uuid.UUID, *, lock: bool):
    """The one query that checks the run: in the workspace and active. With `lock`, the row
    is locked and loaded with its tags (to change them)."""
    qs = Job.objects.filter(pk=run_id, workspace=workspace)
    if lock:
        job = qs.select_for_update().only("lifecycle_stage", "tags", "display_name").first()
        stage = job.lifecycle_stage if job else None
    else:
        job = None
        stage = qs.values_list("lifecycle_stage", flat=True).first()
    if stage is None:
        raise NotFound(f"Run with id={run_id.hex} not found")
    _must_be_active(stage, run_id.hex)
    return job


def run_log(
    *,
    actor,
    workspace: Workspace,
    run_id: uuid.UUID,
    metrics: Sequence[MetricIn] = (),
    params: Sequence[tuple[str, str]] = (),
    tags: Sequence[tuple[str, str]] = (),
) -> None:
    """Log metrics, params and tags to a run in one transaction (MLflow's log-batch; also
    log-metric, log-parameter and set-tag). Hot path: a constant number of queries; metrics
    alone on PostgreSQL (every log-metric, most log-batches) are one statement."""
    _require(actor, workspace)
    if metrics:
        _validate_metrics(metrics)
    params = [
        mlflow_validation()._validate_param(k, v, path=f"params[{i}]")
        for i, (k, v) in enumerate(params)
    ]
    tags = [
        mlflow_validation()._validate_tag(k, v, path=f"tags[{i}]") for i, (k, v) in enumerate(tags)
    ]
    if (
        metrics
        and not params
        and not tags
        and connection.vendor == "postgresql"
        and not any(m.model_id for m in metrics)
    ):
        _write_metrics_checked(workspace, run_id, metrics)
        return
    with transaction.atomic():
        job = _job_for_logging(workspace, run_id, lock=bool(tags))
        if params:
            _log_params(run_id, [(p.key, p.value) for p in params])
        if tags:
            _set_tags(job, [(t.key, t.value) for t in tags])
        if metrics:
            _write_metrics(run_id, metrics, _link_to_models(run_id, metrics))


def _link_to_models(run_id: uuid.UUID, metrics: Sequence[MetricIn]) -> list[MetricIn]:
    """Points that carry a model_id and repeat a point the run already has (same key, value,
    step and time, no model) link that point to the model instead of adding a copy: the
    client re-sends a run's metrics that way when it logs a model (Model.log). Two queries,
    only for batches with model ids."""
    linked = [m for m in metrics if m.model_id]
    if not linked:
        return list(metrics)
    existing = MetricSample.objects.filter(
        job_id=run_id,
        model_id="",
        key__in={m.key for m in linked},
        step__in={m.step for m in linked},
    ).only("key", "value", "timestamp_ms", "step")
    index = {(s.key, s.value, s.timestamp_ms, s.step): s for s in existing}
    updates, rest = [], []
    for m in metrics:
        sample = index.pop((m.key, m.value, m.timestamp, m.step), None) if m.model_id else None
        if sample is None:
            rest.append(m)
        else:
            sample.model_id = m.model_id
            updates.append(sample)
    if updates:
        MetricSample.objects.bulk_update(updates, ["model_id"], batch_size=len(updates))
    return rest


def _log_params(run_id: uuid.UUID, params: list[tuple[str, str]]) -> None:
    """Insert new params; a key logged before must keep its value (MLflow's rule)."""
    wanted: dict[str, str] = {}
    for key, value in params:
        if wanted.setdefault(key, value) != value:
            raise ValidationError.for_field(
                "params", f"Duplicate parameter keys have been submitted: ['{key}']."
            )
    JobParam.objects.bulk_create(
        [JobParam(job_id=run_id, key=k, value=v) for k, v in wanted.items()],
        ignore_conflicts=True,
    )
    stored = JobParam.objects.filter(job_id=run_id, key__in=list(wanted)).values_list(
        "key", "value"
    )
    for key, value in stored:
        if value != wanted[key]:
            raise ValidationError.for_field(
                "params",
                f"Changing param values is not allowed. Param with key='{key}' was already "
                f"logged with value='{value}' for run ID='{run_id.hex}'. Attempted logging "
                f"new value '{wanted[key]}'.",
            )


def _set_tags(job: Job, tags: list[tuple[str, str]]) -> None:
    new = dict(job.tags)
    new.update(tags)
    fields = {"tags": new}
    if RUN_NAME_TAG in dict(tags):
        fields["display_name"] = new[RUN_NAME_TAG][:500]
    Job.objects.filter(pk=job.pk).update(**fields)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _cols(*names: str) -> str:
    return ", ".join(connection.ops.quote_name(n) for n in names)


def _array_text(values: Iterable, pg_type: str) -> str:
    """A column as PostgreSQL's array literal (`{1.5,nan}`, `{"a \\"b\\""}`), made with str
    operations: one string for the driver to quote, where a list would be adapted element by
    element in Python (most of a 1,000-point log-batch's time)."""
    if pg_type == "float8":
        items = map(repr, map(float, values))  # repr: exact, and nan/inf as PostgreSQL reads
    elif pg_type == "uuid":  # the job's id, the same on every row: made into text once
        items = map({v: str(v) for v in set(values)}.__getitem__, values)
    elif pg_type == "int8":
        items = map(str, values)
    else:
        items = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(items) + "}"


def _insert_all(statements: Sequence[tuple[str, Sequence[tuple[str, str]], list[tuple], str]]):
    """INSERTs of many rows each: (table, columns, rows, tail). PostgreSQL: one statement
    whatever the count (one round trip; the first ones as data-modifying WITH clauses), each
    `SELECT * FROM unnest(<one array literal per column>)`, a short statement whatever the
    row count. SQLite: executemany per table, one prepared statement, clear of its
    bound-variable limit."""
    statements = [st for st in statements if st[2]]
    if not statements:
        return
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            for table, columns, rows, tail in statements:
                names = _cols(*(name for name, _ in columns))
                marks = ", ".join(["%s"] * len(columns))
                sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) {tail}"
                cursor.executemany(sql, rows)
            return
        parts, params = _pg_inserts(statements)
        last = parts.pop()
        if parts:
            last = "WITH " + ", ".join(f"w{i} AS ({p})" for i, p in enumerate(parts)) + " " + last
        cursor.execute(last, params)


def _pg_inserts(statements, where: str = "", where_params: Sequence = ()):
    """The PostgreSQL INSERT ... SELECT * FROM unnest(...) of each statement (with an
    optional WHERE on the SELECT), and their parameters in order."""
    parts, params = [], []
    for table, columns, rows, tail in statements:
        names = _cols(*(name for name, _ in columns))
        arrays = ", ".join(f"%s::{pg_type}[]" for _, pg_type in columns)
        parts.append(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {where} {tail}")
        params += [
            _array_text(column, pg_type)
            for column, (_, pg_type) in zip(zip(*rows, strict=True), columns, strict=True)
        ]
        params += where_params
    return parts, params


SAMPLE_COLUMNS = (
    ("job_id", "uuid"),
    ("key", "text"),
    ("value", "float8"),
    ("timestamp_ms", "int8"),
    ("step", "int8"),
    ("model_id", "text"),
    ("dataset_name", "text"),
    ("dataset_digest", "text"),
)


def _write_metrics(run_id: uuid.UUID, metrics: Sequence[MetricIn], linked: Sequence[MetricIn]):
    """The samples (`linked`: those not folded into an existing point), each key's latest
    point and the rollups of `metrics`, in one statement on PostgreSQL."""
    _insert_all(
        [
            _samples_insert(run_id, linked),
            _latest_upsert(run_id, metrics),
            rollups.statement(run_id, ((m.key, m.step, m.timestamp, m.value) for m in metrics)),
        ]
    )


def _write_metrics_checked(workspace: Workspace, run_id: uuid.UUID, metrics: Sequence[MetricIn]):
    """PostgreSQL: check the run (in the workspace, active) and write the samples, latest
    points and rollups in one statement, so one round trip and no explicit transaction (a
    statement is atomic): the writes are guarded by the check, which the statement returns.
    The same answers as `_job_for_logging` when the check fails, and then nothing is
    written."""
    q = connection.ops.quote_name
    stage = q("lifecycle_stage")
    parts, params = _pg_inserts(
        [
            _samples_insert(run_id, metrics),
            _latest_upsert(run_id, metrics),
            rollups.statement(run_id, ((m.key, m.step, m.timestamp, m.value) for m in metrics)),
        ],
        where=f"WHERE EXISTS (SELECT 1 FROM run WHERE {stage} = %s)",
        where_params=[Experiment.Lifecycle.ACTIVE.value],
    )
    pk, ws = q(Job._meta.pk.column), q(Job._meta.get_field("workspace").column)
    check = f"SELECT {stage} FROM {_table(Job)} WHERE {pk} = %s AND {ws} = %s"
    writes = ", ".join(f"w{i} AS ({p})" for i, p in enumerate(parts))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH run AS ({check}), {writes} SELECT {stage} FROM run",
            [Job._meta.pk.get_db_prep_value(run_id, connection), workspace.pk, *params],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Run with id={run_id.hex} not found")
    _must_be_active(row[0], run_id.hex)


def _samples_insert(run_id: uuid.UUID, metrics: Sequence[MetricIn]):
    job = Job._meta.pk.get_db_prep_value(run_id, connection)
    rows = [
        (job, m.key, m.value, m.timestamp, m.step, m.model_id, m.dataset_name, m.dataset_digest)
        for m in metrics
    ]
    return _table(MetricSample), SAMPLE_COLUMNS, rows, ""


def _latest_upsert(run_id: uuid.UUID, metrics: Sequence[MetricIn]):
    """Keep each key's latest point: the highest (step, timestamp), the later one on a tie.
    Reduced per key here, then compared with the stored one in SQL (ON CONFLICT ... WHERE)."""
    latest: dict[str, MetricIn] = {}
    for m in metrics:
        held = latest.get(m.key)
        if held is None or (m.step, m.timestamp) >= (held.step, held.timestamp):
            latest[m.key] = m
    job = Job._meta.pk.get_db_prep_value(run_id, connection)
    rows = [(job, m.key, m.value, m.timestamp, m.step) for m in latest.values()]
    table, q = _table(LatestMetric), connection.ops.quote_name
    step, ts = q("step"), q("timestamp_ms")
    tail = (
        f"ON CONFLICT ({_cols('job_id', 'key')}) DO UPDATE SET {q('value')} = excluded.{q('value')}, "
        f"{ts} = excluded.{ts}, {step} = excluded.{step} "
        f"WHERE excluded.{step} > {table}.{step} "
        f"OR (excluded.{step} = {table}.{step} AND excluded.{ts} >= {table}.{ts})"
    )
    return table, SAMPLE_COLUMNS[:5], rows, tail


@transaction.atomic
def run_delete_tag(*, actor, job: Job, key: str) -> None:
    _require(actor, job.workspace)
    mlflow_validation()._validate_tag_name(key)
    locked = _job_for_logging(job.workspace, job.pk, lock=True)
    if key not in locked.tags:
        raise NotFound(f"No tag with name: {key} in run with id {job.run_id}")
    Job.objects.filter(pk=job.pk).update(tags={k: v for k, v in locked.tags.items() if k != key})


@dataclass(frozen=True)
class DatasetIn:
    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str = ""
    profile: str = ""
    tags: tuple[tuple[str, str], ...] = ()


def _require_logged_models(workspace: Workspace, ids: Sequence[str]) -> None:
    """NotFound naming the first of `ids` that is no logged model of the workspace (one
    query for all of them)."""
    found = set(
        LoggedModel.objects.filter(model_id__in=ids, experiment__workspace=workspace).values_list(
            "model_id", flat=True
        )
    )
    for model_id in ids:
        if model_id not in found:
            raise NotFound(f"Logged model with ID '{model_id}' not found.")


@transaction.atomic
def run_log_inputs(
    *, actor, job: Job, datasets: Sequence[DatasetIn], models: Sequence[str] = ()
) -> None:
    """Record the datasets and logged models a run used (MLflow's log-inputs); one row per
    dataset (name, digest), its tags (e.g. mlflow.data.context=train) merged when logged
    again, and one per model. A model id unknown to the workspace is 404 and records
    nothing."""
    _require(actor, job.workspace)
    _job_for_logging(job.workspace, job.pk, lock=False)
    ids = list(dict.fromkeys(models))
    _require_logged_models(job.workspace, ids)
    for model_id in ids:
        JobModelInput.objects.get_or_create(job=job, logged_model_id=model_id)
    for i, ds in enumerate(datasets):
        if not ds.name or not ds.digest:
            raise ValidationError.for_field(f"datasets[{i}].dataset", "Needs a name and digest.")
        if len(ds.name) > 500 or len(ds.digest) > 64 or len(ds.source_type) > 100:
            raise ValidationError.for_field(f"datasets[{i}].dataset", "A field is too long.")
        row, created = DatasetInput.objects.get_or_create(
            job=job,
            name=ds.name,
            digest=ds.digest,
            defaults={
                "source_type": ds.source_type,
                "source": ds.source,
                "schema": ds.schema,
                "profile": ds.profile,
                "tags": dict(ds.tags),
            },
        )
        if not created and ds.tags:
            row.tags = {**row.tags, **dict(ds.tags)}
            row.save(update_fields=["tags"])


@transaction.atomic
def run_log_outputs(*, actor, job: Job, models: Sequence[tuple[str, int]]) -> None:
    """Declare logged models as the run's outputs (MLflow's runs/outputs), with their step."""
    _require(actor, job.workspace)
    _job_for_logging(job.workspace, job.pk, lock=False)
    _require_logged_models(job.workspace, [model_id for model_id, _ in models])
    for model_id, step in models:
        JobModelOutput.objects.update_or_create(
            job=job, logged_model_id=model_id, defaults={"step": step}
        )
