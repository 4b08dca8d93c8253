"""Commands with Azure ML's placeholders: `${{inputs.x}}`, `${{outputs.y}}` and optional
fragments `$[[ ... ]]` (dropped whole when an input inside them has no value).

Used by components at create time (validate) and by jobs at submit time (validate, then
render with the resolved values). Pure functions, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.errors import ValidationError

# `${{ inputs.x }}` with optional spaces; names may be dotted (pipeline input groups).
PLACEHOLDER = re.compile(r"\$\{\{\s*([a-zA-Z_]+)\.([\w.-]+)\s*\}\}")
ANY_PLACEHOLDER = re.compile(r"\$\{\{(.*?)\}\}")
OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.S)
IO_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_IO_NAMES = frozenset(
    {"path", "ld_library_path", "user", "logname", "home", "pwd", "shell"}
)


@dataclass(frozen=True)
class Placeholder:
    scope: str  # inputs, outputs, search_space
    name: str
    optional: bool  # inside $[[ ]]
    line: int  # 1-based line of the command


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def placeholders(command: str) -> list[Placeholder]:
    spans = [(m.start(), m.end()) for m in OPTIONAL.finditer(command)]
    found = []
    for m in PLACEHOLDER.finditer(command):
        inside = any(a <= m.start() < b for a, b in spans)
        found.append(Placeholder(m[1], m[2], inside, _line_of(command, m.start())))
    return found


def validate(
    command: object,
    *,
    inputs: dict[str, dict],
    outputs: dict[str, dict],
    field: str = "command",
    scopes: tuple[str, ...] = ("inputs", "outputs"),
    line_offset: int = 0,
) -> str:
    """Check a command against the declared inputs and outputs; return it.

    `inputs` maps names to declarations (`{"optional": True, ...}`); an optional input may
    appear only inside `$[[ ]]`. `line_offset` is the YAML line where the command starts, so
    errors name the file's line."""
    if not isinstance(command, str) or not command.strip():
        raise ValidationError.for_field(field, "is required: the command to run.")
    if command.count("$[[") != command.count("]]"):
        raise ValidationError.for_field(field, "an optional part '$[[' is not closed by ']]'.")
    if re.search(r"\\\s*\n", command):
        raise ValidationError.for_field(
            field, "a '\\' continues a line: write the command on one line or fold it with '>-'."
        )
    for m in ANY_PLACEHOLDER.finditer(command):
        if not PLACEHOLDER.fullmatch(m[0]):
            raise ValidationError.for_field(
                field,
                f"'{m[0]}' (line {line_offset + _line_of(command, m.start())}) is not a "
                "placeholder: write ${{inputs.<name>}} or ${{outputs.<name>}}.",
            )
    for ph in placeholders(command):
        where = f"line {line_offset + ph.line}"
        if ph.scope not in scopes:
            raise ValidationError.for_field(
                field,
                f"${{{{{ph.scope}.{ph.name}}}}} ({where}): only "
                + ", ".join(f"${{{{{s}.<name>}}}}" for s in scopes)
                + " may appear in a command.",
            )
        declared = inputs if ph.scope == "inputs" else outputs if ph.scope == "outputs" else None
        if declared is None:
            continue
        if ph.name not in declared:
            raise ValidationError.for_field(
                field,
                f"${{{{{ph.scope}.{ph.name}}}}} ({where}) is not declared under '{ph.scope}'.",
            )
        spec = declared[ph.name] if isinstance(declared[ph.name], dict) else {}
        if ph.scope == "inputs" and spec.get("optional") and not ph.optional:
            raise ValidationError.for_field(
                field,
                f"${{{{inputs.{ph.name}}}}} ({where}) is optional, so it may appear only inside "
                "an optional part: $[[... ${{inputs." + ph.name + "}} ...]].",
            )
    return command


def render(command: str, values: dict[str, dict[str, str | None]]) -> str:
    """Substitute placeholders. `values` is {"inputs": {name: text or None}, "outputs": {...}}.
    An optional part whose inputs have no value is dropped whole; the `$[[ ]]` marks of the
    others are removed."""

    def value_of(scope: str, name: str) -> str | None:
        return values.get(scope, {}).get(name)

    def optional_part(m: re.Match) -> str:
        part = m[1]
        for ph in PLACEHOLDER.finditer(part):
            if value_of(ph[1], ph[2]) is None:
                return ""
        return part

    text = OPTIONAL.sub(optional_part, command)

    def one(m: re.Match) -> str:
        value = value_of(m[1], m[2])
        if value is None:
            raise ValidationError.for_field(
                f"{m[1]}.{m[2]}", "has no value, and the command needs it."
            )
        return value

    text = PLACEHOLDER.sub(one, text)
    return " ".join(text.split()) if "\n" not in text.strip() else text.strip()


def literal_text(value: object) -> str:
    """How a literal input appears in a command: YAML booleans as Python writes them."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
