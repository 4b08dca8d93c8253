"""Job pages (reading results): the job list and experiments (Author > Jobs), a job's page
with its tabs (Overview, Metrics, Outputs + logs, Code), the live log tail and metrics
poller, and an experiment's runs table with compare.

Live parts follow conventions §4: the log fragment renders the lines after `?after=N` and a
trailing poller with the new cursor (`every 2s`, outerHTML); once the job ended and every
line was read, no poller. The metrics poller works the same way; the charts themselves read
down-sampled series from the API (static/js/jobs-metrics.js).
"""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.workspaces.permissions import Action
from apps.workspaces.selectors.datastores import image_type
from apps.workspaces.templatetags.studio_tags import STATE_CLASS
from apps.workspaces.views.workspaces import workspace_view
from studio.downloads import file_download
from studio.errors import DomainError, NotFound
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from .. import selectors
from ..api.runs import duration_s
from ..models import Job
from ..services import annotations, lifecycle

TABS = ("overview", "metrics", "logs", "outputs", "code")
PIPELINE_TABS = ("overview", "children", "metrics", "logs", "outputs", "code")
PAGE = 50
PREVIEW_BYTES = 256 * 1024
STATUS_CLASS = STATE_CLASS  # a status badge's colour class


def _job(request, workspace, job_name: str) -> Job:
    job = selectors.job_get(actor=request.user, workspace=workspace, name=job_name)
    job.duration = duration_s(job)
    job.status_class = STATUS_CLASS.get(job.status, "")
    return job


def _decorate(jobs) -> None:
    for job in jobs:
        job.duration = duration_s(job)
        job.status_class = STATUS_CLASS.get(job.status, "")


# The list and experiments --------------------------------------------------------------


JOB_COLUMNS = (
    ("Display name", "name"),
    ("Status", "status"),
    ("Experiment", "experiment"),
    ("Created", "created"),
    ("Duration", "duration"),
)


def job_rows_context(request: HtmxHttpRequest, workspace, *, job_type: str = "") -> dict:
    """The context of a job table (templates/jobs/_job_rows.html): one page of the workspace's
    top-level jobs of `job_type` (any when empty) in `?order_by=` (newest first by default),
    filtered by `?q=` and `?status=` (archived jobs only with `?archived=1`), paged by
    `?cursor=`. Shared by All jobs and Pipelines > Pipeline jobs. A bad `order_by` or cursor
    is a 400 naming it."""
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    archived = request.GET.get("archived") == "1"
    order_by = selectors.job_list_order(request.GET.get("order_by", ""))
    rows, next_cursor = selectors.job_list_page(
        actor=request.user,
        workspace=workspace,
        search=search,
        status=status,
        job_type=job_type,
        archived=archived,
        order_by=order_by,
        cursor=request.GET.get("cursor", ""),
        size=PAGE,
        with_step_count=job_type == Job.Type.PIPELINE,
    )
    _decorate(rows)
    return {
        "rows": rows,
        "q": search,
        "status": status,
        "archived": archived,
        "order_by": order_by,
        "sort_columns": {c["key"]: c for c in _sort_headers(order_by, JOB_COLUMNS)},
        "statuses": Job.Status.choices,
        "next_cursor": next_cursor or "",
    }


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_list(request: HtmxHttpRequest, workspace):
    """All jobs of the workspace, newest first, by cursor; filter by text and status."""
    context = job_rows_context(request, workspace)
    if is_partial(request):
        return vary_on_htmx(render(request, "jobs/job_list.html#rows", context))
    return vary_on_htmx(render(request, "jobs/job_list.html", context))


