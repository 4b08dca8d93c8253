"""A draft as a pipeline: validation (each problem on its node), export to pipelineJob YAML,
import from it, submit through the pipelines service, and 'Clone to draft' from a run.

Export writes a pipelineJob (azureml-yaml.md §2.3): each component node is a step
`jobs.<node id>` with `component: azureml:<name>:<version>`, its parameter values and its
data inputs bound to `${{parent.jobs.<step>.outputs.<name>}}`; each data node is a pipeline
input `inputs.<node id>: {type, path: azureml:<name>:<version>}` bound with
`${{parent.inputs.<node id>}}`. Where the nodes sit and the data nodes' labels are kept in
`properties["studio.designer"]` (JSON), so export then import gives the same graph.

Import reads such a document (or any pipelineJob whose steps are registered components) and
refuses, with the exact reason and the YAML line, a missing component, a binding to a
missing step or output, an incompatible connection, a cycle or a parameter outside its range.
Nothing is saved unless the whole document is good.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml
from django.db import transaction

from apps.assets import selectors as asset_selectors
from apps.assets.models import Kind
from apps.jobs import pipeline_graph
from apps.jobs.models import Job
from apps.workspaces import permissions
from apps.workspaces.models import Compute, Workspace
from apps.workspaces.permissions import Action
from studio.cli import yamlio
from studio.errors import ValidationError

from . import drafts, selectors
from . import graph as g
from .models import Draft

SCHEMA = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"
LAYOUT_KEY = "studio.designer"
STEP_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")


# Validation ---------------------------------------------------------------------------------


def draft_validate(
    *, actor, draft: Draft, graph: dict | None = None, node: str | None = None
) -> list[dict]:
    """Every problem of the draft as {node, field, message}: a missing component, a required
    input without a value, a required port without an edge, an invalid value, no compute.
    An empty list means the draft can be submitted.

    With `node`, exactly the problems whose node is that one (the properties panel's list,
    after each parameter change): the same checks, on that node only, and the cycle search
    only when the node lies on a cycle."""
    permissions.require(actor, Action.PIPELINE_VIEW, draft.workspace)
    graph = graph if graph is not None else draft.graph
    nodes, settings = graph.get("nodes") or {}, graph.get("settings") or {}
    if node is not None:
        return _node_issues(draft, graph, node)
    refs = selectors.refs_of(draft.workspace, nodes)
    fed = {(e["target"][0], e["target"][1]) for e in graph.get("edges") or []}
    computes = set(selectors.compute_names(draft.workspace))
    issues: list[dict] = []

    def issue(node: str, field: str, message: str) -> None:
        issues.append({"node": node, "field": field, "message": message})

    if not any(n.get("kind") == "component" for n in nodes.values()):
        issue("", "jobs", "the draft has no component: drag one from the palette.")
    default = settings.get("default_compute", "")
    if default and default not in computes:
        issue("", "settings.default_compute", f"no compute named '{default}' in the workspace.")
    for nid, item in nodes.items():
        _check_node(nid, item, refs, fed, default, computes, issue)
    for edge in graph.get("edges") or []:
        for end in (edge["source"][0], edge["target"][0]):
            if end not in nodes:
                issue("", "edges", f"connection {edge['id']} names a missing node '{end}'.")
    cycle = g.find_cycle(graph)
    if cycle:
        issue(cycle[0], "edges", "the graph has a cycle: " + " → ".join(cycle) + ".")
    return issues


def _on_a_cycle(graph: dict, nid: str) -> bool:
    """Whether the node can reach itself (a walk over the edges, no graph library)."""
    succ: dict[str, list[str]] = {}
    for e in graph.get("edges") or []:
        succ.setdefault(e["source"][0], []).append(e["target"][0])
    seen, todo = set(), list(succ.get(nid, ()))
    while todo:
        n = todo.pop()
        if n == nid:
            return True
        if n not in seen:
            seen.add(n)
            todo.extend(succ.get(n, ()))
    return False


def _node_issues(draft: Draft, graph: dict, nid: str) -> list[dict]:
    """draft_validate's problems of one node (see there)."""
    nodes, settings = graph.get("nodes") or {}, graph.get("settings") or {}
    issues: list[dict] = []

    def issue(node: str, field: str, message: str) -> None:
        issues.append({"node": node, "field": field, "message": message})

    item = nodes.get(nid)
    if item is not None:
        refs = selectors.refs_of(draft.workspace, [item])
        fed = {(e["target"][0], e["target"][1]) for e in graph.get("edges") or []
               if e["target"][0] == nid}  # fmt: skip
        computes = set(selectors.compute_names(draft.workspace))
        _check_node(nid, item, refs, fed, settings.get("default_compute", ""), computes, issue)
    if _on_a_cycle(graph, nid):
        cycle = g.find_cycle(graph)
        if cycle and cycle[0] == nid:
            issue(nid, "edges", "the graph has a cycle: " + " → ".join(cycle) + ".")
    return issues


