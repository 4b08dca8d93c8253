"""Author > Designer: the drafts list and the canvas page, and the fragments the canvas's JS
module (static/designer/designer.js) and HTMX ask for.

Each finished gesture is one POST to `draft-gesture` (`op` = add, move, connect, delete,
layout, undo, redo); the service checks it and the answer is the re-rendered piece: the new
node, the edge layer, or the whole canvas, and the draft's revision (`#dz-meta`). A refused
gesture answers 422 with the reason and the port it concerns. The properties panel, the
validation list, the history and the submit dialog are ordinary HTMX fragments.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.jobs import selectors as job_selectors
from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import workspace_view
from studio.errors import Conflict, DomainError, ValidationError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from . import drafts, pipeline_yaml, selectors
from . import graph as g

V, E = Action.PIPELINE_VIEW, Action.PIPELINE_EDIT


# Rendering the canvas -------------------------------------------------------------------------


def node_view(nid: str, node: dict, refs: selectors.Refs, issues: dict | None = None) -> dict:
    ports = drafts.ports_of(node, refs)
    ins, outs = ports if ports else ({}, {})
    row = refs.components.get(node.get("ref", "")) if node.get("kind") != "data" else None
    required = set()
    if row is not None:
        required = {k for k, d in row.inputs.items() if not d.get("optional")}
    return {
        "id": nid, "kind": node.get("kind", "component"), "label": node.get("label") or nid,
        "ref": node.get("ref", ""), "x": node.get("x", 0), "y": node.get("y", 0),
        "missing": ports is None, "compute": node.get("compute", ""),
        "pipeline": node.get("kind") != "data" and drafts.is_pipeline(node, row),
        "ins": [{"name": k, "type": t, "required": k in required} for k, t in ins.items()],
        "outs": [{"name": k, "type": t} for k, t in outs.items()],
        "height": g.node_height(len(ins), len(outs)),
        "issues": (issues or {}).get(nid, []),
    }  # fmt: skip


def edges_svg(graph: dict) -> str:
    """The edge layer as SVG, built directly: a template loop over hundreds of edges is the
    slowest part of a gesture's answer (benchmarks/designer_gestures.py)."""
    parts = []
    for e in graph.get("edges") or []:
        i, s, t = (
            escape(e["id"]), escape(f"{e['source'][0]}:{e['source'][1]}"),
            escape(f"{e['target'][0]}:{e['target'][1]}"),
        )  # fmt: skip
        parts.append(
            f'<path class="dz-edge" data-edge="{i}" data-source="{s}" data-target="{t}">'
            f"<title>{s} → {t}</title></path>"
        )
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'<g id="dz-edges" data-dz="edges">{"".join(parts)}</g>'
    )


def edge_views(graph: dict) -> list[dict]:
    return [
        {"id": e["id"], "source": f"{e['source'][0]}:{e['source'][1]}",
         "target": f"{e['target'][0]}:{e['target'][1]}"}
        for e in graph.get("edges") or []
    ]  # fmt: skip


def _meta(draft) -> dict:
    return {
        "revision": draft.revision, "head": draft.head_revision,
        "can_undo": draft.revision > 0, "can_redo": draft.revision < draft.head_revision,
    }  # fmt: skip


def _canvas_context(draft, *, nodes=None, full: bool = True) -> dict:
    graph = draft.graph
    which = graph.get("nodes") or {}
    if nodes is not None:
        which = {n: which[n] for n in nodes if n in which}
    refs = selectors.refs_of(draft.workspace, which)
    return {
        "draft": draft, "nodes": [node_view(n, v, refs) for n, v in which.items()],
        "edges_svg": edges_svg(graph), "meta": _meta(draft), "full": full,
    }  # fmt: skip


def _urls(workspace, draft) -> dict:
    args = (workspace.name, draft.pk)
    return {
        k: reverse(f"designer:draft-{k}", args=args)
        for k in ("gesture", "palette", "validate", "history", "settings", "submit", "export",
                  "rename", "delete", "detail")
    }  # fmt: skip


