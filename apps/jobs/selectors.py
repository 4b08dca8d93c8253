"""Reads of the jobs app: experiments, runs (jobs) with their logged data, metric histories
and logged models, scoped to a workspace the actor may view.

Runs' data is fetched per page (params, latest metrics, inputs, outputs: one query each, in
chunks of ids), never as a join of metrics x params x tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db.models import Count, Prefetch, Q, Sum, prefetch_related_objects

from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from studio.errors import NotFound, ValidationError

from .models import (
    DatasetInput,
    Experiment,
    Job,
    JobModelInput,
    JobModelOutput,
    JobParam,
    LatestMetric,
    LoggedModel,
    MetricRollup,
    MetricSample,
)
from .services.tracking import DEFAULT_EXPERIMENT, experiment_default, parse_run_id

MAX_SEARCH_RESULTS = 50_000  # MLflow's SEARCH_MAX_RESULTS_THRESHOLD
MAX_HISTORY_RESULTS = 25_000  # points per page of metric history when none is asked
CHUNK = 500  # ids per IN (...) when fetching a page's related rows


def _view(actor, workspace: Workspace) -> None:
    permissions.require(actor, Action.JOB_VIEW, workspace)


# Experiments -------------------------------------------------------------------------------


def experiment_get(*, actor, workspace: Workspace, experiment_id: str | int) -> Experiment:
    """An experiment by MLflow id; "0" is the workspace's Default experiment."""
    _view(actor, workspace)
    text = str(experiment_id).strip()
    if text == "0":
        return experiment_default(workspace=workspace)
    if not text.isdigit():
        raise ValidationError.for_field("experiment_id", f"Invalid experiment ID: '{text}'.")
    experiment = Experiment.objects.filter(workspace=workspace, pk=int(text)).first()
    if experiment is None:
        raise NotFound(f"No Experiment with id={text} exists")
    experiment.workspace = workspace
    return experiment


def experiment_get_by_name(*, actor, workspace: Workspace, name: str) -> Experiment:
    _view(actor, workspace)
    if name == DEFAULT_EXPERIMENT:
        return experiment_default(workspace=workspace)
    experiment = Experiment.objects.filter(workspace=workspace, name=name).first()
    if experiment is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    experiment.workspace = workspace
    return experiment


def _search():
    """The MLflow search grammar's translation, imported on first use (it imports mlflow,
    which takes seconds)."""
    from .mlflow import search

    return search


def _offset(page_token: str | None) -> int:
    from mlflow.utils.search_utils import SearchUtils

    return SearchUtils.parse_start_offset_from_page_token(page_token or None)


def _page(qs, page_token: str | None, max_results: int) -> tuple[list, str | None]:
    """Offset pagination with MLflow's page tokens ({"offset": n}, base64)."""
    start = _offset(page_token)
    rows = list(qs[start : start + max_results + 1])
    token = None
    if len(rows) > max_results:
        rows = rows[:max_results]
        token = _search().SearchUtils.create_page_token(start + max_results).decode()
    return rows, token


def _max_results(value: int | None, default: int) -> int:
    if value is None or value == 0:
        return default
    if not 0 < value <= MAX_SEARCH_RESULTS:
        raise ValidationError.for_field(
            "max_results", f"Must be between 1 and {MAX_SEARCH_RESULTS}, got {value}."
        )
    return value


def experiment_search(
    *,
    actor,
    workspace: Workspace,
    view_type: str = "ACTIVE_ONLY",
    filter_string: str = "",
    order_by: Sequence[str] = (),
    max_results: int | None = None,
    page_token: str | None = None,
) -> tuple[list[Experiment], str | None]:
    _view(actor, workspace)
    experiment_default(workspace=workspace)  # MLflow always lists its Default experiment
    qs = _search().lifecycle(Experiment.objects.filter(workspace=workspace), view_type)
    qs = _search().experiments_filter(qs, filter_string)
    qs = _search().experiments_order(qs, order_by)
    return _page(qs, page_token, _max_results(max_results, 1000))


# Runs ------------------------------------------------------------------------------------------