def _check_node(nid, node, refs, fed, default, computes, issue) -> None:
    """One node's problems (draft_validate), reported through `issue(node, field, msg)`."""
    if node.get("kind") == "data":
        if node.get("ref") not in refs.data:
            issue(nid, "ref", f"data {node.get('ref')} no longer exists.")
        return
    row = refs.components.get(node.get("ref", ""))
    if row is None:
        issue(nid, "component", f"component {node.get('ref')} no longer exists.")
        return
    params = node.get("params") or {}
    for name, decl in row.inputs.items():
        field = f"inputs.{name}"
        value = params.get(name)
        is_data = decl["type"] not in g.PARAM_TYPES
        if value not in (None, ""):
            try:
                drafts.check_param(decl, value, field)
            except ValidationError as exc:
                issue(nid, field, (list(exc.fields.values()) or [[exc.message]])[0][0])
            continue
        if decl.get("optional") or decl.get("default") is not None:
            continue
        if is_data and (nid, name) not in fed:
            issue(nid, field, f"required input port '{name}' is not connected.")
        elif not is_data:
            issue(nid, field, f"'{name}' is required: set it in the properties panel.")
    compute = node.get("compute") or default
    if not compute:
        issue(nid, "compute", "no compute: set the draft's default compute or this node's.")
    elif compute not in computes:
        issue(nid, "compute", f"no compute named '{compute}' in the workspace.")


def draft_check(*, actor, draft: Draft) -> list[dict]:
    """The Designer's own checks, then (when they pass) the pipelines service's dry run,
    its field errors put on the step's node."""
    from apps.jobs.services import pipelines

    issues = draft_validate(actor=actor, draft=draft)
    if issues or not permissions.can(actor, Action.JOB_RUN, draft.workspace):
        return issues
    try:
        document = export_doc(_typed_data(draft.graph, draft.workspace), draft.name)
        pipelines.pipeline_check(actor=actor, workspace=draft.workspace, document=document)
    except ValidationError as exc:
        for field, msgs in (exc.fields or {"": [exc.message]}).items():
            parts = field.split(".")
            node = parts[1] if len(parts) > 1 and parts[0] == "jobs" else ""
            issues.append({"node": node, "field": field, "message": " ".join(msgs)})
    return issues


# Export -------------------------------------------------------------------------------------