@require_GET
@workspace_view(Action.JOB_VIEW)
def experiment_list(request: HtmxHttpRequest, workspace):
    search = request.GET.get("q", "").strip()
    sort = selectors.experiment_list_order(request.GET.get("sort", ""))
    rows = selectors.experiment_list(
        actor=request.user, workspace=workspace, search=search, sort=sort
    )
    columns = _sort_headers(sort, EXPERIMENT_COLUMNS)
    for column in columns:  # the newest first on a first click of a time or a count
        if column["key"] != "name" and not column["arrow"]:
            column["next"] = f"-{column['key']}"
    context = {"rows": rows, "q": search, "sort": sort, "columns": columns}
    return render(request, "jobs/experiment_list.html", context)


EXPERIMENT_COLUMNS = (("Experiment", "name"), ("Runs", "runs"), ("Last run", "last"),
                      ("Created", "created"))  # fmt: skip


def _table_params(request, experiment) -> dict:
    metric_keys, param_keys = selectors.experiment_keys(experiment=experiment)
    # By default the first four of the user's own metrics (the runner's system/* series are
    # a column away, under Columns).
    chosen_m = (
        request.GET.getlist("m") or [k for k in metric_keys if not k.startswith(SYSTEM_PREFIX)][:4]
    )
    chosen_p = request.GET.getlist("p") or param_keys[:4]
    return {
        "metric_keys": metric_keys,
        "param_keys": param_keys,
        "metrics": [k for k in chosen_m if k],
        "params": [k for k in chosen_p if k],
        "filter": request.GET.get("filter", ""),
        "sort": request.GET.get("sort", "-created") or "-created",
        "cursor": request.GET.get("cursor", ""),
    }


def _sort_headers(sort: str, cols) -> list[dict]:
    """Sortable headers: label, key, the sort a click asks for (ascending first, then the
    other way), the arrow and aria-sort of the current one."""
    descending = sort.startswith("-")
    out = []
    for label, key in cols:
        current = sort.lstrip("-") == key
        out.append(
            {
                "label": label,
                "key": key,
                "next": f"-{key}" if current and not descending else key,
                "arrow": ("▼" if descending else "▲") if current else "",
                "aria_sort": ("descending" if descending else "ascending") if current else "",
                "kind": key.split(".")[0] if "." in key else "",
            }
        )
    return out


def _columns(p: dict) -> list[dict]:
    """The runs table's sortable headers: the fixed ones, then chosen metrics and params."""
    fixed = [
        ("Display name", "name"),
        ("Status", "status"),
        ("Created", "created"),
        ("Duration", "duration"),
    ]
    cols = fixed + [(k, f"metrics.{k}") for k in p["metrics"]]
    cols += [(k, f"params.{k}") for k in p["params"]]
    return _sort_headers(p["sort"], cols)


@require_GET
@workspace_view(Action.JOB_VIEW)
def experiment_detail(request: HtmxHttpRequest, workspace, experiment_name: str):
    """An experiment's runs: status, duration, chosen metrics and params as columns, filter
    (MLflow's grammar), sort by any column, paging by keyset; select runs to compare."""
    experiment = selectors.experiment_get_named(
        actor=request.user, workspace=workspace, name=experiment_name
    )
    p = _table_params(request, experiment)
    error = ""
    try:
        rows, next_cursor = selectors.run_table(
            actor=request.user,
            workspace=workspace,
            experiment=experiment,
            metrics=p["metrics"],
            params=p["params"],
            filter_string=p["filter"],
            sort=p["sort"],
            cursor=p["cursor"],
        )
    except DomainError as exc:
        rows, next_cursor, error = [], None, exc.message
    except Exception as exc:  # MLflow's parser raises its own exception for bad filters
        if type(exc).__name__ != "MlflowException":
            raise
        rows, next_cursor, error = [], None, str(getattr(exc, "message", exc))
    _decorate(rows)
    for row in rows:
        row.cells = list(zip(p["metrics"], row.metric_values, strict=True))
        row.pcells = list(zip(p["params"], row.param_values, strict=True))
    context = {
        "columns": _columns(p),
        "experiment": experiment,
        "rows": rows,
        "next_cursor": next_cursor,
        "error": error,
        **p,
    }
    template = "jobs/experiment_detail.html"
    if is_partial(request):
        return vary_on_htmx(render(request, f"{template}#table", context))
    return vary_on_htmx(render(request, template, context))