def run_get(*, actor, workspace: Workspace, run_id: str, with_data: bool = True) -> Job:
    """A run (job) of the workspace by MLflow run id, with its data when asked."""
    _view(actor, workspace)
    qs = Job.objects.filter(workspace=workspace, pk=parse_run_id(run_id)).select_related(
        "created_by"
    )
    job = qs.first()
    if job is None:
        raise NotFound(f"Run with id={run_id} not found")
    job.workspace = workspace
    if with_data:
        runs_with_data([job])
    return job


def runs_with_data(jobs: list[Job]) -> list[Job]:
    """Attach params, latest metrics, dataset and model inputs and model outputs to the jobs, one
    query per kind per CHUNK jobs (as prefetch_related, without one huge IN list)."""
    lookups = (
        Prefetch("params", queryset=JobParam.objects.order_by("key")),
        Prefetch("latest_metrics", queryset=LatestMetric.objects.order_by("key")),
        Prefetch("dataset_inputs", queryset=DatasetInput.objects.order_by("id")),
        Prefetch("model_inputs", queryset=JobModelInput.objects.order_by("id")),
        Prefetch("model_outputs", queryset=JobModelOutput.objects.order_by("id")),
    )
    for start in range(0, len(jobs), CHUNK):
        prefetch_related_objects(jobs[start : start + CHUNK], *lookups)
    return jobs


def run_search(
    *,
    actor,
    workspace: Workspace,
    experiment_ids: Sequence[str],
    filter_string: str = "",
    order_by: Sequence[str] = (),
    view_type: str = "ACTIVE_ONLY",
    max_results: int | None = None,
    page_token: str | None = None,
) -> tuple[list[Job], str | None]:
    """MLflow's runs/search: filter and order in SQL (params, tags, latest metrics and
    attributes each as their own subquery), then one page with its data."""
    _view(actor, workspace)
    experiments = [
        experiment_get(actor=actor, workspace=workspace, experiment_id=e).pk
        if str(e) == "0"
        else _experiment_pk(e)
        for e in experiment_ids
    ]
    qs = Job.objects.filter(workspace=workspace, experiment_id__in=experiments).select_related(
        "created_by"
    )
    qs = _search().lifecycle(qs, view_type)
    qs = _search().runs_filter(qs, filter_string)
    qs = _search().runs_order(qs, order_by)
    jobs, token = _page(qs, page_token, _max_results(max_results, 1000))
    return runs_with_data(jobs), token


def _experiment_pk(value) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise ValidationError.for_field("experiment_ids", f"Invalid experiment ID: '{text}'.")
    return int(text)


def metric_history(
    *,
    actor,
    workspace: Workspace,
    job: Job,
    key: str,
    max_results: int | None = None,
    page_token: str | None = None,
) -> tuple[list[MetricSample], str | None]:
    """A metric's points in step order (then time); read through the (job, key, step) index."""
    _view(actor, workspace)
    qs = MetricSample.objects.filter(job=job, key=key).order_by("step", "timestamp_ms", "id")
    if not max_results and not page_token:
        return list(qs), None
    return _page(qs, page_token, _max_results(max_results, MAX_HISTORY_RESULTS))


def _evenly_spaced(total: int, count: int) -> list[int]:
    """At most `count` indices into `total` items, evenly spaced, first and last included
    (as MLflow's store samples)."""
    if total <= count:
        return list(range(total))
    if count == 1:
        return [total - 1]
    gap = (total - 1) / (count - 1)
    return sorted({round(i * gap) for i in range(count)})


def metric_history_sampled(
    *,
    actor,
    workspace: Workspace,
    run_ids: Sequence[str],
    key: str,
    max_results: int,
    start_step: int | None,
    end_step: int | None,
) -> list[MetricSample]:
    """get-history-bulk-interval: for each run, the points at up to `max_results` steps
    evenly spread over the steps it logged (within [start_step, end_step])."""
    _view(actor, workspace)
    ids = [parse_run_id(r) for r in run_ids]
    found = set(Job.objects.filter(workspace=workspace, pk__in=ids).values_list("pk", flat=True))
    out: list[MetricSample] = []
    for run_id in ids:
        if run_id not in found:
            raise NotFound(f"Run with id={run_id.hex} not found")
        samples = MetricSample.objects.filter(job_id=run_id, key=key)
        if start_step is not None:
            samples = samples.filter(step__gte=start_step, step__lte=end_step)
        steps = list(samples.order_by("step").values_list("step", flat=True).distinct())
        chosen = [steps[i] for i in _evenly_spaced(len(steps), max_results)]
        out += samples.filter(step__in=chosen).order_by("step", "timestamp_ms")[:max_results]
    return out


