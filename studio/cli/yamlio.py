"""Reading the Azure ML style YAML files that `studio <noun> create --file` accepts, applying
`--set key.path=value` overrides, and naming the line of a field when something is wrong
(`ws.yml:4: tags: must be a mapping`).

Shared by every noun (workspaces now; jobs, data, models, components later):

    data, lines = load_yaml("job.yml")        # YamlError (with the line) if it does not parse
    apply_sets(data, ["inputs.x.path=./d"], lines)
    known, unknown = check_fields(require_mapping(data, lines), SPEC, lines)

Key paths are dotted, with `[i]` for list items: `tags.team`, `outputs[0].name`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml


class YamlError(ValueError):
    """A problem in a YAML file or a --set, with where it is: `ws.yml:4: tags: ...`."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where


class LineMap(dict):
    """Key path -> line number (1-based) in `source`; or -> the `--set` that put it there."""

    def __init__(self, source: str, *args: Any):
        super().__init__(*args)
        self.source = source

    def where(self, key: str = "") -> str:
        return where(self, key)

    def locate(self, path: str) -> str | None:
        """Where an API error's field path came from in the input (`ws.yml:4`), or None
        when its top-level key is not in the input (the studio added it)."""
        top = path.split(".")[0].split("[")[0]
        return self.where(path) if top in self else None


