"""The Designer's graph rules, as pure functions over the draft's graph JSON (no ORM):
which output may feed which input (the type table), whether an edge would make a cycle
(networkx), a layered left-to-right auto-layout, and node ids that are valid step names.

The graph format is documented in apps/designer/models.py. A node's ports come from its
component's declarations (`inputs`/`outputs`): data inputs are ports on the node's left,
parameters are edited in the properties panel and never take an edge; a data node has one
output port, `data`, of its data asset's type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import networkx as nx

PARAM_TYPES = ("integer", "number", "string", "boolean")
MODEL_TYPES = ("mlflow_model", "custom_model", "triton_model")

# input type -> the output types it accepts. A folder takes anything folder-shaped; a table
# takes a table or a folder holding one; a model takes its own kind of model (and a custom
# model any folder); `path` takes any data. Parameters take no edge at all.
ACCEPTS: dict[str, frozenset[str]] = {
    "uri_file": frozenset({"uri_file"}),
    "uri_folder": frozenset({"uri_folder", "mltable", *MODEL_TYPES}),
    "mltable": frozenset({"mltable", "uri_folder"}),
    "mlflow_model": frozenset({"mlflow_model"}),
    "custom_model": frozenset({"custom_model", "mlflow_model", "uri_folder"}),
    "triton_model": frozenset({"triton_model"}),
    "path": frozenset({"uri_file", "uri_folder", "mltable", *MODEL_TYPES}),
}
DATA_OUTPUT = "data"  # the one output port of a data node

# A built-in's table input (a uri_folder its script reads as one table, builtins.TABLE_INPUTS)
# takes a table: a folder or mltable holding one, or a single tabular file (a CSV, TSV or
# Parquet data asset registered as uri_file), as Azure ML's Designer connects a registered
# file dataset to its modules. A model, which a plain folder input takes, is no table, nor is
# a file of another kind (JSON, an image).
TABLE_TAKES = frozenset({"uri_folder", "mltable", "uri_file"})
TABLE_FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


def file_table_refusal(path: str, target_input: str) -> str | None:
    """Why a uri_file at `path` cannot feed a built-in's table input, or None: it must be a
    CSV, TSV or Parquet file (by its suffix)."""
    name = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if name.lower().endswith(TABLE_FILE_SUFFIXES):
        return None
    return (
        f"'{target_input}' reads a table: a uri_file feeding it must be a CSV, TSV or Parquet "
        f"file, and this one is {name or path}."
    )


NODE_W = 220
PORT_H = 22
HEAD_H = 40
GAP_X = 90
GAP_Y = 40
PAD = 40


def type_refusal(
    source_type: str, target_type: str, target_input: str, *, table: bool = False
) -> str | None:
    """Why an output of `source_type` cannot feed input `target_input` of `target_type`,
    or None when it can. `table`: the input is a built-in's table input (TABLE_TAKES)."""
    if target_type in PARAM_TYPES:
        return (
            f"'{target_input}' is a parameter ({target_type}): it takes a value in the "
            f"properties panel, not a {source_type} output."
        )
    accepted = TABLE_TAKES if table else ACCEPTS.get(target_type)
    if accepted is None or source_type not in accepted:
        ok = ", ".join(sorted(accepted or ())) or "nothing"
        kind = "table" if table else target_type
        return (
            f"a {source_type} output cannot feed '{target_input}', a {kind} input (it takes {ok})."
        )
    return None


def digraph(graph: Mapping) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(graph.get("nodes") or {})
    for edge in graph.get("edges") or []:
        g.add_edge(edge["source"][0], edge["target"][0])
    return g


def cycle_refusal(graph: Mapping, source: str, target: str) -> str | None:
    """Why an edge source → target would make a cycle (naming the path back), or None."""
    if source == target:
        return "a node cannot feed itself."
    g = digraph(graph)
    if target in g and source in g and nx.has_path(g, target, source):
        path = nx.shortest_path(g, target, source)
        return "it would make a cycle: " + " → ".join([*path, target]) + "."
    return None


def find_cycle(graph: Mapping) -> list[str] | None:
    """The nodes of a cycle in the graph, or None."""
    try:
        edges = nx.find_cycle(digraph(graph))
    except nx.NetworkXNoCycle:
        return None
    return [a for a, _ in edges] + [edges[0][0]]


def node_height(n_in: int, n_out: int) -> int:
    return HEAD_H + PORT_H * max(n_in, n_out, 1)


def layout(graph: Mapping, heights: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Layered left to right: a node's layer is its longest path from a source; inside a
    layer nodes are ordered by the mean row of their predecessors (fewer crossings), then by
    their current y. Answers {node: (x, y)}."""
    g = digraph(graph)
    nodes = graph.get("nodes") or {}
    layer: dict[str, int] = {}
    for n in nx.topological_sort(g):
        layer[n] = max((layer[p] + 1 for p in g.predecessors(n)), default=0)
    layers: dict[int, list[str]] = {}
    for n, i in layer.items():
        layers.setdefault(i, []).append(n)
    rank: dict[str, float] = {}
    out: dict[str, tuple[int, int]] = {}
    for i in sorted(layers):
        members = layers[i]

        def key(n: str) -> tuple[float, float, str]:
            preds = [rank[p] for p in g.predecessors(n) if p in rank]
            mean = sum(preds) / len(preds) if preds else float("inf")
            return (mean, float(nodes.get(n, {}).get("y", 0)), n)

        members.sort(key=key)
        y = PAD
        for j, n in enumerate(members):
            rank[n] = j
            out[n] = (PAD + i * (NODE_W + GAP_X), y)
            y += heights.get(n, node_height(1, 1)) + GAP_Y
    return out


_BAD = re.compile(r"[^A-Za-z0-9_]+")


def node_id(base: str, taken) -> str:
    """A new node id from a component or data name: a valid step name (letters, digits,
    '_', starting with a letter), unique in the draft (`_2`, `_3`...)."""
    stem = _BAD.sub("_", base).strip("_").lower() or "node"
    if not stem[0].isalpha():
        stem = f"n_{stem}"
    stem = stem[:56]
    candidate, i = stem, 2
    while candidate in taken:
        candidate, i = f"{stem}_{i}", i + 1
    return candidate