# Logged models ----------------------------------------------------------------------------


def logged_model_get(*, actor, workspace: Workspace, model_id: str) -> LoggedModel:
    _view(actor, workspace)
    model = (
        LoggedModel.objects.filter(experiment__workspace=workspace, model_id=model_id)
        .select_related("experiment")
        .first()
    )
    if model is None:
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    model.experiment.workspace = workspace
    return model


def logged_model_metrics(models: Sequence[LoggedModel]) -> dict[str, list[MetricSample]]:
    """Each model's metrics: the latest point per key of the samples logged with its id."""
    by_model: dict[str, dict[str, MetricSample]] = {m.model_id: {} for m in models}
    jobs = {m.source_job_id for m in models if m.source_job_id}
    if not jobs:
        return {k: [] for k in by_model}
    samples = MetricSample.objects.filter(job_id__in=jobs, model_id__in=list(by_model)).order_by(
        "step", "timestamp_ms", "id"
    )
    for sample in samples:
        by_model[sample.model_id][sample.key] = sample
    return {k: sorted(v.values(), key=lambda s: s.key) for k, v in by_model.items()}


def logged_model_search(
    *,
    actor,
    workspace: Workspace,
    experiment_ids: Sequence[str],
    filter_string: str = "",
    order_by: Sequence[dict] = (),
    max_results: int | None = None,
    page_token: str | None = None,
    source_job_id: uuid.UUID | None = None,
) -> tuple[list[LoggedModel], str | None]:
    """MLflow's logged-models/search (optionally only one run's models, for run tokens)."""
    _view(actor, workspace)
    experiments = [
        experiment_get(actor=actor, workspace=workspace, experiment_id=e).pk
        if str(e) == "0"
        else _experiment_pk(e)
        for e in experiment_ids
    ]
    qs = LoggedModel.objects.filter(
        experiment__workspace=workspace, experiment_id__in=experiments
    ).select_related("experiment")
    if source_job_id is not None:
        qs = qs.filter(source_job_id=source_job_id)
    qs = _search().logged_models_filter(qs, filter_string)
    qs = _search().logged_models_order(qs, order_by)
    return _page(qs, page_token, _max_results(max_results, 100))


# Job results: the job pages, the jobs API, experiments' tables ---------------------------------

LOG_PAGE = 1000  # log lines per fragment or API page
TABLE_PAGE = 50  # runs per page of an experiment's table
KEYS_SAMPLE = 1000  # newest runs whose metric and param names offer the table's columns


def job_list(
    *,
    actor,
    workspace: Workspace,
    experiment: str = "",
    status: str = "",
    search: str = "",
    job_type: str = "",
    archived: bool = False,
    include_steps: bool = False,
):
    """The workspace's jobs, newest first: top-level ones (as Azure's Jobs list), and pipeline
    steps too when asked. `status` may be a comma list; `search` matches the name, display name
    or experiment name; `job_type` is one of Job.Type (`pipeline` for the Pipelines page)."""

    _view(actor, workspace)
    if job_type and job_type not in Job.Type.values:
        raise ValidationError.for_field(
            "type", f"Give one of {', '.join(Job.Type.values)}, not '{job_type}'."
        )
    qs = Job.objects.filter(workspace=workspace, archived=archived).select_related(
        "experiment", "compute", "created_by"
    )
    if not include_steps:
        qs = qs.filter(parent__isnull=True)
    if experiment:
        qs = qs.filter(experiment__name=experiment)
    if job_type:
        qs = qs.filter(type=job_type)
    if status:
        qs = qs.filter(status__in=[s.strip() for s in status.split(",") if s.strip()])
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(display_name__icontains=search)
            | Q(experiment__name__icontains=search)
        )
    return qs


