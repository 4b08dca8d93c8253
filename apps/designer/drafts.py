"""Designer drafts: create, rename, delete, and every canvas gesture as a service.

Each gesture (add a node, move it, connect two ports, change a parameter, delete, lay out)
runs in one transaction under a row lock of the draft: it reads the graph, checks the change
(the server decides: port types, cycles, parameter values), and writes the new graph on the
draft together with a DraftChange (who, what, when, the graph after it). A refused gesture
raises ValidationError naming the node and port, and nothing is written, so the draft keeps
its last good revision. Undo and redo move the draft's revision pointer along its changes; a
new gesture after an undo drops the changes ahead of it.

Validation, YAML export/import and submit live in apps/designer/pipeline_yaml.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.assets import selectors as asset_selectors
from apps.assets.models import Kind
from apps.assets.services import components as component_services
from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from studio.errors import Conflict, NotFound, ValidationError

from . import builtins, selectors
from . import graph as g
from .models import Draft, DraftChange, empty_graph

MAX_NAME = 255
# The component types a node may be: a command step, or a registered pipeline component (a
# sub-pipeline drawn as one node with its interface's ports; it runs as a `type: pipeline`
# step, flattened by apps/jobs/services/pipelines.py).
COMPONENT_TYPES = ("command", "pipeline")
SETTINGS_KEYS = ("default_compute", "experiment_name", "continue_on_step_failure", "force_rerun")


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError.for_field(field, message)


def _clean_name(name: Any) -> str:
    text = (name if isinstance(name, str) else "").strip()
    if not text:
        raise _fail("name", "is required.")
    if len(text) > MAX_NAME:
        raise _fail("name", f"is longer than {MAX_NAME} characters.")
    return text


def _actor(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


# Drafts ---------------------------------------------------------------------------------------


def draft_create(
    *, actor, workspace: Workspace, name: Any, description: str = "", graph: dict | None = None,
    action: str = "create", summary: str = "created the draft",
) -> Draft:  # fmt: skip
    """A new draft (empty, or with a graph already checked by the caller) and its first
    revision."""
    permissions.require(actor, Action.PIPELINE_EDIT, workspace)
    name = _clean_name(name)
    graph = graph or empty_graph()
    try:
        with transaction.atomic():
            draft = Draft.objects.create(
                workspace=workspace, name=name, description=description or "", graph=graph,
                created_by=_actor(actor), updated_by=_actor(actor),
            )  # fmt: skip
            DraftChange.objects.create(
                draft=draft, revision=0, action=action, summary=summary[:500], graph=graph,
                actor=_actor(actor),
            )  # fmt: skip
    except IntegrityError:
        raise Conflict(
            f"A draft named '{name}' already exists in '{workspace.name}'.",
            fields={"name": [f"'{name}' is taken: draft names are unique in the workspace."]},
        ) from None
    return draft


def draft_rename(*, actor, draft: Draft, name: Any, description: str | None = None) -> Draft:
    permissions.require(actor, Action.PIPELINE_EDIT, draft.workspace)
    name = _clean_name(name)
    if Draft.objects.filter(workspace=draft.workspace, name=name).exclude(pk=draft.pk).exists():
        raise Conflict(
            f"A draft named '{name}' already exists in '{draft.workspace.name}'.",
            fields={"name": [f"'{name}' is taken: draft names are unique in the workspace."]},
        )
    draft.name = name
    fields = ["name", "updated_by", "updated_at"]
    if description is not None:
        draft.description = description
        fields.append("description")
    draft.updated_by, draft.updated_at = _actor(actor), timezone.now()
    draft.save(update_fields=fields)
    return draft


@transaction.atomic
def draft_delete(*, actor, draft: Draft) -> None:
    permissions.require(actor, Action.PIPELINE_EDIT, draft.workspace)
    draft.delete()


# The change machinery -------------------------------------------------------------------------


def _locked(draft: Draft) -> Draft:
    fresh = Draft.objects.select_for_update().filter(pk=draft.pk).first()
    if fresh is None:
        raise NotFound("The draft was deleted.")
    fresh.workspace = draft.workspace
    return fresh


def change(*, actor, draft: Draft, action: str, mutate: Callable[[dict, Draft], str]) -> Draft:
    """Apply `mutate(graph, draft)` (which edits the graph in place and answers the change's
    summary, or raises ValidationError) as one new revision. Answers the saved draft."""
    permissions.require(actor, Action.PIPELINE_EDIT, draft.workspace)
    with transaction.atomic():
        locked = _locked(draft)
        # A JSON round trip copies the plain graph far faster than deepcopy (hot path).
        graph = json.loads(json.dumps(locked.graph or empty_graph()))
        graph.setdefault("nodes", {})
        graph.setdefault("edges", [])
        graph.setdefault("settings", {})
        summary = mutate(graph, locked)
        revision = locked.revision + 1
        DraftChange.objects.filter(draft=locked, revision__gte=revision).delete()
        DraftChange.objects.create(
            draft=locked, revision=revision, action=action, summary=str(summary)[:500],
            graph=graph, actor=_actor(actor),
        )  # fmt: skip
        locked.graph, locked.revision, locked.head_revision = graph, revision, revision
        locked.updated_by, locked.updated_at = _actor(actor), timezone.now()
        locked.save(
            update_fields=["graph", "revision", "head_revision", "updated_by", "updated_at"]
        )
    return locked


def _step(*, actor, draft: Draft, delta: int) -> Draft:
    permissions.require(actor, Action.PIPELINE_EDIT, draft.workspace)
    with transaction.atomic():
        locked = _locked(draft)
        target = locked.revision + delta
        if target < 0 or target > locked.head_revision:
            raise Conflict("Nothing to undo." if delta < 0 else "Nothing to redo.")
        row = DraftChange.objects.filter(draft=locked, revision=target).only("graph").first()
        if row is None:
            raise Conflict("That revision is no longer kept.")
        locked.graph, locked.revision = row.graph, target
        locked.updated_by, locked.updated_at = _actor(actor), timezone.now()
        locked.save(update_fields=["graph", "revision", "updated_by", "updated_at"])
    return locked


def draft_undo(*, actor, draft: Draft) -> Draft:
    """Back to the revision before the one shown."""
    return _step(actor=actor, draft=draft, delta=-1)


def draft_redo(*, actor, draft: Draft) -> Draft:
    """Forward to the revision after the one shown (after an undo)."""
    return _step(actor=actor, draft=draft, delta=+1)


# Nodes and ports ------------------------------------------------------------------------------


def ports_of(node: dict, refs: selectors.Refs) -> tuple[dict, dict] | None:
    """(data inputs, outputs) of a node as {name: type}, or None when its component or data
    asset is gone."""
    if node.get("kind") == "data":
        row = refs.data.get(node.get("ref", ""))
        return None if row is None else ({}, {g.DATA_OUTPUT: row.type})
    row = refs.components.get(node.get("ref", ""))
    if row is None:
        return None
    ins = {k: d["type"] for k, d in row.inputs.items() if d["type"] not in g.PARAM_TYPES}
    return ins, {k: d["type"] for k, d in row.outputs.items()}


def is_pipeline(node: dict, row=None) -> bool:
    """Whether a component node is a registered pipeline component (its row's type when the
    row is at hand, else the type recorded on the node when it was placed)."""
    if row is not None:
        return row.type == "pipeline"
    return node.get("component_type") == "pipeline"


def _number(value: Any, field: str) -> int:
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        raise _fail(field, "must be a number.") from None


def _node(graph: dict, node_id: Any) -> dict:
    node = graph["nodes"].get(node_id) if isinstance(node_id, str) else None
    if node is None:
        raise _fail("node", f"the draft has no node '{node_id}'.")
    return node


def node_add(*, actor, draft: Draft, kind: str, ref: str, x: Any = 40, y: Any = 40) -> Draft:
    """A node for a component version or a data asset version, at (x, y)."""
    if kind not in ("component", "data"):
        raise _fail("kind", "must be 'component' or 'data'.")
    asset_kind = Kind.COMPONENT if kind == "component" else Kind.DATA
    row = asset_selectors.resolve(
        actor=actor, workspace=draft.workspace, kind=asset_kind, ref=str(ref or ""), field="ref"
    )
    if kind == "component" and row.type not in COMPONENT_TYPES:
        raise _fail(
            "ref", f"{row.reference} is a {row.type} component: the canvas takes command and "
            "pipeline components.",
        )  # fmt: skip
    px, py = _number(x, "x"), _number(y, "y")
    label = (getattr(row, "display_name", "") or row.name) if kind == "component" else row.name

    def mutate(graph: dict, _draft: Draft) -> str:
        new_id = g.node_id(row.name, graph["nodes"])
        graph["nodes"][new_id] = {
            "kind": kind, "ref": f"azureml:{row.name}:{row.version}", "label": label,
            "x": px, "y": py, "params": {}, "compute": "",
        }  # fmt: skip
        if kind == "component" and row.type == "pipeline":
            graph["nodes"][new_id]["component_type"] = "pipeline"
        mutate.node_id = new_id
        return f"added {label}"

    saved = change(actor=actor, draft=draft, action="add-node", mutate=mutate)
    saved.changed_node = mutate.node_id
    return saved


def node_move(*, actor, draft: Draft, node: str, x: Any, y: Any) -> Draft:
    px, py = _number(x, "x"), _number(y, "y")

    def mutate(graph: dict, _draft: Draft) -> str:
        item = _node(graph, node)
        item["x"], item["y"] = px, py
        return f"moved {item.get('label') or node}"

    return change(actor=actor, draft=draft, action="move-node", mutate=mutate)


def nodes_delete(*, actor, draft: Draft, nodes: list[str], edges: list[str] = ()) -> Draft:
    """Delete nodes (with their edges) and edges, as one change."""
    nodes, edges = list(nodes or []), list(edges or [])
    if not nodes and not edges:
        raise _fail("nodes", "select a node or an edge to delete.")

    def mutate(graph: dict, _draft: Draft) -> str:
        labels = [_node(graph, n).get("label") or n for n in nodes]
        known = {e["id"] for e in graph["edges"]}
        for e in edges:
            if e not in known:
                raise _fail("edge", f"the draft has no edge '{e}'.")
        for n in nodes:
            del graph["nodes"][n]
        gone = set(nodes)
        graph["edges"] = [
            e for e in graph["edges"]
            if e["id"] not in edges and e["source"][0] not in gone and e["target"][0] not in gone
        ]  # fmt: skip
        parts = [f"deleted {', '.join(labels)}"] if labels else []
        if edges:
            parts.append(f"removed {len(edges)} connection{'s' if len(edges) > 1 else ''}")
        return "; ".join(parts)

    return change(actor=actor, draft=draft, action="delete", mutate=mutate)


def edge_id(source: tuple[str, str], target: tuple[str, str]) -> str:
    return f"{source[0]}.{source[1]}->{target[0]}.{target[1]}"


def connect_refusal(graph: dict, refs: selectors.Refs, source, target) -> tuple[str, str] | None:
    """(field, reason) when output `source` (node, port) may not feed input `target`."""
    src_node, dst_node = graph["nodes"].get(source[0]), graph["nodes"].get(target[0])
    if src_node is None:
        return "source", f"the draft has no node '{source[0]}'."
    if dst_node is None:
        return "target", f"the draft has no node '{target[0]}'."
    src_ports, dst_ports = ports_of(src_node, refs), ports_of(dst_node, refs)
    if src_ports is None:
        return "source", f"'{source[0]}' refers to {src_node.get('ref')}, which no longer exists."
    if dst_ports is None:
        return "target", f"'{target[0]}' refers to {dst_node.get('ref')}, which no longer exists."
    out_type = src_ports[1].get(source[1])
    if out_type is None:
        known = ", ".join(src_ports[1]) or "none"
        return "source", f"'{source[0]}' has no output '{source[1]}' (its outputs: {known})."
    row = refs.components.get(dst_node.get("ref", ""))
    decl = (row.inputs if row is not None else {}).get(target[1])
    if decl is None:
        known = ", ".join(dst_ports[0]) or "none"
        return "target", f"'{target[0]}' has no input '{target[1]}' (its data inputs: {known})."
    table = builtins.is_table_input(row, target[1])
    reason = g.type_refusal(out_type, decl["type"], target[1], table=table)
    if reason:
        return "target", reason
    if table and out_type == "uri_file" and src_node.get("kind") == "data":
        reason = g.file_table_refusal(refs.data[src_node["ref"]].path, target[1])
        if reason:
            return "target", reason
    reason = g.cycle_refusal(graph, source[0], target[0])
    if reason:
        return "target", reason
    return None


def _pair(value: Any, field: str) -> tuple[str, str]:
    if isinstance(value, str) and ":" in value:
        value = value.split(":", 1)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _fail(field, "must be [node, port].")
    return str(value[0]), str(value[1])


def edge_connect(*, actor, draft: Draft, source: Any, target: Any) -> Draft:
    """Connect an output port to an input port. An input takes one edge: a new edge to an
    input already fed replaces the old one."""
    source, target = _pair(source, "source"), _pair(target, "target")

    def mutate(graph: dict, _draft: Draft) -> str:
        refs = selectors.refs_of(
            draft.workspace, [graph["nodes"].get(n) or {} for n in (source[0], target[0])]
        )
        refused = connect_refusal(graph, refs, source, target)
        if refused:
            field, reason = refused
            raise ValidationError(reason, fields={field: [reason]}, code="refused")
        graph["edges"] = [e for e in graph["edges"] if list(e["target"]) != list(target)]
        graph["edges"].append(
            {"id": edge_id(source, target), "source": list(source), "target": list(target)}
        )
        return f"connected {source[0]}.{source[1]} → {target[0]}.{target[1]}"

    return change(actor=actor, draft=draft, action="connect", mutate=mutate)


def check_param(decl: dict, value: Any, field: str) -> Any:
    """A parameter value read as its declared type and checked against min, max and enum
    (the component's own rules); an empty value is None (unset)."""
    if value is None or value == "":
        return None
    if decl["type"] not in g.PARAM_TYPES:
        if not isinstance(value, str):
            raise _fail(field, "a data input takes a path or a reference (a string).")
        return value.strip()
    checked = component_services.bind_inputs({"v": {**decl, "optional": True}}, {"v": value}, "v")
    return checked["v"]


def node_set(
    *, actor, draft: Draft, node: str, params: dict | None = None, compute: Any = None,
    label: Any = None,
) -> Draft:  # fmt: skip
    """Set a node's parameter values (text from the form is read as each input's type;
    empty unsets), its compute and its label. Every value is checked; any invalid one
    refuses the whole change, naming the field."""
    params = dict(params or {})

    def mutate(graph: dict, _draft: Draft) -> str:
        item = _node(graph, node)
        if item.get("kind") != "component":
            raise _fail("node", "a data node has no parameters.")
        refs = selectors.refs_of(draft.workspace, [item])
        row = refs.components.get(item["ref"])
        if row is None:
            raise _fail("node", f"component {item['ref']} no longer exists.")
        errors: dict[str, list[str]] = {}
        new = dict(item.get("params") or {})
        for name, value in params.items():
            decl = row.inputs.get(name)
            if decl is None:
                errors[f"params.{name}"] = ["is not an input of the component."]
                continue
            try:
                typed = check_param(decl, value, f"params.{name}")
            except ValidationError as exc:
                msgs = list(exc.fields.values())[0] if exc.fields else [exc.message]
                errors[f"params.{name}"] = msgs
                continue
            if typed is None:
                new.pop(name, None)
            else:
                new[name] = typed
        if errors:
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
            raise ValidationError(message, fields=errors)
        item["params"] = new
        if compute is not None:
            item["compute"] = str(compute).strip().removeprefix("azureml:")
        if label is not None and str(label).strip():
            item["label"] = str(label).strip()[:200]
        changed = ", ".join(sorted(params)) or "settings"
        return f"set {changed} of {item.get('label') or node}"

    return change(actor=actor, draft=draft, action="set-param", mutate=mutate)


def draft_set_settings(*, actor, draft: Draft, settings: dict) -> Draft:
    """The draft's default compute, experiment name and run settings."""

    def mutate(graph: dict, _draft: Draft) -> str:
        current = graph["settings"]
        for key, value in (settings or {}).items():
            if key not in SETTINGS_KEYS:
                raise _fail(
                    f"settings.{key}", f"is not a setting: one of {', '.join(SETTINGS_KEYS)}."
                )
            if key in ("continue_on_step_failure", "force_rerun"):
                if isinstance(value, str):
                    value = value.strip().lower() in ("true", "on", "1", "yes")
                current[key] = bool(value)
            else:
                text = str(value or "").strip().removeprefix("azureml:")
                if text:
                    current[key] = text
                else:
                    current.pop(key, None)
        return "changed the settings"

    return change(actor=actor, draft=draft, action="settings", mutate=mutate)


def draft_layout(*, actor, draft: Draft) -> Draft:
    """Auto-layout: layered, left to right."""

    def mutate(graph: dict, _draft: Draft) -> str:
        refs = selectors.refs_of(draft.workspace, graph["nodes"])
        heights = {}
        for nid, node in graph["nodes"].items():
            ports = ports_of(node, refs) or ({}, {})
            heights[nid] = g.node_height(len(ports[0]), len(ports[1]))
        for nid, (x, y) in g.layout(graph, heights).items():
            graph["nodes"][nid]["x"], graph["nodes"][nid]["y"] = x, y
        return "laid out the graph"

    return change(actor=actor, draft=draft, action="layout", mutate=mutate)


def draft_replace(*, actor, draft: Draft, graph: dict, action: str, summary: str) -> Draft:
    """Replace the whole graph (an import into an existing draft) as one change."""

    def mutate(current: dict, _draft: Draft) -> str:
        current.clear()
        current.update(copy.deepcopy(graph))
        return summary

    return change(actor=actor, draft=draft, action=action, mutate=mutate)