@require_GET
@workspace_view(Action.JOB_VIEW)
def experiment_compare(request: HtmxHttpRequest, workspace, experiment_name: str):
    """Runs side by side: params and latest metrics in one table (differences marked),
    and every metric's charts with the runs overlaid."""
    experiment = selectors.experiment_get_named(
        actor=request.user, workspace=workspace, name=experiment_name
    )
    names = [n for n in request.GET.getlist("run") if n][:20]
    jobs = []
    for name in names:
        try:
            job = _job(request, workspace, name)
        except NotFound:
            continue
        if job.experiment_id == experiment.pk:
            jobs.append(job)
    params = {job.pk: {p.key: p.value for p in selectors.job_params(job=job)} for job in jobs}
    metrics = {job.pk: {m.key: m.value for m in selectors.job_metric_keys(job=job)} for job in jobs}
    param_keys = sorted({k for d in params.values() for k in d})
    user_keys, system_keys = _split_system(sorted({k for d in metrics.values() for k in d}))
    metric_keys = user_keys + system_keys
    labels = run_labels(jobs)
    for job in jobs:
        job.label = labels[job.pk]

    def chart(key):
        series = [
            {
                "name": job.label,
                "url": reverse("api:job-metric-detail", args=[workspace.name, job.name, key]),
                "start": job.start_time_ms,
            }
            for job in jobs
        ]
        return {"key": key, "series": json.dumps(series)}

    def rows(keys, table):
        out = []
        for key in keys:
            values = [table[job.pk].get(key) for job in jobs]
            out.append({"key": key, "values": values, "differs": len({str(v) for v in values}) > 1})
        return out

    return render(
        request,
        "jobs/experiment_compare.html",
        {
            "experiment": experiment,
            "jobs": jobs,
            "param_rows": rows(param_keys, params),
            "metric_rows": rows(metric_keys, metrics),
            "charts": [chart(k) for k in user_keys],
            "system_charts": [chart(k) for k in system_keys],
        },
    )


# A job's page -------------------------------------------------------------------------

# The runner's own series (CPU, memory), logged at step 0: charted against time since the job
# started, after the user's metrics, under "System" (static/js/jobs-metrics.js).
SYSTEM_PREFIX = "system/"


def _split_system(keys: list[str]) -> tuple[list[str], list[str]]:
    """(the user's metric keys, the system/* keys), each in the order given."""
    user = [k for k in keys if not k.startswith(SYSTEM_PREFIX)]
    return user, [k for k in keys if k.startswith(SYSTEM_PREFIX)]


def run_labels(jobs) -> dict:
    """A name per run that tells runs apart: the display name, or "display name (job name)"
    where two runs share one."""
    shown = {job.pk: job.display_name or job.name for job in jobs}
    taken = Counter(shown.values())
    return {
        job.pk: shown[job.pk] if taken[shown[job.pk]] == 1 else f"{shown[job.pk]} ({job.name})"
        for job in jobs
    }


def _data_href(workspace, *, asset: str = "", uri: str = "", is_file: bool = False) -> str:
    """Where a job's data input or output leads on the studio: its data asset version, else
    the datastore file (preview) or folder (browser) its URI names; "" for anything else
    (literals, http URLs, another workspace's URI). The target page checks permissions."""
    from apps.workspaces import storage

    parts = asset.split(":") if asset else []
    if len(parts) == 3 and parts[0] == "azureml":
        return reverse("assets:version-detail", args=[workspace.name, "data", *parts[1:]])
    split = storage.split_uri(uri)
    if split is None or split[0] not in (None, workspace.name):
        return ""
    _ws, datastore, path = split
    try:
        path = storage.clean_path(path)
    except DomainError:
        return ""
    if is_file and path:
        view = "workspaces:datastore-preview"
    else:
        view = "workspaces:datastore-detail"
    return reverse(view, args=[workspace.name, datastore]) + f"?path={quote(path)}"