JOB_SORTS = ("created", "name", "status", "experiment", "duration")  # a job list's order_by


def job_list_order(order_by: str) -> str:
    """A job list's `order_by` (`created`, `-created`, `name`, `status`, `experiment`,
    `duration`, a leading '-' for descending; empty is `-created`), or a 400 naming it."""
    order_by = (order_by or "").strip() or "-created"
    if order_by.lstrip("-") not in JOB_SORTS or order_by.startswith("--"):
        choices = ", ".join(JOB_SORTS)
        raise ValidationError.for_field(
            "order_by",
            f"Order by one of {choices} (a leading '-' for descending), not '{order_by}'.",
        )
    return order_by


def job_list_page(
    *,
    actor,
    workspace: Workspace,
    status: str = "",
    search: str = "",
    job_type: str = "",
    experiment: str = "",
    archived: bool = False,
    include_steps: bool = False,
    order_by: str = "-created",
    cursor: str = "",
    size: int = TABLE_PAGE,
    with_step_count: bool = False,
) -> tuple[list[Job], str | None]:
    """One page of `job_list` in `order_by` (newest first by default; see `job_list_order`),
    and the cursor of the next page (None at the end). The cursor carries the sort and the
    last row's (sort value, id), so rows with equal values are neither skipped nor repeated,
    and a cursor of another sort is refused. One query, whatever the page: `with_step_count`
    adds `.step_count` (the pipeline's child jobs) as a subquery, not a query per row."""
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    order_by = job_list_order(order_by)
    qs = job_list(
        actor=actor,
        workspace=workspace,
        status=status,
        search=search,
        job_type=job_type,
        experiment=experiment,
        archived=archived,
        include_steps=include_steps,
    ).select_related("parent")
    if with_step_count:
        children = (
            Job.objects.filter(parent=OuterRef("pk"))
            .order_by()
            .values("parent")
            .annotate(n=Count("pk"))
            .values("n")
        )
        qs = qs.annotate(step_count=Coalesce(Subquery(children), 0))
    return _keyset_page(qs, sort=order_by, cursor=cursor, size=size)


def job_get(*, actor, workspace: Workspace, name: str) -> Job:
    """A job of the workspace by its name (its run id, 32 hex digits, also finds it)."""
    _view(actor, workspace)
    qs = Job.objects.filter(workspace=workspace).select_related(
        "experiment", "compute", "created_by", "code", "parent"
    )
    job = qs.filter(name=name).first()
    if job is None and len(name) == 32:
        try:
            job = qs.filter(pk=uuid.UUID(hex=name)).first()
        except ValueError:
            job = None
    if job is None:
        raise NotFound(f"Job '{name}' not found.")
    job.workspace = workspace
    return job


def job_timeline(*, job: Job) -> list:
    """The job's status changes in order, each with `spent`: the seconds it stayed in that
    status (until the next change; until now, with `ongoing`, for the status it is in while
    it has not ended; None for the final status of a job that ended)."""
    from django.utils import timezone

    from .models import JobStatusChange

    changes = list(JobStatusChange.objects.filter(job=job).order_by("at", "id"))
    for change, following in zip(changes, [*changes[1:], None][: len(changes)], strict=True):
        change.ongoing = False
        if following is not None:
            change.spent = (following.at - change.at).total_seconds()
        elif change.status in Job.TERMINAL:
            change.spent = None
        else:
            change.spent, change.ongoing = (timezone.now() - change.at).total_seconds(), True
    return changes


