"""Components: their interface (typed inputs and outputs), checked as Azure ML checks it, and
creating a version: `type: command` here; `type: pipeline` with its steps checked and frozen
by apps/jobs/services/pipelines.py (`pipeline_component_jobs`), stored in the version's spec.

The interface checks are reusable: pipelines and the Designer call `clean_inputs`,
`clean_outputs` and `bind_inputs` with their own field prefixes.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from studio.errors import NotFound, ValidationError

from .. import commands
from ..models import CodeSnapshot, ComponentVersion, Kind
from . import versions
from .environments import environment_resolve


def snapshot_get(*, actor, workspace: Workspace, snapshot_id: str) -> CodeSnapshot:
    """One code snapshot of the workspace (a read, kept next to the components that use it)."""
    permissions.require(actor, Action.ASSET_VIEW, workspace)
    try:
        key = uuid.UUID(str(snapshot_id))
    except ValueError:
        raise NotFound(f"No code snapshot '{snapshot_id}' in '{workspace.name}'.") from None
    found = CodeSnapshot.objects.filter(workspace=workspace, id=key).first()
    if found is None:
        raise NotFound(f"No code snapshot '{snapshot_id}' in '{workspace.name}'.")
    return found


# The interface: inputs and outputs -----------------------------------------------------------

PARAM_TYPES = ("integer", "number", "string", "boolean")
DATA_TYPES = (
    "uri_file",
    "uri_folder",
    "mltable",
    "mlflow_model",
    "custom_model",
    "triton_model",
    "path",
)
OUTPUT_TYPES = ("uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model", "triton_model")
INPUT_MODES = ("ro_mount", "download", "direct")
MLTABLE_MODES = ("eval_mount", "eval_download")
OUTPUT_MODES = ("rw_mount", "upload", "direct", "mount")
PARAM_KEYS = {"type", "default", "optional", "description", "min", "max", "enum"}
DATA_KEYS = {"type", "optional", "description", "mode"}
OUTPUT_KEYS = {"type", "mode", "description"}


def _kind_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def clean_io_name(name: Any, field: str) -> str:
    """An input or output name: `^[a-zA-Z_][a-zA-Z0-9_]*$`, not a reserved name."""
    if not isinstance(name, str) or not commands.IO_NAME.match(name):
        raise ValidationError.for_field(
            field,
            f"'{name}' is not a valid name: letters, digits and '_', not starting with a digit.",
        )
    if name.lower() in commands.RESERVED_IO_NAMES:
        raise ValidationError.for_field(
            field,
            f"'{name}' is reserved (it would clash with an environment variable): "
            f"choose another name; reserved are {', '.join(sorted(commands.RESERVED_IO_NAMES))}.",
        )
    return name


def _declarations(decls: Any, field: str) -> dict:
    if decls is None:
        return {}
    if not isinstance(decls, dict):
        raise ValidationError.for_field(
            field, f"must be a mapping of names to declarations, not {_kind_of(decls)}."
        )
    return decls


def _declaration(name: str, decl: Any, field: str, types: tuple[str, ...]) -> tuple[dict, str]:
    """The declaration as a mapping with a known `type` (Azure requires `type` here)."""
    where = f"{field}.{name}"
    if not isinstance(decl, dict):
        raise ValidationError.for_field(
            where,
            f"must be a mapping with a 'type' (one of {', '.join(types)}), not {_kind_of(decl)}.",
        )
    kind = decl.get("type")
    if kind is None:
        raise ValidationError.for_field(f"{where}.type", f"is required: one of {', '.join(types)}.")
    if kind not in types:
        raise ValidationError.for_field(
            f"{where}.type", f"'{kind}' is not a type here: one of {', '.join(types)}."
        )
    return decl, kind


def _unknown_keys(
    decl: dict, allowed: set[str], where: str, kind: str, noun: str = "input"
) -> None:
    for key in decl:
        if key not in allowed:
            hint = {
                "default": " (a data input has no default path: give the path when it is used)",
                "path": " (a data input has no default path: give the path when it is used)",
                "min": " ('min' and 'max' are for integer and number inputs)",
                "max": " ('min' and 'max' are for integer and number inputs)",
                "enum": " ('enum' is for string inputs)",
            }.get(str(key), "")
            raise ValidationError.for_field(
                f"{where}.{key}",
                f"is not a key of a {kind} {noun}{hint}; allowed: {', '.join(sorted(allowed))}.",
            )


def _param_value(kind: str, value: Any, where: str, *, coerce: bool = False) -> Any:
    """A literal value of a parameter type, or ValidationError. With `coerce`, text from a
    form or a --set ('10', 'true') is read as the type."""
    if coerce and isinstance(value, str):
        text = value.strip()
        try:
            if kind == "integer":
                value = int(text)
            elif kind == "number":
                value = float(text) if any(c in text.lower() for c in ".en") else int(text)
            elif kind == "boolean" and text.lower() in ("true", "false"):
                value = text.lower() == "true"
        except ValueError:
            pass
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        if isinstance(value, float) and value.is_integer() and coerce:
            return int(value)
        raise ValidationError.for_field(where, f"must be an integer, not {_kind_of(value)}.")
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValidationError.for_field(where, f"must be a number, not {_kind_of(value)}.")
    if kind == "boolean" and not isinstance(value, bool):
        raise ValidationError.for_field(where, f"must be true or false, not {_kind_of(value)}.")
    if kind == "string":
        if coerce and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise ValidationError.for_field(where, f"must be a string, not {_kind_of(value)}.")
    return value


def _check_range(decl: dict, value: Any, where: str) -> None:
    if decl.get("min") is not None and value < decl["min"]:
        raise ValidationError.for_field(where, f"{value} is below the minimum, {decl['min']}.")
    if decl.get("max") is not None and value > decl["max"]:
        raise ValidationError.for_field(where, f"{value} is above the maximum, {decl['max']}.")
    if decl.get("enum") is not None and value not in decl["enum"]:
        raise ValidationError.for_field(
            where, f"'{value}' is not one of the choices: {', '.join(decl['enum'])}."
        )


def _clean_description(decl: dict, where: str) -> str | None:
    text = decl.get("description")
    if text is not None and not isinstance(text, str):
        raise ValidationError.for_field(f"{where}.description", "must be a string.")
    return text


def _clean_param(name: str, decl: dict, kind: str, where: str) -> dict:
    _unknown_keys(
        decl,
        PARAM_KEYS
        if kind in ("integer", "number", "string")
        else PARAM_KEYS - {"min", "max", "enum"},
        where,
        f"{kind}",
    )
    if kind != "string" and "enum" in decl:
        raise ValidationError.for_field(f"{where}.enum", "is only for string inputs.")
    if kind not in ("integer", "number") and ("min" in decl or "max" in decl):
        key = "min" if "min" in decl else "max"
        raise ValidationError.for_field(f"{where}.{key}", "is only for integer and number inputs.")
    out: dict[str, Any] = {"type": kind}
    for key in ("min", "max"):
        if decl.get(key) is not None:
            out[key] = _param_value(kind, decl[key], f"{where}.{key}")
    if "min" in out and "max" in out and out["min"] > out["max"]:
        raise ValidationError.for_field(
            f"{where}.min", f"{out['min']} is greater than the maximum, {out['max']}."
        )
    if decl.get("enum") is not None:
        enum = decl["enum"]
        if not isinstance(enum, list) or not enum:
            raise ValidationError.for_field(f"{where}.enum", "must be a non-empty list of strings.")
        for i, item in enumerate(enum):
            if isinstance(item, (dict, list)) or item is None:
                raise ValidationError.for_field(f"{where}.enum[{i}]", "must be a string.")
        out["enum"] = [
            str(item) if not isinstance(item, bool) else str(item).lower() for item in enum
        ]
        if len(set(out["enum"])) != len(out["enum"]):
            raise ValidationError.for_field(f"{where}.enum", "lists a choice twice.")
    if decl.get("default") is not None:
        out["default"] = _param_value(kind, decl["default"], f"{where}.default")
        _check_range(out, out["default"], f"{where}.default")
    return out


def _optional(decl: dict, where: str) -> bool:
    value = decl.get("optional", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError.for_field(
            f"{where}.optional", f"must be true or false, not {_kind_of(value)}."
        )
    return value


def clean_inputs(decls: Any, field: str = "inputs") -> dict[str, dict]:
    """A component's declared inputs, checked and normalised (declaration order kept):
    `{"epochs": {"type": "integer", "default": 10, "min": 1, "optional": False, ...}}`.
    ValidationError names the field path (`inputs.epochs.min`)."""
    out: dict[str, dict] = {}
    for name, decl in _declarations(decls, field).items():
        clean_io_name(name, f"{field}.{name}")
        where = f"{field}.{name}"
        decl, kind = _declaration(name, decl, field, PARAM_TYPES + DATA_TYPES)
        if kind in PARAM_TYPES:
            item = _clean_param(name, decl, kind, where)
        else:
            _unknown_keys(decl, DATA_KEYS, where, f"{kind}")
            item = {"type": kind}
            mode = decl.get("mode")
            if mode is not None:
                modes = INPUT_MODES + (MLTABLE_MODES if kind == "mltable" else ())
                if mode not in modes:
                    raise ValidationError.for_field(
                        f"{where}.mode", f"'{mode}' is not a mode here: one of {', '.join(modes)}."
                    )
                item["mode"] = mode
        item["optional"] = _optional(decl, where)
        description = _clean_description(decl, where)
        if description:
            item["description"] = description
        out[name] = item
    return out


def clean_outputs(decls: Any, field: str = "outputs") -> dict[str, dict]:
    """A component's declared outputs: `{"model": {"type": "uri_folder", "mode": ...}}`."""
    out: dict[str, dict] = {}
    for name, decl in _declarations(decls, field).items():
        clean_io_name(name, f"{field}.{name}")
        where = f"{field}.{name}"
        decl, kind = _declaration(name, decl, field, OUTPUT_TYPES)
        _unknown_keys(decl, OUTPUT_KEYS, where, kind, "output")
        item: dict[str, Any] = {"type": kind}
        mode = decl.get("mode")
        if mode is not None:
            if mode not in OUTPUT_MODES:
                raise ValidationError.for_field(
                    f"{where}.mode", f"'{mode}' is not a mode: one of {', '.join(OUTPUT_MODES)}."
                )
            item["mode"] = mode
        description = _clean_description(decl, where)
        if description:
            item["description"] = description
        out[name] = item
    return out