def _with_links(workspace, inputs: list[dict], outputs: list[dict]) -> None:
    for row in inputs:  # a literal names no asset and no URI: no link
        row["href"] = _data_href(
            workspace, asset=row["asset"], uri=row["value"], is_file=row["type"] == "uri_file"
        )
    for row in outputs:
        row["href"] = _data_href(workspace, uri=row["path"], is_file=row["type"] == "uri_file")


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_detail(request: HtmxHttpRequest, workspace, job_name: str):
    job = _job(request, workspace, job_name)
    tabs = PIPELINE_TABS if job.type == Job.Type.PIPELINE else TABS
    tab = request.GET.get("tab", "overview")
    if tab not in tabs:
        tab = "overview"
    context = {
        "job": job,
        "tab": tab,
        "tabs": tabs,
        "cancel_url": reverse("jobs:job-cancel", args=[workspace.name, job.name]),
        "register_url": reverse("jobs:job-register-model", args=[workspace.name, job.name]),
        # Its place among its compute's queued jobs (1 = next), while it waits.
        "queue_position": lifecycle.queue_position(job),
    }
    if tab == "overview":
        context.update(
            timeline=selectors.job_timeline(job=job),
            inputs=selectors.job_inputs(job=job),
            outputs=selectors.job_outputs(job=job),
            params=selectors.job_params(job=job),
            lineage=selectors.job_mlflow_lineage(job=job),
            environment=(job.spec or {}).get("environment"),
            command=(job.spec or {}).get("command", ""),
            user_tags={k: v for k, v in job.tags.items() if not k.startswith("mlflow.")},
        )
        _with_links(workspace, context["inputs"], context["outputs"])
    elif tab == "metrics":
        context["keys"], context["values"] = selectors.job_metrics_split(job=job)
        context["user_keys"], context["system_keys"] = _split_system(
            [m.key for m in context["keys"]]
        )
    elif tab == "children":
        context["children"] = _child_rows(job)
    elif tab == "outputs":
        context["outputs"] = selectors.job_outputs(job=job)
        _with_links(workspace, [], context["outputs"])
    elif tab == "code":
        context["files"] = job.code.manifest if job.code_id else []
    return render(request, "jobs/job_detail.html", context)


