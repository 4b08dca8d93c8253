"""Template filters of the component pages: a command with its placeholders marked."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

_PLACEHOLDER = re.compile(r"(\$\{\{.*?\}\})")
_OPTIONAL = re.compile(r"(\$\[\[|\]\])")


@register.filter
def command_html(command: str) -> str:
    """The command, escaped, with `${{inputs.x}}` and `${{outputs.y}}` in <mark> and the
    `$[[ ]]` of optional parts dimmed."""
    text = escape(command or "")
    text = _PLACEHOLDER.sub(
        lambda m: f'<mark class="ph ph-{"out" if "outputs." in m[1] else "in"}">{m[1]}</mark>',
        text,
    )
    text = _OPTIONAL.sub(lambda m: f'<span class="ph-optional">{m[1]}</span>', text)
    return mark_safe(text)  # noqa: S308 - built from escaped text