def job_log_after(*, job: Job, after: int, limit: int = LOG_PAGE) -> tuple[list, int, bool]:
    """The log lines after seq `after` (at most `limit`), the new cursor, and whether there
    is nothing more to wait for (the job ended and every line was read).

    Only an unbroken run of seqs is handed out: if a line is not committed yet while a later
    one is, reading stops before the gap, so a tail never skips a line and never shows one
    twice. A job that ended has all its lines, so gaps there are real and skipped."""
    from .models import LogLine

    after = max(int(after), 0)
    limit = max(1, min(int(limit), LOG_PAGE * 10))
    terminal = job.is_terminal  # read before the lines: a line that lands after still shows
    rows = list(LogLine.objects.filter(job=job, seq__gt=after).order_by("seq")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if not terminal:
        expected, kept = after + 1, []
        for row in rows:
            if row.seq != expected:
                more = False
                break
            kept.append(row)
            expected += 1
        rows = kept
    cursor = rows[-1].seq if rows else after
    return rows, cursor, terminal and not more


def job_log_iter(*, job: Job, chunk: int = 5000):
    """Every log line in order, read `chunk` at a time (for std_log.txt)."""
    from .models import LogLine

    after = 0
    while True:
        rows = list(
            LogLine.objects.filter(job=job, seq__gt=after)
            .order_by("seq")
            .values_list("seq", "text")[:chunk]
        )
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def job_metric_keys(*, job: Job) -> list[LatestMetric]:
    return list(LatestMetric.objects.filter(job=job).order_by("key"))


def job_metrics_split(*, job: Job) -> tuple[list[LatestMetric], list[LatestMetric]]:
    """The job's metrics as (series, values): a metric logged once (a test accuracy, a
    final score) is a value for the Metrics tab's table, not a one-dot chart; one logged
    more than once is a series for a chart. Counts come from the rollups (a row per 1,000
    steps), with the samples counted only for a key that has none. Two or three queries.
    The runner's system/* metrics are always series."""
    latest = job_metric_keys(job=job)
    counts = dict(
        MetricRollup.objects.filter(job=job)
        .order_by()
        .values("key")
        .annotate(total=Sum("n"))
        .values_list("key", "total")
    )
    missing = [m.key for m in latest if m.key not in counts]
    if missing:
        counts.update(
            MetricSample.objects.filter(job=job, key__in=missing)
            .order_by()
            .values("key")
            .annotate(total=Count("id"))
            .values_list("key", "total")
        )
    # The runner's system/* samples are a time series from their first point on.
    series = [m for m in latest if counts.get(m.key, 0) > 1 or m.key.startswith("system/")]
    chosen = {m.key for m in series}
    return series, [m for m in latest if m.key not in chosen]


def job_metric_series(*, job: Job, key: str, max_points: int | None = None):
    """A metric's history down-sampled on the server (see downsample.py): (points, total)."""
    from . import downsample

    max_points = max_points or downsample.DEFAULT_MAX_POINTS
    rolled = downsample.series_from_rollups(job.pk, key, max_points)
    if rolled is not None:
        return rolled
    qs = MetricSample.objects.filter(job=job, key=key)
    return downsample.series(qs, max_points)


def job_params(*, job: Job) -> list[JobParam]:
    return list(JobParam.objects.filter(job=job).order_by("key"))


def job_outputs(*, job: Job) -> list[dict]:
    """The named outputs of the job's spec with where they are written (a data URI or a
    folder of artifacts), as the job page and `studio job download` list them."""
    outputs = (job.spec or {}).get("outputs") or {}
    rows = []
    for name, out in sorted(outputs.items()):
        out = out if isinstance(out, dict) else {"path": str(out)}
        rows.append(
            {
                "name": name,
                "type": out.get("type", "uri_folder"),
                "mode": out.get("mode", ""),
                "path": out.get("path") or out.get("uri") or "",
                "asset": out.get("asset") or out.get("name") or "",
            }
        )
    return rows


def job_inputs(*, job: Job) -> list[dict]:
    inputs = (job.spec or {}).get("inputs") or {}
    rows = []
    for name, value in sorted(inputs.items()):
        if isinstance(value, dict):
            rows.append(
                {
                    "name": name,
                    "type": value.get("type", ""),
                    "value": value.get("path") or value.get("uri") or value.get("value", ""),
                    "asset": value.get("asset") or value.get("ref") or "",
                }
            )
        else:
            rows.append({"name": name, "type": "literal", "value": value, "asset": ""})
    return rows


def job_mlflow_lineage(*, job: Job) -> dict:
    """What the run told MLflow it used and made: datasets (`log_input`, autolog) with their
    context tag, and logged models, each marked used (log-inputs) or logged (by this run)."""
    datasets = [
        {
            "name": d.name,
            "digest": d.digest,
            "context": d.tags.get("mlflow.data.context", ""),
            "source_type": d.source_type,
        }
        for d in job.dataset_inputs.order_by("id")
    ]
    used = set(job.model_inputs.values_list("logged_model_id", flat=True))
    made = LoggedModel.objects.filter(source_job=job).values_list("model_id", flat=True)
    rows = LoggedModel.objects.filter(
        Q(model_id__in=used) | Q(model_id__in=made), experiment__workspace=job.workspace
    ).select_related("source_job")
    models = [
        {
            "model": m,
            "used": m.model_id in used,
            "logged": m.source_job_id == job.pk,
        }
        for m in sorted(rows, key=lambda m: (m.model_id not in used, m.created_ms))
    ]
    return {"datasets": datasets, "models": models}


def job_artifacts_root(job: Job) -> str:
    """Where the job's files live in the artifact datastore (outputs/, user_logs/, ...)."""
    return f"{job.experiment_id}/{job.run_id}/artifacts"


def job_artifact_list(*, job: Job, path: str = "") -> list:
    from . import artifacts

    rel = artifacts.clean(path)
    root = job_artifacts_root(job)
    try:
        return artifacts.list(job.workspace, f"{root}/{rel}" if rel else root)
    except NotFound:
        return []


def job_artifact_walk(*, job: Job, path: str = "", limit: int = 10_000) -> list[tuple[str, int]]:
    """Every file under `path` of the job's artifacts as (relative path, size)."""
    from . import artifacts

    out: list[tuple[str, int]] = []
    todo = [artifacts.clean(path)]
    while todo and len(out) < limit:
        folder = todo.pop()
        for entry in job_artifact_list(job=job, path=folder):
            rel = f"{folder}/{entry.path}" if folder else entry.path
            if entry.is_dir:
                todo.append(rel)
            else:
                out.append((rel, entry.size or 0))
    return sorted(out)


def _job_file(job: Job, path: str) -> tuple[str, str]:
    """(the path cleaned, where that file of the job is in the artifact datastore)."""
    from . import artifacts

    rel = artifacts.clean(path)
    if not rel:
        raise ValidationError.for_field("path", "Give a file path.")
    return rel, f"{job_artifacts_root(job)}/{rel}"


def job_artifact_open(*, job: Job, path: str):
    from . import artifacts

    return artifacts.open(job.workspace, _job_file(job, path)[1])


def job_artifact_check(*, job: Job, path: str) -> None:
    """That the job has the file `path` (a stat, no read): NotFound otherwise."""
    from . import artifacts

    rel, where = _job_file(job, path)
    if not artifacts.is_file(job.workspace, where):
        raise NotFound(f"No file '{rel}' in the job's outputs.")


# Experiments' tables -------------------------------------------------------------------


EXPERIMENT_ORDER = {
    "name": "name",
    "runs": "run_count",
    "last": "last_run",
    "created": "created_at",
}


def experiment_list_order(sort: str) -> str:
    """An experiment list's sort: name, runs, last or created, a leading '-' for
    descending; anything else is the default, `-last` (latest run first)."""
    return sort if (sort or "").lstrip("-") in EXPERIMENT_ORDER else "-last"


def experiment_list(*, actor, workspace: Workspace, search: str = "", sort: str = "-last"):
    """The workspace's active experiments with their number of runs and latest run time, in
    `experiment_list_order(sort)` (experiments without runs last either way)."""
    from django.db.models import Count, F
    from django.db.models import Max as MaxOf

    _view(actor, workspace)
    qs = Experiment.objects.filter(workspace=workspace, lifecycle_stage="active")
    if search:
        qs = qs.filter(name__icontains=search)
    sort = experiment_list_order(sort)
    field = F(EXPERIMENT_ORDER[sort.lstrip("-")])
    order = field.desc(nulls_last=True) if sort.startswith("-") else field.asc(nulls_last=True)
    return qs.annotate(run_count=Count("jobs"), last_run=MaxOf("jobs__created_at")).order_by(
        order, "name"
    )


def experiment_get_named(*, actor, workspace: Workspace, name: str) -> Experiment:
    _view(actor, workspace)
    experiment = Experiment.objects.filter(workspace=workspace, name=name).first()
    if experiment is None:
        raise NotFound(f"Experiment '{name}' not found.")
    experiment.workspace = workspace
    return experiment


def experiment_keys(*, experiment: Experiment) -> tuple[list[str], list[str]]:
    """The metric and param names of the experiment's newest KEYS_SAMPLE runs: the columns
    the table offers (one bounded query each, whatever the number of runs)."""
    newest = Job.objects.filter(experiment=experiment).order_by("-created_at").values("pk")
    newest = newest[:KEYS_SAMPLE]
    metrics = (
        LatestMetric.objects.filter(job_id__in=newest)
        .values_list("key", flat=True)
        .distinct()
        .order_by("key")
    )
    params = (
        JobParam.objects.filter(job_id__in=newest)
        .values_list("key", flat=True)
        .distinct()
        .order_by("key")
    )
    return list(metrics[:200]), list(params[:200])


def run_table(
    *,
    actor,
    workspace: Workspace,
    experiment: Experiment,
    metrics: Sequence[str] = (),
    params: Sequence[str] = (),
    filter_string: str = "",
    sort: str = "-created",
    cursor: str = "",
    page_size: int = TABLE_PAGE,
    status: str = "",
):
    """One page of an experiment's runs table: `(rows, next_cursor)`, each row a job with
    `.metric_values` and `.param_values` for the chosen columns.

    Sorts by created, name, status, duration, `metrics.<key>` or `params.<key>` (a leading
    '-' for descending), with runs lacking the value last, then by id; pages by keyset
    (the cursor carries the last row's sort value and id), so page 2,000 costs what page 1
    does. A constant number of queries: the page, the chosen metrics and the chosen params."""
    _view(actor, workspace)
    qs = Job.objects.filter(experiment=experiment, archived=False).select_related(
        "created_by", "compute", "experiment", "parent"
    )
    if status:
        qs = qs.filter(status__in=[s for s in status.split(",") if s])
    if filter_string.strip():
        from mlflow.exceptions import MlflowException

        try:
            qs = _search().runs_filter(qs, filter_string)
        except MlflowException as exc:  # the grammar's own refusal: a bad filter, a 400
            raise ValidationError.for_field("filter", exc.message) from None
    rows, next_cursor = _keyset_page(qs, sort=sort, cursor=cursor, size=page_size)
    _attach_columns(rows, metrics=metrics, params=params)
    return rows, next_cursor


NOT_NULL_SORTS = ("created", "name", "status", "experiment")  # columns that are never NULL


def _sort_expression(field: str):
    from django.db.models import ExpressionWrapper, F, OuterRef, Subquery
    from django.db.models import FloatField as Float

    if field.startswith("metrics."):
        rows = LatestMetric.objects.filter(job=OuterRef("pk"), key=field[8:])
        return Subquery(rows.values("value")[:1], output_field=Float())
    if field.startswith("params."):
        return Subquery(
            JobParam.objects.filter(job=OuterRef("pk"), key=field[7:]).values("value")[:1]
        )
    if field == "duration":
        return ExpressionWrapper(F("end_time_ms") - F("start_time_ms"), output_field=Float())
    columns = {
        "created": "created_at",
        "name": "display_name",
        "status": "status",
        "experiment": "experiment__name",
    }
    if field not in columns:
        raise ValidationError.for_field(
            "sort",
            f"Sort by created, name, status, duration, metrics.<key> or params.<key>, "
            f"not '{field}'.",
        )
    return F(columns[field])


def _encode_cursor(value, pk, sort: str) -> str:
    import base64
    import json
    from datetime import datetime

    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    raw = json.dumps([value, str(pk), sort]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str):
    """The cursor's (value, id); a cursor made for another sort is refused (its value would
    be compared with another column)."""
    import base64
    import json
    from datetime import datetime

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk, made_for = json.loads(raw)
        if made_for != sort:
            raise ValidationError.for_field(
                "cursor", f"This cursor pages the order '{made_for}', not '{sort}'."
            )
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["dt"])
        return value, uuid.UUID(pk)
    except (ValueError, TypeError, KeyError):
        raise ValidationError.for_field("cursor", "Invalid cursor.") from None