def export_doc(graph: dict, name: str = "", *, compute: str = "", experiment: str = "") -> dict:
    """The draft's graph as a pipelineJob document (a dict)."""
    nodes, settings = graph.get("nodes") or {}, dict(graph.get("settings") or {})
    if compute:
        settings["default_compute"] = compute
    if experiment:
        settings["experiment_name"] = experiment
    bindings: dict[str, dict[str, str]] = {}
    for edge in sorted(graph.get("edges") or [], key=lambda e: e["id"]):
        (src, out), (dst, inp) = edge["source"], edge["target"]
        if nodes.get(src, {}).get("kind") == "data":
            text = f"${{{{parent.inputs.{src}}}}}"
        else:
            text = f"${{{{parent.jobs.{src}.outputs.{out}}}}}"
        bindings.setdefault(dst, {})[inp] = text
    doc: dict[str, Any] = {"$schema": SCHEMA, "type": "pipeline"}
    if name:
        doc["display_name"] = name
    if settings.get("experiment_name"):
        doc["experiment_name"] = settings["experiment_name"]
    run_settings: dict[str, Any] = {}
    if settings.get("default_compute"):
        run_settings["default_compute"] = f"azureml:{settings['default_compute']}"
    for key in ("continue_on_step_failure", "force_rerun"):
        if key in settings:
            run_settings[key] = bool(settings[key])
    if run_settings:
        doc["settings"] = run_settings
    inputs, jobs, layout = {}, {}, {}
    for nid in sorted(nodes, key=lambda n: (nodes[n].get("kind") != "data", n)):
        node = nodes[nid]
        layout[nid] = {"x": node.get("x", 0), "y": node.get("y", 0), "label": node.get("label", "")}
        if node.get("kind") == "data":
            inputs[nid] = {"type": node.get("type") or "uri_folder", "path": node["ref"]}
            continue
        kind = "pipeline" if drafts.is_pipeline(node) else "command"
        step: dict[str, Any] = {"type": kind, "component": node["ref"]}
        if node.get("compute"):  # a sub-pipeline's: the default of its steps
            step["compute"] = f"azureml:{node['compute']}"
        values = {**(node.get("params") or {}), **bindings.get(nid, {})}
        if values:
            step["inputs"] = values
        jobs[nid] = step
    if inputs:
        doc["inputs"] = inputs
    doc["jobs"] = jobs
    doc["properties"] = {LAYOUT_KEY: json.dumps(layout, sort_keys=True, separators=(",", ":"))}
    return doc


def _typed_data(graph: dict, workspace: Workspace) -> dict:
    """The graph with each data node's `type` and each component node's `component_type`
    filled in from the rows they name (export needs them)."""
    refs = selectors.refs_of(workspace, graph.get("nodes") or {})
    out = {**graph, "nodes": {}}
    for nid, node in (graph.get("nodes") or {}).items():
        node = dict(node)
        if node.get("kind") == "data" and node.get("ref") in refs.data:
            node["type"] = refs.data[node["ref"]].type
        elif node.get("kind") != "data" and node.get("ref") in refs.components:
            node["component_type"] = refs.components[node["ref"]].type
        out["nodes"][nid] = node
    return out


def draft_export(*, actor, draft: Draft) -> str:
    """The draft as pipeline YAML text."""
    permissions.require(actor, Action.PIPELINE_VIEW, draft.workspace)
    doc = export_doc(_typed_data(draft.graph, draft.workspace), draft.name)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


# Import -------------------------------------------------------------------------------------


