"""Printing results: `-o json` (exactly the API's JSON), `yaml`, `table`, `tsv` (values only,
for shell scripts, as in `az -o tsv`) and `none`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

FORMATS = ("json", "table", "yaml", "tsv", "none")
MAX_CELL = 60

# A column: (heading, key in the object). Keys may be dotted for nested values.
Column = tuple[str, str]


def render(data: Any, fmt: str, *, columns: Sequence[Column] | None = None) -> str:
    """`data` is an object (dict) or a list of them, rendered as `fmt` (no trailing newline)."""
    if fmt == "none":
        return ""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False)
    if fmt == "yaml":
        return _yaml(data)
    rows = data if isinstance(data, list) else [data]
    if fmt == "tsv":
        return "\n".join(_tsv_line(row) for row in rows)
    return table(rows, columns or _columns_of(rows))


def emit(data: Any, fmt: str, *, columns: Sequence[Column] | None = None) -> None:
    text = render(data, fmt, columns=columns)
    if text:
        click.echo(text)


def _yaml(data: Any) -> str:
    import yaml

    if data in ([], {}):
        return "[]" if data == [] else "{}"
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    ).rstrip("\n")


def _columns_of(rows: list[dict]) -> list[Column]:
    keys: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else ():
            if key not in keys:
                keys.append(key)
    return [(k.replace("_", " ").capitalize(), k) for k in keys]


def _get(row: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(row, dict):
            return None
        row = row.get(part)
    return row


def _values(row: Any, columns: Sequence[Column] | None) -> list[Any]:
    if not isinstance(row, dict):
        return [row]
    if columns:
        return [_get(row, key) for _, key in columns]
    return list(row.values())


def _tsv_line(row: Any) -> str:
    """As `az -o tsv`: the object's plain values in key order; nested ones are left out."""
    values = list(row.values()) if isinstance(row, dict) else [row]
    return "\t".join(_tsv_cell(v) for v in values if not isinstance(v, (dict, list)))


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\t", " ").replace("\n", " ")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
        if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T":
            text = text[:16].replace("T", " ")  # an ISO timestamp, to the minute
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(rows: list[Any], columns: Sequence[Column]) -> str:
    """A plain text table: headings, a rule, one line per row (an empty list prints nothing)."""
    if not rows:
        return ""
    cells = [[_cell(v) for v in _values(row, columns)] for row in rows]
    heads = [h for h, _ in columns] if all(isinstance(r, dict) for r in rows) else ["Value"]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