def _keyset_page(qs, *, sort: str, cursor: str, size: int):
    """Order by the sort value, then id, both in the sort's direction (so an index on
    (workspace, column, id) reads the page in order either way); missing values (a duration
    of a job that has not ended) come last either way. Start after the cursor's (value, id)."""
    from django.db.models import F, Q

    descending = sort.startswith("-")
    field = sort.lstrip("-") or "created"
    size = max(1, min(int(size), 500))
    if field.startswith(("metrics.", "params.")):
        return _joined_keyset_page(
            qs, field=field, descending=descending, cursor=cursor, size=size, sort=sort
        )
    nullable = field not in NOT_NULL_SORTS
    qs = qs.alias(_sort=_sort_expression(field))
    value = F("_sort")
    if descending:
        qs = qs.order_by(value.desc(nulls_last=True) if nullable else value.desc(), "-pk")
    else:
        qs = qs.order_by(value.asc(nulls_last=True) if nullable else value.asc(), "pk")
    if cursor:
        last, pk = _decode_cursor(cursor, sort)
        after_pk = Q(pk__lt=pk) if descending else Q(pk__gt=pk)
        if last is None:
            qs = qs.filter(Q(_sort__isnull=True) & after_pk)
        else:
            beyond = Q(_sort__lt=last) if descending else Q(_sort__gt=last)
            beyond |= Q(_sort=last) & after_pk
            if nullable:
                beyond |= Q(_sort__isnull=True)
            qs = qs.filter(beyond)
    rows = list(qs.annotate(_sort_value=F("_sort"))[: size + 1])
    return _page_and_cursor(rows, size, sort)