def _child_rows(pipeline: Job) -> list[dict]:
    """A pipeline's steps in the graph's order with their child jobs (one query): label,
    step path, job name, status, duration, reuse and the first line of an error. A step that
    has not started has no job yet and shows NotStarted."""
    from ..services.pipelines import step_rows

    live = step_rows(pipeline)
    steps = ((pipeline.spec or {}).get("graph") or {}).get("steps") or {}
    rows = []
    for step in [*steps, *(p for p in live if p not in steps)]:
        row = live.get(step) or {}
        status = row.get("status", Job.Status.NOT_STARTED)
        rows.append(
            {
                "path": step,
                "label": (steps.get(step) or {}).get("label") or step,
                "name": row.get("name", ""),
                "status": status,
                "status_display": Job.Status(status).label if status in Job.Status else status,
                "status_class": STATUS_CLASS.get(status, ""),
                "duration": row.get("duration"),
                "reused_from": row.get("reused_from", ""),
                "error": row.get("error", ""),
            }
        )
    return rows


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_log(request: HtmxHttpRequest, workspace, job_name: str):
    """The lines after ?after=N, then a poller for the next ones (none once it is over)."""
    job = _job(request, workspace, job_name)
    try:
        after = max(int(request.GET.get("after", "0")), 0)
    except ValueError:
        after = 0
    lines, cursor, done = selectors.job_log_after(job=job, after=after)
    for line in lines:  # a progress bar rewrote its line: show what a terminal shows
        line.display = line.text.rstrip("\r").rsplit("\r", 1)[-1]
    caught_up = len(lines) < selectors.LOG_PAGE
    return render(
        request,
        "jobs/_log_lines.html",
        {"job": job, "lines": lines, "cursor": cursor, "done": done, "caught_up": caught_up},
    )


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_metrics(request: HtmxHttpRequest, workspace, job_name: str):
    """The metrics poller: the names of the job's series (new charts appear), the table of
    its single values, status, and another poller while the job runs; the charts refresh
    themselves when it is swapped in."""
    job = _job(request, workspace, job_name)
    keys, values = selectors.job_metrics_split(job=job)
    return render(
        request,
        "jobs/_metrics_poller.html",
        {"job": job, "keys": keys, "values": values, "poll": True},
    )


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_status(request: HtmxHttpRequest, workspace, job_name: str):
    """The Overview's poller: while the job has not ended, its status badge, place in the
    queue and timeline (out of band) and the next poll; once it has ended, a reload of the
    page (HX-Refresh), whose error, duration, outputs and commands are then final."""
    job = _job(request, workspace, job_name)
    if job.is_terminal:
        response = HttpResponse(status=200)
        response["HX-Refresh"] = "true"
        return response
    context = {
        "job": job,
        "timeline": selectors.job_timeline(job=job),
        "queue_position": lifecycle.queue_position(job),
    }
    return render(request, "jobs/_status_poller.html", context)


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_files(request: HtmxHttpRequest, workspace, job_name: str):
    """One folder of the job's files (outputs/, user_logs/, logged artifacts)."""
    job = _job(request, workspace, job_name)
    path = request.GET.get("path", "").strip("/")
    entries = selectors.job_artifact_list(job=job, path=path)
    rows = [
        {
            "name": e.path,
            "path": f"{path}/{e.path}" if path else e.path,
            "is_dir": e.is_dir,
            "size": e.size,
        }
        for e in sorted(entries, key=lambda e: (not e.is_dir, e.path))
    ]
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    return render(
        request,
        "jobs/_job_files.html",
        {"job": job, "path": path, "rows": rows, "parent": parent},
    )


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_file_preview(request: HtmxHttpRequest, workspace, job_name: str):
    job = _job(request, workspace, job_name)
    path = request.GET.get("path", "")
    image = image_type(path)
    if image:  # the page shows the file itself (<img>): only check that it is there
        selectors.job_artifact_check(job=job, path=path)
        head = b""
    else:
        with selectors.job_artifact_open(job=job, path=path) as handle:
            head = handle.read(PREVIEW_BYTES + 1)
    truncated = len(head) > PREVIEW_BYTES
    head = head[:PREVIEW_BYTES]
    binary = b"\0" in head[:8192]
    text = "" if binary else head.decode("utf-8", errors="replace")
    return render(
        request,
        "jobs/_file_preview.html",
        {
            "job": job, "path": path, "text": text, "binary": binary, "truncated": truncated,
            "image": bool(image),
        },
    )  # fmt: skip


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_file_download(request, workspace, job_name: str):
    """The file as an attachment. With `?inline=1`, a raster picture (autolog's confusion
    matrix, `mlflow.log_image`) comes as itself for the preview's <img>, as a datastore's do;
    anything else, SVG included, stays an octet-stream attachment."""
    job = _job(request, workspace, job_name)
    path = request.GET.get("path", "")
    handle = selectors.job_artifact_open(job=job, path=path)
    image = image_type(path) if request.GET.get("inline") else None
    return file_download(
        request, handle, name=path.rsplit("/", 1)[-1],
        content_type=image or "application/octet-stream", attachment=not image,
    )  # fmt: skip


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_log_download(request, workspace, job_name: str):
    from django.http import StreamingHttpResponse
    from django.utils.http import content_disposition_header

    from ..api.runs import std_log_chunks

    job = _job(request, workspace, job_name)
    response = StreamingHttpResponse(std_log_chunks(job), content_type="text/plain")
    response["Content-Disposition"] = content_disposition_header(True, "std_log.txt")
    return response