@require_GET
@workspace_view(V)
def draft_list(request: HtmxHttpRequest, workspace):
    q = request.GET.get("q", "").strip()
    rows = selectors.draft_list(actor=request.user, workspace=workspace, q=q)[:200]
    context = {"drafts": rows, "q": q, "errors": {}}
    template = "designer/draft_list.html" + ("#rows" if is_partial(request) else "")
    return vary_on_htmx(render(request, template, context))


@require_POST
@workspace_view(E)
def draft_create(request: HtmxHttpRequest, workspace):
    try:
        draft = drafts.draft_create(
            actor=request.user, workspace=workspace, name=request.POST.get("name", "")
        )
    except (ValidationError, Conflict) as exc:
        rows = selectors.draft_list(actor=request.user, workspace=workspace)[:200]
        context = {"drafts": rows, "q": "", "errors": {"create": exc.message}}
        return render(request, "designer/draft_list.html", context, status=422)
    return redirect("designer:draft-detail", workspace.name, draft.pk)


@require_POST
@workspace_view(E)
def draft_import(request: HtmxHttpRequest, workspace):
    text = request.POST.get("yaml", "")
    upload = request.FILES.get("file")
    if upload is not None and not text.strip():
        text = upload.read(2_000_000).decode("utf-8", "replace")
    try:
        draft = pipeline_yaml.draft_import(
            actor=request.user, workspace=workspace, name=request.POST.get("name", ""), text=text
        )
    except (ValidationError, Conflict) as exc:
        rows = selectors.draft_list(actor=request.user, workspace=workspace)[:200]
        context = {"drafts": rows, "q": "", "errors": {"import": exc.message}, "yaml": text,
                   "import_name": request.POST.get("name", "")}  # fmt: skip
        return render(request, "designer/draft_list.html", context, status=422)
    return redirect("designer:draft-detail", workspace.name, draft.pk)


@require_POST
@workspace_view(E)
def draft_clone(request: HtmxHttpRequest, workspace, job_name: str):
    job = job_selectors.job_get(actor=request.user, workspace=workspace, name=job_name)
    draft = pipeline_yaml.draft_clone(actor=request.user, workspace=workspace, job=job)
    return redirect("designer:draft-detail", workspace.name, draft.pk)


