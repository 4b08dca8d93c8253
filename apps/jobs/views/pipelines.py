"""Assets > Pipelines, as in Azure ML studio: the workspace's pipeline jobs (the job list's
selector and table, filtered to `type=pipeline`, each row linking to its run page) and the
Designer's drafts (the Designer's selector and rows), as two tabs.

A pipeline run's page: the graph of its steps with each node's live status, duration and
'Reused' badge; clicking a node (or Enter on it) opens the step's panel beside the graph
(Overview, Outputs + logs, Metrics), as Azure ML studio does, while the graph keeps updating.

The graph (steps, edges, layered positions) was frozen at submit in the pipeline's spec;
the status fragment polls (`every 2s`, outerHTML) and reads every step in one query, so a
100-step pipeline refreshes with a constant number of queries. Once the pipeline has ended
the fragment renders without its poller.

The step panel is one fragment endpoint (`?step=<path>&tab=`) that reuses the step job
page's own live parts (the log tail, the metrics poller, the file tree); the page carries the
open step in its URL (`?step=`, static/js/pipeline-run.js), so a link to a step can be shared.
The Designer's run view loads the same graph fragment and the same panel.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from apps.designer import selectors as designer_selectors
from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import workspace_view
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from .. import pipeline_graph, selectors
from ..models import Job
from ..services.pipelines import step_rows
from .runs import STATUS_CLASS, job_rows_context
from .runs import _job as _scoped_job

STEP_TABS = ("overview", "logs", "metrics")
DRAFTS_PAGE = 200  # as the Designer's own list


@require_GET
@workspace_view(Action.JOB_VIEW)
def pipeline_list(request: HtmxHttpRequest, workspace):
    """Pipeline jobs: the workspace's top-level pipeline jobs, newest first, by cursor;
    filter by text and status; the table's fragment for HTMX."""
    context = job_rows_context(request, workspace, job_type=Job.Type.PIPELINE)
    template = "jobs/pipeline_list.html" + ("#rows" if is_partial(request) else "")
    return vary_on_htmx(render(request, template, context))


@require_GET
@workspace_view(Action.PIPELINE_VIEW)
def pipeline_draft_list(request: HtmxHttpRequest, workspace):
    """Pipeline drafts: the Designer's drafts, most recently changed first; filter by name."""
    q = request.GET.get("q", "").strip()
    drafts = designer_selectors.draft_list(actor=request.user, workspace=workspace, q=q)
    context = {"drafts": drafts[:DRAFTS_PAGE], "q": q}
    template = "jobs/pipeline_draft_list.html" + ("#rows" if is_partial(request) else "")
    return vary_on_htmx(render(request, template, context))


def _pipeline(request, workspace, job_name: str) -> Job:
    job = selectors.job_get(actor=request.user, workspace=workspace, name=job_name)
    if job.type != Job.Type.PIPELINE:
        raise Http404("Not a pipeline job.")
    job.status_class = STATUS_CLASS.get(job.status, "")
    return job


def _graph(job: Job) -> dict:
    """Nodes with pixel boxes and live state, edges as SVG paths, the canvas size."""
    graph = (job.spec or {}).get("graph") or {}
    rows = step_rows(job)
    nodes, boxes = [], {}
    for step_path, step in (graph.get("steps") or {}).items():
        layer, row = step.get("position") or (0, 0)
        x, y = boxes[step_path] = pipeline_graph.box(layer, row)
        live = rows.get(step_path) or {}
        status = live.get("status", "NotStarted")
        nodes.append(
            {
                "path": step_path, "job": step.get("job"), "label": step.get("label", ""),
                "x": x, "y": y, "status": status, "status_class": STATUS_CLASS.get(status, ""),
                "duration": live.get("duration"), "reused_from": live.get("reused_from", ""),
                "error": live.get("error", ""),
            }
        )  # fmt: skip
    return {"nodes": nodes, **pipeline_graph.drawing(boxes, graph.get("edges") or [])}


def _step(request, workspace, pipeline: Job, step_path: str) -> Job:
    """The child job of `pipeline` that runs `step_path`, read through the same scoped
    selector as its own page; a step of another pipeline is not found here."""
    steps = ((pipeline.spec or {}).get("graph") or {}).get("steps") or {}
    step = steps.get(step_path) if step_path else None
    if not step or not step.get("job"):
        raise Http404(f"No step '{step_path}' in this pipeline.")
    job = _scoped_job(request, workspace, step["job"])
    if job.parent_id != pipeline.pk:
        raise Http404(f"No step '{step_path}' in this pipeline.")
    job.step_path, job.step_label = step_path, step.get("label", "")
    job.reused_from = (job.tags or {}).get("reused_from", "")
    return job


def _step_context(request, workspace, pipeline: Job, step_path: str, tab: str) -> dict:
    step = _step(request, workspace, pipeline, step_path)
    tab = tab if tab in STEP_TABS else "overview"
    context = {"pipeline": pipeline, "step_job": step, "step_tab": tab, "step_tabs": STEP_TABS}
    if tab == "overview":
        context.update(
            step_inputs=selectors.job_inputs(job=step),
            step_outputs=selectors.job_outputs(job=step),
            step_params=selectors.job_params(job=step),
        )
    return context


@require_GET
@workspace_view(Action.JOB_VIEW)
def pipeline_run(request: HtmxHttpRequest, workspace, job_name: str):
    job = _pipeline(request, workspace, job_name)
    context = {"job": job, "graph": _graph(job), "settings": (job.spec or {}).get("settings", {})}
    step_path = request.GET.get("step", "")
    if step_path and not is_partial(request):
        try:  # a shared link to a step opens its panel; a step that is not there, none
            context.update(
                _step_context(request, workspace, job, step_path, request.GET.get("step_tab", ""))
            )
        except Http404:
            pass
    template = "jobs/pipeline_run.html"
    if is_partial(request):
        template += "#graph"
        context["oob"] = True
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))  # a page or its fragment, same URL
    return response


@require_GET
@workspace_view(Action.JOB_VIEW)
def pipeline_status(request: HtmxHttpRequest, workspace, job_name: str):
    job = _pipeline(request, workspace, job_name)
    return render(
        request, "jobs/pipeline_run.html#graph", {"job": job, "graph": _graph(job), "oob": True}
    )


@require_GET
@workspace_view(Action.JOB_VIEW)
def pipeline_step(request: HtmxHttpRequest, workspace, job_name: str):
    """The step panel: `?step=<path>` of this pipeline, `?tab=overview|logs|metrics`."""
    pipeline = _pipeline(request, workspace, job_name)
    context = _step_context(
        request, workspace, pipeline, request.GET.get("step", ""), request.GET.get("tab", "")
    )
    return render(request, "jobs/_pipeline_step_panel.html", context)


from django.urls import path  # noqa: E402 - the routes read best next to the views

P = "w/<str:name>/jobs/<str:job_name>/pipeline/"
urlpatterns = [
    path("w/<str:name>/pipelines/", pipeline_list, name="pipeline-list"),
    path("w/<str:name>/pipelines/drafts/", pipeline_draft_list, name="pipeline-draft-list"),
    path(P, pipeline_run, name="pipeline-run"),
    path(f"{P}status/", pipeline_status, name="pipeline-status"),
    path(f"{P}step/", pipeline_step, name="pipeline-step"),
]