def where(line_map: LineMap, key: str = "") -> str:
    """`ws.yml:4` for a key path: its own line, else its nearest parent's, else the file."""
    path = key
    while True:
        found = line_map.get(path)
        if isinstance(found, str):
            return found
        if isinstance(found, int):
            return f"{line_map.source}:{found}"
        if not path:
            return line_map.source
        path = _parent(path)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _join(parent: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def field_error(line_map: LineMap, key: str, message: str) -> YamlError:
    """An error about one field, placed at its line: `ws.yml:4: tags: must be a mapping`."""
    return YamlError(f"{key}: {message}" if key else message, where(line_map, key))


def load_yaml(path: str | Path) -> tuple[Any, LineMap]:
    """The file's data (safe YAML: no Python objects) and where each key path is."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlError(f"cannot read the file: {exc.strerror or exc}", source) from None
    except UnicodeDecodeError:
        raise YamlError("not a text file (expected UTF-8 YAML)", source) from None
    return loads(text, source)


def loads(text: str, source: str = "<string>") -> tuple[Any, LineMap]:
    """`load_yaml` for text already in hand; `source` names it in messages."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise YamlError(_parser_message(exc), _mark(source, exc, text)) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).replace("\n", " "), source) from None
    finally:
        loader.dispose()
    lines = LineMap(source)
    if node is not None:
        lines[""] = node.start_mark.line + 1
        _walk(node, "", lines)
    return data, lines


def _mark(source: str, exc: yaml.MarkedYAMLError, text: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return source
    # The end of the stream is one line past a final newline: name the last real line.
    return f"{source}:{max(1, min(mark.line + 1, len(text.splitlines())))}"


def _parser_message(exc: yaml.MarkedYAMLError) -> str:
    message = exc.problem or "invalid YAML"
    if exc.context:
        context = exc.context
        if exc.context_mark is not None and exc.problem_mark is not None:
            if exc.context_mark.line != exc.problem_mark.line:
                context = f"{context} on line {exc.context_mark.line + 1}"
        message = f"{message} ({context})"
    return " ".join(message.split())


def _walk(node: yaml.Node, path: str, lines: LineMap) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            child = _join(path, key_node.value)
            lines.setdefault(child, key_node.start_mark.line + 1)
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = _join(path, index)
            lines.setdefault(child, item.start_mark.line + 1)
            _walk(item, child, lines)


# --set key.path=value ------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A --set value as a YAML scalar: `3` is 3, `true` is True, `null` is None, anything
    else a string. Flow collections (`[a, b]`, `{}`) are accepted too; `x=` is ''."""
    if text == "":
        return ""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, (dict, list)) and not text.lstrip().startswith(("[", "{")):
        return text  # `a: b` or `- x` typed by accident: keep what was typed
    if isinstance(value, (dt.date, dt.datetime)):
        return text
    return value


_PIECE = re.compile(r"([^.\[\]]*)((?:\[-?\d+\])*)")


def split_path(key: str) -> list[str | int]:
    """`a.b[0].c` -> ['a', 'b', 0, 'c']. Raises ValueError on a malformed path."""
    parts: list[str | int] = []
    for piece in key.split("."):
        match = _PIECE.fullmatch(piece)
        if match is None:
            raise ValueError(f"malformed key path {key!r}")
        name, indexes = match.groups()
        if not name and not (indexes and parts):
            raise ValueError(f"empty name in key path {key!r}")
        if name:
            parts.append(name)
        parts += [int(i) for i in re.findall(r"-?\d+", indexes)]
    return parts


def _path_text(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        path = _join(path, part)
    return path


def apply_sets(data: Any, sets: Iterable[str], line_map: LineMap | None = None) -> Any:
    """Apply `key.path=value` overrides in order (as `az ml ... --set`), making the mappings a
    path needs. Returns the data (a new dict when `data` was None). In `line_map`, the keys
    that a --set wrote point at that --set instead of a line of the file."""
    if data is None:
        data = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        label = f"--set {item}"
        if not sep or not key.strip():
            raise YamlError("expected key.path=value", label)
        try:
            parts = split_path(key.strip())
        except ValueError as exc:
            raise YamlError(str(exc), label) from None
        if not isinstance(data, dict):
            raise YamlError("the document is not a mapping", label)
        _assign(data, parts, parse_value(raw), label)
        if line_map is not None:
            _mark_set(line_map, parts, label)
    return data


def _assign(data: dict, parts: list[str | int], value: Any, label: str) -> None:
    node: Any = data  # split_path() starts every path with a name, and data is a dict
    for depth, part in enumerate(parts[:-1]):
        here, nxt = _path_text(parts[: depth + 1]), parts[depth + 1]
        if isinstance(part, int):
            if part == len(node):  # one past the end: a new item
                node.append([] if isinstance(nxt, int) else {})
            elif not -len(node) <= part < len(node):
                raise YamlError(f"{here}: no such list item", label)
            child = node[part]
        else:
            child = node.get(part)
            if child is None:
                child = node[part] = [] if isinstance(nxt, int) else {}
        if isinstance(nxt, int) and not isinstance(child, list):
            raise YamlError(f"{here}: is {_kind(child)}, not a list", label)
        if isinstance(nxt, str) and not isinstance(child, dict):
            raise YamlError(f"{here}: is {_kind(child)}, not a mapping", label)
        node = child
    last = parts[-1]
    if isinstance(last, str):
        node[last] = value
    elif last == len(node):
        node.append(value)
    elif -len(node) <= last < len(node):
        node[last] = value
    else:
        raise YamlError(f"{_path_text(parts)}: no such list item", label)


def _mark_set(line_map: LineMap, parts: list[str | int], label: str) -> None:
    path = _path_text(parts)
    for key in [k for k in line_map if k.startswith(path + ".") or k.startswith(path + "[")]:
        del line_map[key]
    line_map[path] = label
    for depth in range(1, len(parts)):
        line_map.setdefault(_path_text(parts[:depth]), label)


def remove_paths(data: Any, paths: Iterable[str]) -> Any:
    """Delete key paths (as `--remove tags.team`). A path that is absent is an error."""
    for key in paths:
        label = f"--remove {key}"
        try:
            parts = split_path(key.strip())
        except ValueError as exc:
            raise YamlError(str(exc), label) from None
        node = data
        for part in parts[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                raise YamlError(f"{key}: not found", label) from None
        try:
            del node[parts[-1]]
        except (KeyError, IndexError, TypeError):
            raise YamlError(f"{key}: not found", label) from None
    return data


# Checking fields ---------------------------------------------------------------------------

# A field kind takes (value, key, line_map) and returns the clean value or raises YamlError.
Kind = Callable[[Any, str, LineMap], Any]
SCALARS = (str, int, float, bool)


def require_mapping(data: Any, line_map: LineMap) -> dict:
    """The document itself must be a mapping of fields."""
    if data is None:
        raise YamlError("the file is empty; expected a mapping of fields", line_map.source)
    if not isinstance(data, dict):
        raise field_error(line_map, "", f"expected a mapping of fields, not {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string" if isinstance(value, str) else type(value).__name__


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def string(value: Any, key: str, line_map: LineMap) -> str:
    """Must be a string (a bare number is refused, as in the Azure schemas)."""
    if not isinstance(value, str):
        raise field_error(line_map, key, f"must be a string, not {_kind(value)}")
    return value


def version(value: Any, key: str, line_map: LineMap) -> str:
    """A version: a string, or a number turned into one (`version: 3` -> '3')."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise field_error(line_map, key, f"must be a string, not {_kind(value)}")
    return str(value)


def mapping(value: Any, key: str, line_map: LineMap) -> dict:
    if not isinstance(value, dict):
        raise field_error(line_map, key, f"must be a mapping, not {_kind(value)}")
    return value


def string_map(value: Any, key: str, line_map: LineMap) -> dict[str, str]:
    """A mapping of names to plain values, each turned into a string (tags)."""
    mapping(value, key, line_map)
    clean: dict[str, str] = {}
    for name, item in value.items():
        child = _join(key, name)
        if isinstance(item, (dict, list)):
            raise field_error(line_map, child, f"must be a plain value, not {_kind(item)}")
        clean[str(name)] = "" if item is None else _scalar_text(item)
    return clean


def boolean(value: Any, key: str, line_map: LineMap) -> bool:
    if not isinstance(value, bool):
        raise field_error(line_map, key, f"must be true or false, not {_kind(value)}")
    return value


def integer(value: Any, key: str, line_map: LineMap) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(line_map, key, f"must be a whole number, not {_kind(value)}")
    return value


def check_fields(
    data: Mapping[str, Any], spec: Mapping[str, Kind], line_map: LineMap
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a document into its known fields (checked and cleaned by their kind; null ones
    dropped) and the rest, as given. `$schema` is dropped: it is only a hint."""
    known: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in data.items():
        if key == "$schema":
            continue
        if key in spec:
            if value is not None:
                known[key] = spec[key](value, key, line_map)
        else:
            unknown[str(key)] = value
    return known, unknown


def jsonable(value: Any) -> Any:
    """YAML values the JSON API can carry: dates become ISO strings, keys become strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
