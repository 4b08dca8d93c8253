"""Numbers in the data preview and profile tables: which cells are numeric (they are
right-aligned) and a short display of a float (the API keeps the full value)."""

from __future__ import annotations

import math
from numbers import Number

from django import template

register = template.Library()

NUMERIC_TYPES = {"integer", "float"}
SIGNIFICANT = 4


def _is_number(value) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


@register.filter
def cells(row, columns):
    """A preview row's cells as (value, numeric), numeric from the column's type."""
    return [
        (value, i < len(columns) and columns[i][1] in NUMERIC_TYPES) for i, value in enumerate(row)
    ]


@register.filter
def sig(value):
    """A float to 4 significant digits (70.054012 -> 70.05, 0.000123456 -> 0.0001235), without
    an exponent between 1e-4 and 1e15; integers and text as they are; None as a dash."""
    if value is None or value == "":
        return "—"
    if not _is_number(value) or isinstance(value, int):
        return value
    value = float(value)
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude < -4 or magnitude >= 15:
        return f"{value:.{SIGNIFICANT}g}"
    digits = max(0, SIGNIFICANT - 1 - magnitude)
    text = f"{round(value, digits):.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
