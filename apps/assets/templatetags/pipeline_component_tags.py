"""The pipeline component's page: its steps as a graph (the pipeline run page's layout and
styles, static/css/pipeline.css) and as a table, each step's component linked to its
version page. Built from the frozen spec alone: no query per step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template
from django.urls import reverse

from apps.jobs import pipeline_graph

from .. import references

register = template.Library()

def _component(workspace, comp: Any) -> dict:
    """What a step runs: a registered version (linked) or an inline component."""
    if isinstance(comp, str):
        try:
            ref = references.parse(comp)
        except references.ReferenceError_:
            return {"label": comp, "url": "", "type": ""}
        url = ""
        if ref.version and not ref.registry:
            url = reverse(
                "assets:version-detail", args=[workspace.name, "components", ref.name, ref.version]
            )
        return {"label": str(ref), "url": url, "type": ""}
    if isinstance(comp, Mapping):
        kind = comp.get("type") or "command"
        return {"label": f"{comp.get('name') or 'inline'} (inline {kind})", "url": "", "type": kind}
    return {"label": "inline command", "url": "", "type": "command"}


def _value(value: Any) -> str:
    text = pipeline_graph.binding_text(value)
    if text is not None:
        return text
    return "" if value is None else str(value)


@register.simple_tag
def pipeline_component_graph(row, workspace) -> dict:
    """{nodes, edges, width, height, steps}: the graph in pixels and the table's rows."""
    jobs = (row.spec or {}).get("jobs") or {}
    shape = pipeline_graph.component_graph(jobs)
    boxes, nodes, steps = {}, [], []
    for name in shape["order"]:
        node = jobs[name]
        layer, line = shape["positions"][name]
        x, y = boxes[name] = pipeline_graph.box(layer, line)
        comp = _component(workspace, node.get("component"))
        if node.get("type") == "pipeline":
            comp["type"] = "pipeline"
        nodes.append({"name": name, "x": x, "y": y, **comp})
        steps.append(
            {
                "name": name,
                "component": comp,
                "inputs": [(k, _value(v)) for k, v in (node.get("inputs") or {}).items()],
                "outputs": [(k, _value(v)) for k, v in (node.get("outputs") or {}).items()],
            }
        )
    return {"nodes": nodes, "steps": steps, **pipeline_graph.drawing(boxes, shape["edges"])}


@register.simple_tag
def annotate_component_types(assets) -> str:
    """Set `component_type` (command, pipeline) on a list page's component names, from their
    latest versions in one query. Renders nothing."""
    from ..api.components import latest_types

    assets = list(assets)
    types = latest_types(assets)
    for asset in assets:
        asset.component_type = types.get(asset.pk, "")
    return ""