@require_GET
@workspace_view(V)
def draft_detail(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    context = _canvas_context(draft)
    run_view = request.GET.get("view") == "run" and draft.last_job_id
    context.update(
        urls=_urls(workspace, draft), run_view=bool(run_view),
        palette=selectors.palette(actor=request.user, workspace=workspace),
        computes=selectors.compute_names(workspace), settings=draft.graph.get("settings") or {},
        type_colours=sorted(g.ACCEPTS) + list(g.PARAM_TYPES),
    )  # fmt: skip
    return render(request, "designer/draft_detail.html", context)


@require_POST
@workspace_view(E)
def draft_rename(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    try:
        drafts.draft_rename(actor=request.user, draft=draft, name=request.POST.get("name", ""))
    except (ValidationError, Conflict) as exc:
        return HttpResponse(exc.message, status=422, content_type="text/plain")
    if is_partial(request):
        return HttpResponse(draft.name, content_type="text/plain")
    return redirect("designer:draft-detail", workspace.name, draft.pk)


@require_POST
@workspace_view(E)
def draft_delete(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    drafts.draft_delete(actor=request.user, draft=draft)
    return redirect("designer:draft-list", workspace.name)


@require_GET
@workspace_view(V)
def draft_palette(request: HtmxHttpRequest, workspace, draft_id):
    selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    palette = selectors.palette(
        actor=request.user, workspace=workspace, q=request.GET.get("q", "").strip()
    )
    return render(request, "designer/draft_detail.html#palette", {"palette": palette})


# Gestures -------------------------------------------------------------------------------------


def _list(request, key: str) -> list[str]:
    values = request.POST.getlist(key)
    if len(values) == 1 and values[0].startswith("["):
        try:
            return [str(v) for v in json.loads(values[0])]
        except ValueError:
            return []
    return [v for v in values if v]


def _refusal(exc: DomainError, request) -> HttpResponse:
    field = next(iter(exc.fields), "")
    port = request.POST.get(field, "") if field in ("source", "target") else ""
    reason = (exc.fields.get(field) or [exc.message])[0] if field else exc.message
    response = render(
        request, "designer/_refusal.html", {"reason": reason, "port": port, "field": field},
        status=422,
    )  # fmt: skip
    return response


def _apply(request, draft, op: str):
    """Run one gesture; answer (draft, nodes to re-render or None for all, full?)."""
    p, user = request.POST, request.user
    if op == "add":
        d = drafts.node_add(
            actor=user, draft=draft, kind=p.get("kind", ""), ref=p.get("ref", ""),
            x=p.get("x", 40), y=p.get("y", 40),
        )  # fmt: skip
        return d, [d.changed_node], False
    if op == "move":
        d = drafts.node_move(
            actor=user, draft=draft, node=p.get("node"), x=p.get("x"), y=p.get("y")
        )
        return d, [], False
    if op == "connect":
        d = drafts.edge_connect(
            actor=user, draft=draft, source=p.get("source"), target=p.get("target")
        )
        return d, [], False
    if op == "delete":
        nodes, edges = _list(request, "nodes"), _list(request, "edges")
        d = drafts.nodes_delete(actor=user, draft=draft, nodes=nodes, edges=edges)
        d.removed = nodes
        return d, [], False
    services = {"layout": drafts.draft_layout, "undo": drafts.draft_undo, "redo": drafts.draft_redo}
    if op in services:
        return services[op](actor=user, draft=draft), None, True
    raise ValidationError.for_field("op", f"'{op}' is not a gesture.")


@require_POST
@workspace_view(E)
def draft_gesture(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    op = request.POST.get("op", "")
    try:
        saved, nodes, full = _apply(request, draft, op)
    except (ValidationError, Conflict) as exc:
        return _refusal(exc, request)
    context = _canvas_context(saved, nodes=nodes, full=full)
    context.update(op=op, removed=getattr(saved, "removed", []))
    return render(request, "designer/_pieces.html", context)


# Side panels ----------------------------------------------------------------------------------


def _field(name: str, decl: dict, value, connected: str) -> dict:
    kind = decl["type"]
    widget = "text"
    if kind in ("integer", "number"):
        widget = "number"
    elif kind == "boolean":
        widget = "boolean"
    elif decl.get("enum"):
        widget = "select"
    elif kind not in g.PARAM_TYPES:
        widget = "data"
    step = "1" if kind == "integer" else "any"
    return {
        "name": name, "type": kind, "widget": widget, "step": step,
        "value": "" if value is None else (str(value).lower() if isinstance(value, bool) else value),
        "default": decl.get("default"), "optional": bool(decl.get("optional")),
        "min": decl.get("min"), "max": decl.get("max"), "enum": decl.get("enum") or [],
        "description": decl.get("description", ""), "connected": connected,
    }  # fmt: skip


def _node_panel(request, workspace, draft, nid: str, *, errors=None, values=None, status=200):
    node = (draft.graph.get("nodes") or {}).get(nid)
    if node is None:
        return _settings_panel(
            request, workspace, draft, error=" ".join((errors or {}).get("", [])), status=status
        )
    refs = selectors.refs_of(workspace, [node])
    row = refs.components.get(node.get("ref", ""))
    feeds = {e["target"][1]: f"{e['source'][0]}.{e['source'][1]}"
             for e in draft.graph.get("edges") or [] if e["target"][0] == nid}  # fmt: skip
    params = {**(node.get("params") or {}), **(values or {})}
    fields = []
    errors = errors or {}
    if row is not None:
        fields = [_field(k, d, params.get(k), feeds.get(k, "")) for k, d in row.inputs.items()]
        for f in fields:
            f["errors"] = errors.get(f["name"], [])
    issues = pipeline_yaml.draft_validate(actor=request.user, draft=draft, node=nid)
    context = {
        "draft": draft, "nid": nid, "node": node, "row": row, "fields": fields,
        "general_error": " ".join(errors.get("", [])), "issues": issues, "computes": selectors.compute_names(workspace),
        "meta": _meta(draft), "data_row": refs.data.get(node.get("ref", "")),
        "pipeline": row is not None and drafts.is_pipeline(node, row),
        "steps": sorted((row.spec or {}).get("jobs") or {}) if row is not None else [],
        "default_compute": (draft.graph.get("settings") or {}).get("default_compute", ""),
        "url": reverse("designer:draft-node", args=(workspace.name, draft.pk, nid)),
    }  # fmt: skip
    return render(request, "designer/_node_panel.html", context, status=status)


def _settings_panel(request, workspace, draft, *, error: str = "", status=200):
    context = {
        "draft": draft, "settings": draft.graph.get("settings") or {}, "error": error,
        "computes": selectors.compute_names(workspace), "urls": _urls(workspace, draft),
        "meta": _meta(draft),
    }  # fmt: skip
    return render(request, "designer/_settings_panel.html", context, status=status)


@require_http_methods(["GET", "POST"])
@workspace_view(V)
def draft_node(request: HtmxHttpRequest, workspace, draft_id, node_id: str):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    if request.method == "GET":
        return _node_panel(request, workspace, draft, node_id)
    params = {k[6:]: v for k, v in request.POST.items() if k.startswith("param.")}
    try:
        draft = drafts.node_set(
            actor=request.user, draft=draft, node=node_id, params=params,
            compute=request.POST.get("compute"), label=request.POST.get("label"),
        )  # fmt: skip
    except ValidationError as exc:
        errors = {k.removeprefix("params."): v for k, v in exc.fields.items()} or {
            "": [exc.message]
        }
        return _node_panel(
            request, workspace, draft, node_id, errors=errors, values=params, status=422
        )
    return _node_panel(request, workspace, draft, node_id)


@require_http_methods(["GET", "POST"])
@workspace_view(V)
def draft_settings(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in drafts.SETTINGS_KEYS if k in request.POST}
        for key in ("continue_on_step_failure", "force_rerun"):
            values.setdefault(key, "")
        try:
            draft = drafts.draft_set_settings(actor=request.user, draft=draft, settings=values)
        except ValidationError as exc:
            return _settings_panel(request, workspace, draft, error=exc.message, status=422)
    return _settings_panel(request, workspace, draft)


@require_http_methods(["GET", "POST"])
@workspace_view(V)
def draft_validate(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    issues = pipeline_yaml.draft_check(actor=request.user, draft=draft)
    nodes = draft.graph.get("nodes") or {}
    for item in issues:
        item["label"] = (nodes.get(item["node"]) or {}).get("label", item["node"])
    marks = {}
    for item in issues:
        if item["node"]:
            marks.setdefault(item["node"], []).append(item["message"])
    context = {"issues": issues, "marks": json.dumps(marks), "draft": draft}
    return render(request, "designer/_issues.html", context)


@require_GET
@workspace_view(V)
def draft_history(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    changes = selectors.change_list(draft=draft)
    return render(request, "designer/_history.html", {"draft": draft, "changes": changes})


@require_GET
@workspace_view(V)
def draft_export(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    text = pipeline_yaml.draft_export(actor=request.user, draft=draft)
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in draft.name).strip("-")
    response["Content-Disposition"] = f'attachment; filename="{safe or "pipeline"}.yml"'
    return response


@require_http_methods(["GET", "POST"])
@workspace_view(V)
def draft_submit(request: HtmxHttpRequest, workspace, draft_id):
    draft = selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)
    settings = draft.graph.get("settings") or {}
    context = {
        "draft": draft, "computes": selectors.compute_names(workspace), "error": "",
        "fields": {}, "compute": settings.get("default_compute", ""),
        "experiment": settings.get("experiment_name", ""),
        "url": reverse("designer:draft-submit", args=(workspace.name, draft.pk)),
    }  # fmt: skip
    if request.method == "GET":
        return render(request, "designer/_submit.html", context)
    compute, experiment = request.POST.get("compute", ""), request.POST.get("experiment", "")
    try:
        pipeline_yaml.draft_submit(
            actor=request.user, draft=draft, compute=compute, experiment=experiment
        )
    except (ValidationError, Conflict) as exc:
        context.update(error=exc.message, fields=exc.fields, compute=compute, experiment=experiment)
        return render(request, "designer/_submit.html", context, status=422)
    url = reverse("designer:draft-detail", args=(workspace.name, draft.pk)) + "?view=run"
    if is_partial(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
