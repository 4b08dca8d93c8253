"""The graph of a pipeline: bindings between steps, cycle detection, order and layout.

Pure functions over plain dicts (no ORM): `services/pipelines.py` uses them when a pipeline
is submitted (to refuse cycles and bindings to missing steps, and to order the steps) and the
run page uses `layout()` to draw the graph. networkx does the graph work.

A step depends on another only through a binding in its `inputs`:
`${{parent.jobs.<step>.outputs.<name>}}` (azureml-yaml.md §1.3, §3.6).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from studio.errors import ValidationError

# `${{parent.jobs.prep.outputs.data}}`, `${{parent.inputs.x}}`, `${{parent.outputs.y}}`.
STEP_BINDING = re.compile(
    r"^\$\{\{\s*parent\.jobs\.([^.\s}]+)\.(outputs|inputs)\.([^.\s}]+)\s*\}\}$"
)
PARENT_BINDING = re.compile(r"^\$\{\{\s*parent\.(inputs|outputs)\.([A-Za-z_][\w.]*)\s*\}\}$")
ANY_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def binding_text(value: Any) -> str | None:
    """The text of a step input's value when it is a string or `{path: ...}`, else None."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping) and isinstance(value.get("path"), str):
        return value["path"].strip()
    return None


def step_binding(value: Any) -> tuple[str, str, str] | None:
    """(step, "outputs"|"inputs", name) when the value binds to another step."""
    text = binding_text(value)
    if text is None:
        return None
    m = STEP_BINDING.match(text)
    return (m[1], m[2], m[3]) if m else None


def parent_binding(value: Any) -> tuple[str, str] | None:
    """("inputs"|"outputs", name) when the value binds to the parent pipeline's I/O."""
    text = binding_text(value)
    if text is None:
        return None
    m = PARENT_BINDING.match(text)
    return (m[1], m[2]) if m else None


def level_graph(jobs: Mapping[str, Mapping], where: str = "jobs") -> nx.DiGraph:
    """The graph of one level of a pipeline (its `jobs:`): an edge prep → train for each
    input of train bound to an output of prep. Refuses a binding to a step that does not
    exist and a cycle, naming the field and the steps."""
    graph = nx.DiGraph()
    graph.add_nodes_from(jobs)
    for step, node in jobs.items():
        inputs = node.get("inputs") if isinstance(node, Mapping) else None
        if not isinstance(inputs, Mapping):
            continue
        for input_name, value in inputs.items():
            bound = step_binding(value)
            if bound is None:
                continue
            other, _, _ = bound
            if other not in jobs:
                raise ValidationError.for_field(
                    f"{where}.{step}.inputs.{input_name}",
                    f"binds to step '{other}', which is not a step of this pipeline "
                    f"(its steps: {', '.join(jobs)}).",
                )
            if other == step:
                raise ValidationError.for_field(
                    f"{where}.{step}.inputs.{input_name}",
                    f"step '{step}' binds to its own output: the steps form a cycle "
                    f"({step} → {step}).",
                )
            graph.add_edge(other, step)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    path = [a for a, _ in cycle] + [cycle[0][0]]
    raise ValidationError.for_field(
        where, f"the steps form a cycle: {' → '.join(path)}; a pipeline must be acyclic."
    )


def order(graph: nx.DiGraph) -> list[str]:
    """Steps in a topological order, ties broken by name (stable across submits)."""
    return list(nx.lexicographical_topological_sort(graph))


def build(steps: Iterable[str], edges: Iterable[tuple[str, str, str, str]]) -> nx.DiGraph:
    """The flat graph of a submitted pipeline's steps; edges (from, output, to, input)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(steps)
    for a, output, b, input_name in edges:
        if graph.has_edge(a, b):
            graph[a][b]["ports"].append((output, input_name))
        else:
            graph.add_edge(a, b, ports=[(output, input_name)])
    return graph


def layout(graph: nx.DiGraph) -> dict[str, tuple[int, int]]:
    """A layered layout: each step's (layer, row), layers by longest path from a source,
    rows in order within a layer. The page turns these into pixels."""
    positions: dict[str, tuple[int, int]] = {}
    for layer, names in enumerate(nx.topological_generations(graph)):
        for row, name in enumerate(sorted(names)):
            positions[name] = (layer, row)
    return positions


def descendants(graph: nx.DiGraph, step: str) -> set[str]:
    return set(nx.descendants(graph, step))


def component_graph(jobs: Mapping[str, Mapping]) -> dict:
    """One level of a pipeline component's steps, for its page: the edges (from, output, to,
    input) of its step bindings, the steps in order and each step's (layer, row)."""
    edges = []
    for step, node in jobs.items():
        inputs = node.get("inputs") if isinstance(node, Mapping) else None
        for input_name, value in (inputs or {}).items():
            bound = step_binding(value)
            if bound is not None and bound[0] in jobs:
                edges.append((bound[0], bound[2], step, input_name))
    graph = build(jobs, edges)
    return {"edges": edges, "order": order(graph), "positions": layout(graph)}


# Drawing: the same boxes and curves on the run page and on a pipeline component's page ------

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 200, 58, 70, 26, 16


def box(layer: int, row: int) -> tuple[int, int]:
    """The pixel corner of the node at (layer, row) of the layout."""
    return PAD + layer * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y)


def drawing(boxes: Mapping[str, tuple[int, int]], edges: Iterable[tuple[str, str, str, str]]):
    """{edges: [{d, title}], width, height}: each edge (a, output, b, input) between two
    drawn nodes as an SVG curve from a's right side to b's left side, and the canvas size."""
    paths = []
    for a, output, b, input_name in edges:
        if a in boxes and b in boxes:
            x1, y1 = boxes[a][0] + NODE_W, boxes[a][1] + NODE_H / 2
            x2, y2 = boxes[b][0], boxes[b][1] + NODE_H / 2
            mid = (x1 + x2) / 2
            paths.append(
                {
                    "d": f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}",
                    "title": f"{a}.{output} → {b}.{input_name}",
                }
            )
    width = max((x for x, _ in boxes.values()), default=0) + NODE_W + PAD
    height = max((y for _, y in boxes.values()), default=0) + NODE_H + PAD
    return {"edges": paths, "width": width, "height": height}