def _page_and_cursor(rows: list, size: int, sort: str):
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = _encode_cursor(rows[-1]._sort_value, rows[-1].pk, sort)
    return rows, next_cursor


def _joined_keyset_page(qs, *, field: str, descending: bool, cursor: str, size: int, sort: str):
    """Sort by a metric or a param as a join on its (key, value) index, not a subquery per
    run: at 100,000 runs the database walks the index in order and stops after a page.
    Runs without the value come after, by id (one more query, on the page where the runs
    with the value end)."""
    from django.db.models import F, Q

    is_metric = field.startswith("metrics.")
    key = field.split(".", 1)[1]
    rel, model = ("latest_metrics", LatestMetric) if is_metric else ("params", JobParam)
    last, last_pk = _decode_cursor(cursor, sort) if cursor else ("", None)
    rows: list = []
    if not cursor or last is not None:  # still among the runs that have the value
        have = qs.filter(**{f"{rel}__key": key}).annotate(_sort_value=F(f"{rel}__value"))
        order = F("_sort_value").desc() if descending else F("_sort_value").asc()
        have = have.order_by(order, "pk")
        if cursor:
            beyond = Q(_sort_value__lt=last) if descending else Q(_sort_value__gt=last)
            have = have.filter(beyond | Q(_sort_value=last, pk__gt=last_pk))
        rows = list(have[: size + 1])
    if len(rows) <= size:  # the runs without the value, by id
        missing = qs.exclude(pk__in=model.objects.filter(key=key).values("job_id"))
        if cursor and last is None:
            missing = missing.filter(pk__gt=last_pk)
        more = list(missing.order_by("pk")[: size + 1 - len(rows)])
        for row in more:
            row._sort_value = None
        rows += more
    return _page_and_cursor(rows, size, sort)


def _attach_columns(rows: list[Job], *, metrics: Sequence[str], params: Sequence[str]) -> None:
    """`.metric_values` and `.param_values` of the page's runs: one query each."""
    ids = [r.pk for r in rows]
    by_job_m: dict = {pk: {} for pk in ids}
    by_job_p: dict = {pk: {} for pk in ids}
    if ids and metrics:
        for m in LatestMetric.objects.filter(job_id__in=ids, key__in=list(metrics)):
            by_job_m[m.job_id][m.key] = m.value
    if ids and params:
        for p in JobParam.objects.filter(job_id__in=ids, key__in=list(params)):
            by_job_p[p.job_id][p.key] = p.value
    for r in rows:
        r.metric_values = [by_job_m[r.pk].get(k) for k in metrics]
        r.param_values = [by_job_p[r.pk].get(k) for k in params]