def is_data_type(kind: str) -> bool:
    return kind in DATA_TYPES


def bind_inputs(
    decls: dict[str, dict], values: Any, field: str = "inputs", *, file_inputs=frozenset()
) -> dict[str, Any]:
    """Check values given for a component's inputs (a pipeline step, a Designer node) against
    its clean declarations: no unknown name, the right type (text such as '10' is read as
    the type), within min/max, one of the enum, every required input given. Returns the
    bound values, defaults filled in; an optional input without a value is left out.
    A data input's value is a path or reference (a string) or a mapping with a `path`.
    `file_inputs`: data inputs that also take a uri_file, kept a file (a Designer built-in's
    table inputs, which read a CSV, TSV or Parquet file as the table)."""
    values = _declarations(values, field)
    for name in values:
        if name not in decls:
            raise ValidationError.for_field(
                f"{field}.{name}",
                "is not an input of the component"
                + (f" (its inputs: {', '.join(decls)})." if decls else ", which has none."),
            )
    bound: dict[str, Any] = {}
    for name, decl in decls.items():
        where = f"{field}.{name}"
        value = values.get(name)
        if value is None or value == "":
            if decl.get("default") is not None:
                bound[name] = decl["default"]
            elif not decl.get("optional"):
                raise ValidationError.for_field(where, "is required: the component needs a value.")
            continue
        if is_data_type(decl["type"]):
            bound[name] = _bind_data(decl, value, where, name in file_inputs)
        else:
            if isinstance(value, dict) and "value" in value:
                value = value["value"]
            typed = _param_value(decl["type"], value, where, coerce=True)
            _check_range(decl, typed, where)
            bound[name] = typed
    return bound