class _Reader:
    """Reads a pipelineJob document into a graph; each refusal names the field and line."""

    def __init__(self, actor, workspace: Workspace, lines: yamlio.LineMap | None):
        self.actor, self.workspace, self.lines = actor, workspace, lines

    def fail(self, field: str, message: str) -> ValidationError:
        where = ""
        if self.lines is not None:
            line = yamlio.where(self.lines, field)
            if ":" in line:
                where = f"line {line.rsplit(':', 1)[1]}: "
        return ValidationError(f"{where}{field}: {message}", fields={field: [message]})

    def mapping(self, value: Any, field: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(field, "must be a mapping.")
        return dict(value)

    def read(self, doc: Any) -> dict:
        if not isinstance(doc, Mapping):
            raise self.fail("", "the YAML must be a pipelineJob mapping.")
        if doc.get("type", "pipeline") != "pipeline":
            raise self.fail("type", f"is '{doc.get('type')}': only pipeline jobs can be drafts.")
        layout = self._layout(doc)
        graph: dict = {"nodes": {}, "edges": [], "settings": self._settings(doc)}
        literals = self._inputs(doc, graph, layout)
        jobs = self.mapping(doc.get("jobs"), "jobs")
        if not jobs:
            raise self.fail("jobs", "is required: a pipeline needs at least one step.")
        rows = {}
        for step, node in jobs.items():
            rows[step] = self._step(graph, str(step), node, layout)
        for step, node in jobs.items():
            self._bind(graph, step, self.mapping(node.get("inputs"), f"jobs.{step}.inputs"),
                       rows, literals)  # fmt: skip
        cycle = g.find_cycle(graph)
        if cycle:
            raise self.fail("jobs", "the steps make a cycle: " + " → ".join(cycle) + ".")
        graph["edges"].sort(key=lambda e: e["id"])
        if not layout:
            refs = selectors.refs_of(self.workspace, graph["nodes"])
            heights = {}
            for nid, node in graph["nodes"].items():
                ports = drafts.ports_of(node, refs) or ({}, {})
                heights[nid] = g.node_height(len(ports[0]), len(ports[1]))
            for nid, (x, y) in g.layout(graph, heights).items():
                graph["nodes"][nid]["x"], graph["nodes"][nid]["y"] = x, y
        return graph

    def _layout(self, doc: Mapping) -> dict:
        text = self.mapping(doc.get("properties"), "properties").get(LAYOUT_KEY)
        try:
            found = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def _settings(self, doc: Mapping) -> dict:
        raw = self.mapping(doc.get("settings"), "settings")
        out: dict = {}
        compute = raw.get("default_compute") or doc.get("compute")
        if compute:
            out["default_compute"] = str(compute).strip().removeprefix("azureml:")
        if doc.get("experiment_name"):
            out["experiment_name"] = str(doc["experiment_name"]).strip()
        for key in ("continue_on_step_failure", "force_rerun"):
            if key in raw:
                if not isinstance(raw[key], bool):
                    raise self.fail(f"settings.{key}", "must be true or false.")
                out[key] = raw[key]
        return out

    def _place(self, node: dict, nid: str, layout: dict) -> None:
        spot = layout.get(nid)
        if isinstance(spot, Mapping):
            node["x"], node["y"] = int(spot.get("x", 0)), int(spot.get("y", 0))
            if spot.get("label"):
                node["label"] = str(spot["label"])

    def _inputs(self, doc: Mapping, graph: dict, layout: dict) -> dict:
        """Data pipeline inputs become data nodes; literal ones are returned, to be put in
        the parameters that bind to them."""
        literals = {}
        for name, spec in self.mapping(doc.get("inputs"), "inputs").items():
            field = f"inputs.{name}"
            path = spec.get("path") if isinstance(spec, Mapping) else None
            kind = spec.get("type") if isinstance(spec, Mapping) else None
            if isinstance(path, str) and path.startswith("azureml:") and kind not in g.PARAM_TYPES:
                row = self._resolve(Kind.DATA, path, f"{field}.path")
                node = {"kind": "data", "ref": row.reference, "label": row.name, "x": 0, "y": 0,
                        "params": {}, "compute": ""}  # fmt: skip
                self._place(node, str(name), layout)
                graph["nodes"][str(name)] = node
            elif isinstance(spec, Mapping):
                literals[name] = spec.get("default", spec.get("path"))
            else:
                literals[name] = spec
        return literals

    def _resolve(self, kind: str, ref: str, field: str):
        try:
            return asset_selectors.resolve(
                actor=self.actor, workspace=self.workspace, kind=kind, ref=ref, field=field
            )
        except ValidationError as exc:
            raise self.fail(field, (list(exc.fields.values()) or [[exc.message]])[0][0]) from None

    def _step(self, graph: dict, step: str, node: Any, layout: dict):
        here = f"jobs.{step}"
        if not isinstance(node, Mapping):
            raise self.fail(here, "must be a mapping.")
        if not STEP_NAME.match(step):
            raise self.fail(
                here, "is not a step name: letters, digits, '_' and '-', starting with a letter."
            )
        if step in graph["nodes"]:
            raise self.fail(here, f"'{step}' is also the name of a pipeline input.")
        comp = node.get("component")
        if not isinstance(comp, str) or not comp.strip().startswith("azureml:"):
            what = "an inline command" if node.get("command") else "an inline component"
            if comp is None and not node.get("command"):
                what = "no component"
            raise self.fail(
                f"{here}.component",
                f"the step has {what}: the Designer draws registered components only "
                "(component: azureml:<name>:<version>).",
            )
        row = self._resolve(Kind.COMPONENT, comp.strip(), f"{here}.component")
        step_type = node.get("type") or row.type
        if row.type not in drafts.COMPONENT_TYPES:
            raise self.fail(
                f"{here}.component", "only command and pipeline components can be drawn."
            )
        if step_type != row.type:
            raise self.fail(
                f"{here}.type", f"is '{step_type}' but {row.reference} is a {row.type} "
                f"component: use type: {row.type}.",
            )  # fmt: skip
        compute = str(node.get("compute") or "").strip().removeprefix("azureml:")
        item = {"kind": "component", "ref": row.reference,
                "label": str(node.get("display_name") or row.display_name or row.name),
                "x": 0, "y": 0, "params": {}, "compute": compute}  # fmt: skip
        if row.type == "pipeline":
            item["component_type"] = "pipeline"
        self._place(item, step, layout)
        graph["nodes"][step] = item
        return row

    def _bind(self, graph: dict, step: str, inputs: dict, rows: dict, literals: dict) -> None:
        row = rows[step]
        refs = selectors.refs_of(self.workspace, graph["nodes"])
        for name, value in inputs.items():
            field = f"jobs.{step}.inputs.{name}"
            decl = row.inputs.get(name)
            if decl is None:
                raise self.fail(field, f"is not an input of {row.reference} "
                                       f"(its inputs: {', '.join(row.inputs) or 'none'}).")  # fmt: skip
            source = None
            bound = pipeline_graph.step_binding(value)
            parent = pipeline_graph.parent_binding(value)
            if bound is not None:
                other, kind, out = bound
                if other not in rows:
                    raise self.fail(
                        field, f"binds to step '{other}', which the pipeline does not have."
                    )
                if kind != "outputs" or out not in rows[other].outputs:
                    known = ", ".join(rows[other].outputs) or "none"
                    raise self.fail(
                        field, f"step '{other}' has no output '{out}' (its outputs: {known})."
                    )
                source = (other, out)
            elif parent is not None:
                kind, pname = parent
                if kind != "inputs":
                    raise self.fail(field, "an input cannot bind to the pipeline's outputs.")
                if pname in graph["nodes"] and graph["nodes"][pname]["kind"] == "data":
                    source = (pname, g.DATA_OUTPUT)
                elif pname in literals:
                    value = literals[pname]
                else:
                    raise self.fail(field, f"the pipeline has no input '{pname}'.")
            if source is not None:
                refused = drafts.connect_refusal(graph, refs, source, (step, name))
                if refused:
                    raise self.fail(field, refused[1])
                graph["edges"].append({"id": drafts.edge_id(source, (step, name)),
                                       "source": list(source), "target": [step, name]})  # fmt: skip
                continue
            if isinstance(value, Mapping) and decl["type"] not in g.PARAM_TYPES:
                value = value.get("path")
            text = pipeline_graph.binding_text(value)
            if source is None and text and pipeline_graph.ANY_EXPRESSION.search(text):
                raise self.fail(
                    field,
                    f"'{text}' is not a binding the Designer knows: use "
                    "${{parent.inputs.<name>}} or ${{parent.jobs.<step>.outputs.<name>}}.",
                )
            try:
                typed = drafts.check_param(decl, value, field)
            except ValidationError as exc:
                raise self.fail(
                    field, (list(exc.fields.values()) or [[exc.message]])[0][0]
                ) from None
            if typed is not None:
                graph["nodes"][step]["params"][name] = typed


def read_yaml(*, actor, workspace: Workspace, text: str) -> dict:
    """A pipelineJob YAML text as a checked draft graph (nothing saved)."""
    permissions.require(actor, Action.PIPELINE_EDIT, workspace)
    if not isinstance(text, str) or not text.strip():
        raise ValidationError.for_field("yaml", "is empty: paste or upload a pipeline YAML.")
    try:
        doc, lines = yamlio.loads(text, "pipeline.yml")
    except yamlio.YamlError as exc:
        raise ValidationError.for_field(
            "yaml", str(exc).replace("pipeline.yml:", "line ")
        ) from None
    return _Reader(actor, workspace, lines).read(doc)


def read_doc(*, actor, workspace: Workspace, doc: Any) -> dict:
    permissions.require(actor, Action.PIPELINE_EDIT, workspace)
    return _Reader(actor, workspace, None).read(doc)


def draft_import(
    *, actor, workspace: Workspace, name: str, text: str, draft: Draft | None = None
) -> Draft:
    """A new draft from pipeline YAML (or, given `draft`, that draft's graph replaced as one
    change). Refused whole, nothing saved, when any part of the YAML is wrong."""
    with transaction.atomic():
        graph = read_yaml(actor=actor, workspace=workspace, text=text)
        if draft is not None:
            return drafts.draft_replace(
                actor=actor, draft=draft, graph=graph, action="import", summary="imported YAML"
            )
        return drafts.draft_create(
            actor=actor, workspace=workspace, name=name, graph=graph, action="import",
            summary="imported YAML",
        )  # fmt: skip


def draft_clone(*, actor, workspace: Workspace, job: Job, name: str = "") -> Draft:
    """'Clone to draft': a new draft from a pipeline run's YAML."""
    if job.type != Job.Type.PIPELINE:
        raise ValidationError.for_field("job", "only a pipeline run can be cloned to a draft.")
    doc = dict((job.spec or {}).get("yaml") or {})
    for key in ("name",):
        doc.pop(key, None)
    with transaction.atomic():
        graph = read_doc(actor=actor, workspace=workspace, doc=doc)
        base = name or f"{job.display_name or job.name} (clone)"
        final, i = base[:240], 2
        while Draft.objects.filter(workspace=workspace, name=final).exists():
            final, i = f"{base[:240]} {i}", i + 1
        return drafts.draft_create(
            actor=actor, workspace=workspace, name=final, graph=graph, action="clone",
            summary=f"cloned from run {job.name}",
        )  # fmt: skip


# Submit -------------------------------------------------------------------------------------


def draft_submit(*, actor, draft: Draft, compute: str = "", experiment: str = "") -> Job:
    """Submit the draft as a pipeline job: the compute and experiment chosen are kept in the
    draft's settings (one change), the draft is validated, and the pipelines service creates
    the job and its steps. A refusal leaves the draft as it was."""
    from apps.jobs.services import pipelines

    permissions.require(actor, Action.JOB_RUN, draft.workspace)
    settings = {}
    if compute:
        settings["default_compute"] = compute
    if experiment:
        settings["experiment_name"] = experiment
    with transaction.atomic():
        if settings:
            draft = drafts.draft_set_settings(actor=actor, draft=draft, settings=settings)
        issues = draft_validate(actor=actor, draft=draft)
        if issues:
            fields: dict[str, list[str]] = {}
            for item in issues:
                key = f"jobs.{item['node']}.{item['field']}" if item["node"] else item["field"]
                fields.setdefault(key, []).append(item["message"])
            first = issues[0]
            raise ValidationError(
                f"The draft has {len(issues)} problem{'s' if len(issues) > 1 else ''}: "
                f"{(first['node'] + ': ') if first['node'] else ''}{first['message']}",
                fields=fields,
            )
        doc = export_doc(_typed_data(draft.graph, draft.workspace), draft.name)
        job = pipelines.pipeline_submit(actor=actor, workspace=draft.workspace, document=doc)
        Draft.objects.filter(pk=draft.pk).update(last_job=job)
        draft.last_job = job
    return job


def compute_choices(workspace: Workspace) -> list[Compute]:
    return list(Compute.objects.filter(workspace=workspace).order_by("name"))
