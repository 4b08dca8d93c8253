"""Reads of the jobs app: experiments, runs (jobs) with their logged data, metric histories
and logged models, scoped to a workspace the actor may view.

Runs' data is fetched per page (params, latest metrics, inputs, outputs: one query each, in
chunks of ids), never as a join of metrics x params x tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db.models import Prefetch, prefetch_related_objects

from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from studio.errors import NotFound, ValidationError

from .models import (
    DatasetInput,
    Experiment,
    Job,
    JobModelOutput,
    JobParam,
    LatestMetric,
    LoggedModel,
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
    """Attach params, latest metrics, dataset inputs and model outputs to the jobs, one
    query per kind per CHUNK jobs (as prefetch_related, without one huge IN list)."""
    lookups = (
        Prefetch("params", queryset=JobParam.objects.order_by("key")),
        Prefetch("latest_metrics", queryset=LatestMetric.objects.order_by("key")),
        Prefetch("dataset_inputs", queryset=DatasetInput.objects.order_by("id")),
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