def _bind_data(decl: dict, value: Any, where: str, takes_file: bool = False) -> Any:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or not value.get("path"):
        raise ValidationError.for_field(
            where,
            f"a {decl['type']} input takes a path or a reference (a string or {{path: ...}}).",
        )
    given = value.get("type")
    if given is not None and decl["type"] != "path" and given != decl["type"]:
        if takes_file and given == "uri_file":
            return value  # one tabular file, kept a file: the step is handed its path
        if given in _ALSO_TAKES.get(decl["type"], ()):
            return {**value, "type": decl["type"]}  # read as the component declares it
        raise ValidationError.for_field(
            f"{where}.type", f"is {given}, but the component's input is {decl['type']}."
        )
    return value


# What a data input also takes besides its own type, as the Designer connects ports
# (apps/designer/graph.py ACCEPTS): a folder input reads a table's or a model's folder
# (a sample dataset, an mltable, feeds Split Data's uri_folder input), a table input a folder.
# (`file_inputs` of bind_inputs, a Designer built-in's table inputs, also take a uri_file.)
_ALSO_TAKES: dict[str, frozenset[str]] = {
    "uri_folder": frozenset({"mltable", "mlflow_model", "custom_model", "triton_model"}),
    "mltable": frozenset({"uri_folder"}),
    "custom_model": frozenset({"mlflow_model", "uri_folder"}),
}


