"""Filters of the model panel: an MLflow signature's columns as table rows, JSON shown
indented."""

from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def signature_rows(columns) -> list[dict]:
    """[{name, type, shape, required}] for a signature's inputs or outputs (column specs
    `{"name", "type", "required"}` or tensor specs `{"type": "tensor", "tensor-spec": {...}}`)."""
    rows = []
    for col in columns if isinstance(columns, list) else []:
        if not isinstance(col, dict):
            continue
        spec = col.get("tensor-spec") or {}
        kind = col.get("type", "")
        if kind == "tensor":
            kind = f"tensor ({spec.get('dtype', '?')})"
        elif kind == "array" and isinstance(col.get("items"), dict):
            kind = f"array of {col['items'].get('type', '?')}"
        shape = spec.get("shape")
        rows.append(
            {
                "name": col.get("name", ""),
                "type": kind,
                "shape": "" if shape is None else str(tuple(shape)),
                "required": col.get("required", True) is not False,
            }
        )
    return rows


@register.filter
def pretty_json(value) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)[:20000]
    except (TypeError, ValueError):
        return str(value)