@require_GET
@workspace_view(Action.JOB_VIEW)
def job_code_file(request: HtmxHttpRequest, workspace, job_name: str):
    """A file of the job's code snapshot (the Code tab's preview)."""
    from apps.assets.services import code as code_services

    job = _job(request, workspace, job_name)
    if not job.code_id:
        raise Http404("This job has no code snapshot.")
    path = request.GET.get("path", "")
    head = code_services.snapshot_read(actor=request.user, snapshot=job.code, path=path)
    binary = b"\0" in head[:8192]
    return render(
        request,
        "jobs/_file_preview.html",
        {
            "job": job,
            "path": path,
            "text": "" if binary else head.decode("utf-8", errors="replace"),
            "binary": binary,
            "truncated": False,
            "code": True,
        },
    )


# Changes ----------------------------------------------------------------------------------


def _tags_from(text: str) -> dict[str, str]:
    tags = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition("=")
        tags[key.strip()] = value.strip()
    return tags


@require_POST
@workspace_view(Action.JOB_VIEW)
def job_update(request: HtmxHttpRequest, workspace, job_name: str):
    """Inline edit of display name, description and tags (Overview)."""
    job = _job(request, workspace, job_name)
    fields = {}
    if "display_name" in request.POST:
        fields["display_name"] = request.POST["display_name"]
    if "description" in request.POST:
        fields["description"] = request.POST["description"]
    if "tags" in request.POST:
        fields["tags"] = _tags_from(request.POST["tags"])
    try:
        annotations.job_update(actor=request.user, job=job, **fields)
        messages.success(request, "Saved.")
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        messages.error(request, exc.message)
    return redirect(reverse("jobs:job-detail", args=[workspace.name, job.name]))


def _archive(request, workspace, job_name: str, archived: bool) -> HttpResponse:
    job = _job(request, workspace, job_name)
    annotations.job_set_archived(actor=request.user, job=job, archived=archived)
    messages.success(request, f"{'Archived' if archived else 'Restored'} {job.name}.")
    return redirect(reverse("jobs:job-detail", args=[workspace.name, job.name]))


@require_POST
@workspace_view(Action.JOB_VIEW)
def job_archive(request, workspace, job_name: str):
    return _archive(request, workspace, job_name, True)


@require_POST
@workspace_view(Action.JOB_VIEW)
def job_restore(request, workspace, job_name: str):
    return _archive(request, workspace, job_name, False)


from django.urls import path  # noqa: E402 - the routes read best next to the views

J = "w/<str:name>/jobs/<str:job_name>/"
E = "w/<str:name>/experiments/<str:experiment_name>/"
urlpatterns = [
    path("w/<str:name>/jobs/", job_list, name="job-list"),
    path("w/<str:name>/experiments/", experiment_list, name="experiment-list"),
    path(E, experiment_detail, name="experiment-detail"),
    path(f"{E}compare/", experiment_compare, name="experiment-compare"),
    path(J, job_detail, name="job-detail"),
    path(f"{J}log/", job_log, name="job-log"),
    path(f"{J}log/download/", job_log_download, name="job-log-download"),
    path(f"{J}metrics/", job_metrics, name="job-metrics"),
    path(f"{J}status/", job_status, name="job-status"),
    path(f"{J}files/", job_files, name="job-files"),
    path(f"{J}files/preview/", job_file_preview, name="job-file-preview"),
    path(f"{J}files/download/", job_file_download, name="job-file-download"),
    path(f"{J}code/", job_code_file, name="job-code-file"),
    path(f"{J}edit/", job_update, name="job-update"),
    path(f"{J}archive/", job_archive, name="job-archive"),
    path(f"{J}restore/", job_restore, name="job-restore"),
]