# Creating a component version ----------------------------------------------------------------

# Top-level keys of a command component (azureml-yaml.md §2.4); `additional_includes` is the
# client's business (copied into the code snapshot before upload), so it is accepted and kept.
COMPONENT_KEYS = {
    "name",
    "version",
    "type",
    "display_name",
    "description",
    "tags",
    "properties",
    "is_deterministic",
    "command",
    "code",
    "environment",
    "inputs",
    "outputs",
    "resources",
    "distribution",
    "additional_includes",
}


COMPONENT_TYPES = ("command", "pipeline")
# What a command component has and a pipeline component does not: its steps have their own.
NOT_IN_PIPELINE = ("command", "code", "environment", "resources", "distribution")


def _clean_mapping(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError.for_field(field, f"must be a mapping, not {_kind_of(value)}.")
    return value


def _clean_top(data: dict) -> dict:
    """The plain top-level fields: type, display_name, is_deterministic, properties..."""
    if "environment_variables" in data:
        raise ValidationError.for_field(
            "environment_variables",
            "is not allowed on a component (Azure ML refuses it too): set environment "
            "variables on the job or the pipeline step that uses it.",
        )
    kind = data.get("type") or "command"
    if kind not in COMPONENT_TYPES:
        raise ValidationError.for_field(
            "type",
            f"'{kind}' components are not supported here: one of {', '.join(COMPONENT_TYPES)}.",
        )
    display_name = data.get("display_name") or ""
    if not isinstance(display_name, str) or len(display_name) > 500:
        raise ValidationError.for_field(
            "display_name", "must be a string of at most 500 characters."
        )
    deterministic = data.get("is_deterministic", True)
    if deterministic is None:
        deterministic = True
    if not isinstance(deterministic, bool):
        raise ValidationError.for_field(
            "is_deterministic", f"must be true or false, not {_kind_of(deterministic)}."
        )
    includes = data.get("additional_includes")
    if includes is not None and (
        not isinstance(includes, list) or not all(isinstance(i, str) for i in includes)
    ):
        raise ValidationError.for_field("additional_includes", "must be a list of paths.")
    properties = _clean_mapping(data.get("properties"), "properties")
    return {
        "type": kind,
        "display_name": display_name,
        "is_deterministic": deterministic,
        "properties": {str(k): v for k, v in properties.items()},
        "resources": _clean_mapping(data.get("resources"), "resources"),
        "distribution": _clean_mapping(data.get("distribution"), "distribution"),
        "additional_includes": includes or [],
    }


def _code_of(*, actor, workspace: Workspace, value: Any) -> CodeSnapshot | None:
    """`code`: the id of a snapshot uploaded first (POST .../code/), or none."""
    if value in (None, ""):
        return None
    if isinstance(value, CodeSnapshot):
        return value
    if not isinstance(value, str):
        raise ValidationError.for_field(
            "code", f"must be a code snapshot id, not {_kind_of(value)}."
        )
    if value.startswith(("git+", "http://", "https://")):
        raise ValidationError.for_field(
            "code", "code from a URL or git is not supported: give a local folder."
        )
    try:
        return snapshot_get(actor=actor, workspace=workspace, snapshot_id=value)
    except NotFound:
        raise ValidationError.for_field(
            "code",
            f"'{value}' is not a code snapshot of this workspace: upload the folder first "
            "(the CLI does it for a local path).",
        ) from None


def component_create(
    *,
    actor,
    workspace: Workspace,
    data: dict,
    command_line: int | None = None,
    dry_run: bool = False,
) -> ComponentVersion:
    """Create a command component version from its YAML fields (`data`, as parsed): the
    interface checked (`clean_inputs`, `clean_outputs`), every placeholder of the command
    declared and optional inputs only inside `$[[ ]]`, the environment resolved and the code
    snapshot found, all before anything is written. `command_line` is the line of the YAML
    file where the command starts, so placeholder errors name the file's line. `dry_run`
    checks everything (the name and version too) and writes nothing."""
    permissions.require(actor, Action.ASSET_CREATE, workspace)
    if not isinstance(data, dict):
        raise ValidationError("The component must be a mapping of fields.")
    top = _clean_top(data)
    if top["type"] == "pipeline":
        return _pipeline_component_create(
            actor=actor, workspace=workspace, data=data, top=top, dry_run=dry_run
        )
    inputs = clean_inputs(data.get("inputs"))
    outputs = clean_outputs(data.get("outputs"))
    command = commands.validate(
        data.get("command"),
        inputs=inputs,
        outputs=outputs,
        line_offset=max(0, (command_line or 1) - 1),
    )
    if data.get("environment") in (None, ""):
        raise ValidationError.for_field(
            "environment", "is required: an environment reference (azureml:<name>:<version>)."
        )
    code = _code_of(actor=actor, workspace=workspace, value=data.get("code"))
    with transaction.atomic():
        environment = environment_resolve(
            actor=actor, workspace=workspace, value=data["environment"], field="environment"
        )
        spec = {
            "type": top["type"],
            "command": command,
            "inputs": inputs,
            "outputs": outputs,
            "environment": environment.reference,
            "code": str(code.pk) if code else None,
            "is_deterministic": top["is_deterministic"],
        }
        for key in ("resources", "distribution", "additional_includes"):
            if top[key]:
                spec[key] = top[key]
        row = versions.version_create(
            actor=actor,
            workspace=workspace,
            kind=Kind.COMPONENT,
            name=data.get("name"),
            version=data.get("version"),
            description=data.get("description"),
            tags=data.get("tags"),
            properties=top["properties"],
            fields={
                "type": top["type"],
                "display_name": top["display_name"],
                "is_deterministic": top["is_deterministic"],
                "command": command,
                "inputs": inputs,
                "outputs": outputs,
                "environment": environment,
                "code": code,
                "spec": spec,
            },
        )
        if dry_run:
            transaction.set_rollback(True)
        return row


def _pipeline_component_create(
    *, actor, workspace: Workspace, data: dict, top: dict, dry_run: bool
) -> ComponentVersion:
    """A `type: pipeline` component: its interface, and its `jobs` checked as a pipeline
    job's steps are and stored frozen in the spec (apps/jobs/services/pipelines.py,
    `pipeline_component_jobs`): every component reference pinned to an exact version."""
    from apps.jobs.services import pipelines

    for key in NOT_IN_PIPELINE + ("additional_includes", "settings"):
        if data.get(key) not in (None, "", [], {}):
            raise ValidationError.for_field(
                key,
                "is not a field of a pipeline component: "
                + (
                    "settings (default_compute, default_datastore...) belong to the pipeline "
                    "job that uses it."
                    if key == "settings"
                    else "each step under 'jobs' has its own component, environment and code."
                ),
            )
    inputs = clean_inputs(data.get("inputs"))
    outputs = clean_outputs(data.get("outputs"))
    with transaction.atomic():
        jobs = pipelines.pipeline_component_jobs(
            actor=actor,
            workspace=workspace,
            jobs=data.get("jobs"),
            inputs=inputs,
            outputs=outputs,
            dry_run=dry_run,
        )
        spec = {
            "type": "pipeline",
            "inputs": inputs,
            "outputs": outputs,
            "jobs": jobs,
            "is_deterministic": top["is_deterministic"],
        }
        row = versions.version_create(
            actor=actor,
            workspace=workspace,
            kind=Kind.COMPONENT,
            name=data.get("name"),
            version=data.get("version"),
            description=data.get("description"),
            tags=data.get("tags"),
            properties=top["properties"],
            fields={
                "type": "pipeline",
                "display_name": top["display_name"],
                "is_deterministic": top["is_deterministic"],
                "inputs": inputs,
                "outputs": outputs,
                "spec": spec,
            },
        )
        if dry_run:
            transaction.set_rollback(True)
        return row


def component_create_from_yaml(
    *,
    actor,
    workspace: Workspace,
    text: str,
    source: str = "component.yml",
    code: Any = None,
    dry_run: bool = False,
) -> ComponentVersion:
    """Create from YAML text (the studio's paste or upload form): parsed with line numbers,
    and any error is prefixed with the line of the field it names (`component.yml:12:`).
    A `code` given here (an uploaded snapshot; "" for none yet) replaces the file's `code`."""
    from studio.cli import yamlio
    from studio.cli.component import command_line

    try:
        data, lines = yamlio.loads(text, source)
    except yamlio.YamlError as exc:
        raise ValidationError.for_field("yaml", str(exc)) from None
    if not isinstance(data, dict):
        raise ValidationError.for_field("yaml", f"{source}: expected a mapping of fields.")
    data = dict(data)
    try:
        if data.get("type") == "pipeline":
            if code is not None:
                raise ValidationError.for_field(
                    "code_zip",
                    "a pipeline component has no code folder: each step's component has its own.",
                )
        elif code is not None:
            data["code"] = code
        elif isinstance(data.get("code"), str) and not _looks_like_id(data["code"]):
            raise ValidationError.for_field(
                "code",
                f"the code folder '{data['code']}' is on your machine: upload it as a zip "
                "with the YAML (or use the CLI).",
            )
        return component_create(
            actor=actor,
            workspace=workspace,
            data=yamlio.jsonable(data),
            command_line=command_line(text, lines),
            dry_run=dry_run,
        )
    except ValidationError as exc:
        raise located(exc, lines) from None


def _looks_like_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def located(exc: ValidationError, lines) -> ValidationError:
    """The same error with each field prefixed by where it is in the YAML."""
    from studio.cli import yamlio

    if not exc.fields:
        return exc
    parts = []
    for path, messages in exc.fields.items():
        where = _line_of(exc, path, lines) or yamlio.where(lines, path)
        parts.append(f"{where}: {path}: {' '.join(messages)}")
    return ValidationError("; ".join(parts), fields=exc.fields)


def _line_of(exc: ValidationError, path: str, lines) -> str | None:
    """A command error that names its own line (`(line 9)`) is placed there."""
    import re

    if path != "command":
        return None
    found = re.search(r"\(line (\d+)\)", " ".join(exc.fields[path]))
    return f"{lines.source}:{found[1]}" if found else None
