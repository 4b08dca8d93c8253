"""Pipeline jobs: Azure ML's pipelineJob YAML (azureml-yaml.md §2.3, §2.4.2, §3.6) as one
parent Job (type "pipeline") and one child Job per step (type "command", `parent` set).

Submit (`pipeline_submit`, reached through `submit.job_submit` for `type: pipeline`) checks
the whole document and resolves every step to the frozen spec the runner reads, inside one
transaction: a missing component, a cycle, a binding to a missing step or output, or a
parameter outside its range is refused naming the field, and nothing is saved. Nested
pipeline components (inline, or registered: `component: azureml:<name>:<version>` of type
pipeline) flatten into steps named `outer.inner`.

Registering a pipeline component (`pipeline_component_jobs`, called by
apps/assets/services/components.py) checks its `jobs` with the same rules and messages, without
values for its inputs, and freezes its component references to exact versions.

Execution (`pipeline_advance`, idempotent, under a row lock of the parent) runs whenever a
step ends (lifecycle.transition's hook) and from the beat task as a safety net: a NotStarted
step whose upstream steps all completed gets its bound inputs (the upstream outputs' URIs)
and is either reused (an identical earlier Completed step: its outputs, instantly, tag
`reused_from`) or queued. A failed step fails its dependants; with
`continue_on_step_failure: false` it also cancels the rest. When every step has ended the
pipeline ends. `pipeline_cancel` cancels the pipeline and its unfinished steps.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from apps.assets import commands
from apps.assets import selectors as asset_selectors
from apps.assets.models import CodeSnapshot, ComponentVersion, Kind
from apps.assets.services import components as component_services
from apps.workspaces import permissions, storage
from apps.workspaces.models import Compute, Datastore, Workspace
from apps.workspaces.permissions import Action
from studio.errors import Conflict, ValidationError

from .. import pipeline_graph
from ..models import Job, JobStatusChange
from . import lifecycle, submit

log = logging.getLogger(__name__)
S = Job.Status

TOP_KEYS = frozenset(
    {
        "$schema", "type", "name", "display_name", "experiment_name", "description", "tags",
        "properties", "jobs", "inputs", "outputs", "settings", "compute", "identity",
    }
)  # fmt: skip
NODE_KEYS = frozenset(
    {
        "type", "component", "command", "code", "environment", "compute", "inputs", "outputs",
        "environment_variables", "secrets", "resources", "distribution", "limits", "services",
        "identity", "display_name", "description", "tags", "properties", "comment",
        "queue_settings", "name", "experiment_name", "is_deterministic",
    }
)  # fmt: skip
STEP_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")
NODE_TYPES = ("command", "pipeline")
FAILED_UPSTREAM = (S.FAILED, S.CANCELED)


def _fail(path: str, message: str) -> ValidationError:
    return ValidationError.for_field(path, message)


@contextlib.contextmanager
def _under(prefix: str) -> Iterator[None]:
    """Re-raise a ValidationError of a nested check with its field paths under `prefix`."""
    try:
        yield
    except ValidationError as exc:
        if not exc.fields:
            raise _fail(prefix, exc.message) from None
        fields = {(f"{prefix}.{k}" if k else prefix): v for k, v in exc.fields.items()}
        message = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in fields.items())
        raise ValidationError(message, fields=fields) from None


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# Values flowing through a pipeline ---------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """An input bound to a step's output (the flat step path and the output name)."""

    step: str
    output: str
    options: tuple = ()  # (key, value) pairs given with the binding (mode, type)


@dataclass
class Interface:
    """What a step runs: a component (registered or inline) or an inline command."""

    inputs: dict[str, dict]
    outputs: dict[str, dict]
    command: str
    environment: Any  # EnvironmentVersion | None
    code: CodeSnapshot | None
    deterministic: bool
    identity: str
    label: str
    declared: bool  # inputs are a component's declarations (ranges apply)


@dataclass
class Step:
    path: str
    job_name: str
    display_name: str
    label: str
    compute: Compute
    code: CodeSnapshot | None
    tags: dict
    spec: dict
    upstream: list[str]
    uses: list = field(default_factory=list)


@dataclass
class Context:
    actor: Any
    workspace: Workspace
    name: str
    datastore: Datastore
    default_compute: Any
    dry_run: bool
    steps: dict[str, Step] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)
    uses: list = field(default_factory=list)  # (row, role, input) used by the pipeline job


# Reading the document ----------------------------------------------------------------------


def _settings(workspace: Workspace, doc: dict) -> dict:
    raw = submit._mapping(doc.get("settings"), "settings")
    out = dict(raw)
    for key in ("continue_on_step_failure", "force_rerun"):
        if key in raw and not isinstance(raw[key], bool):
            raise _fail(f"settings.{key}", f"must be true or false, not {submit._kind(raw[key])}.")
    out["continue_on_step_failure"] = raw.get("continue_on_step_failure", True)
    out["force_rerun"] = raw.get("force_rerun", False)
    ds_name = submit._string(raw.get("default_datastore"), "settings.default_datastore").strip()
    ds_name = ds_name.removeprefix("azureml:")
    if ds_name:
        found = Datastore.objects.filter(workspace=workspace, name=ds_name).first()
        if found is None:
            raise _fail(
                "settings.default_datastore",
                f"no datastore named '{ds_name}' in workspace '{workspace.name}'.",
            )
        out["default_datastore"] = found.name
    else:
        out["default_datastore"] = submit._default_datastore(workspace).name
    compute = raw.get("default_compute") or doc.get("compute")
    out["default_compute"] = submit._string(compute, "settings.default_compute").strip()
    return out


def _pipeline_inputs(value: Any, where: str) -> dict[str, Any]:
    """The pipeline's own inputs: literals, or data as {type, path, mode}."""
    out: dict[str, Any] = {}
    for name, spec in submit._mapping(value, where).items():
        if not isinstance(name, str) or not commands.IO_NAME.match(name.replace(".", "_")):
            raise _fail(f"{where}.{name}", "is not a valid input name.")
        if isinstance(spec, list):
            raise _fail(f"{where}.{name}", "must be a value or a mapping, not a list.")
        if isinstance(spec, Mapping):
            spec = dict(spec)
            if "path" not in spec and "default" in spec:
                spec["path"] = spec.pop("default")
            if spec.get("type") in component_services.PARAM_TYPES:
                out[name] = spec.get("path")  # a typed literal ({type: integer, default: 5})
                continue
        out[name] = spec
    return out


def _resolve_value(value: Any, where: str, parent_in: dict, exported: dict) -> Any:
    """A step input's value in the parent's context: a binding to a step output becomes
    Bound, one to the parent's input its value; anything else stays as given."""
    options: dict = {}
    if isinstance(value, Mapping):
        options = {k: v for k, v in value.items() if k in ("mode", "type")}
    bound = pipeline_graph.step_binding(value)
    if bound is not None:
        other, kind, name = bound
        if kind != "outputs":
            raise _fail(where, "a step can bind only to another step's outputs.")
        outputs = exported[other]
        if name not in outputs:
            known = ", ".join(outputs) or "none"
            raise _fail(where, f"step '{other}' has no output '{name}' (its outputs: {known}).")
        target = outputs[name]
        return Bound(target.step, target.output, tuple(sorted(options.items())))
    parent = pipeline_graph.parent_binding(value)
    if parent is not None:
        kind, name = parent
        if kind != "inputs":
            raise _fail(where, "an input cannot bind to the pipeline's outputs.")
        if name not in parent_in:
            known = ", ".join(parent_in) or "none"
            raise _fail(where, f"the pipeline has no input '{name}' (its inputs: {known}).")
        got = parent_in[name]
        if options and isinstance(got, Bound):
            return Bound(
                got.step, got.output, tuple(sorted({**dict(got.options), **options}.items()))
            )
        if options and isinstance(got, Mapping):
            return {**got, **options}
        return got
    return _literal(value, where)


def _literal(value: Any, where: str) -> Any:
    """A value that binds nothing, refused when it looks like a binding the studio does not
    know (a typo must not pass as a literal string)."""
    text = pipeline_graph.binding_text(value)
    if text and pipeline_graph.ANY_EXPRESSION.search(text):
        raise _fail(
            where,
            f"'{text}' is not a binding the studio knows: use ${{{{parent.inputs.<name>}}}} or "
            "${{parent.jobs.<step>.outputs.<name>}}.",
        )
    return value


def _steps_of(jobs: Any, where: str) -> dict:
    """A level's `jobs:`: a non-empty mapping of valid step names to mappings."""
    jobs = submit._mapping(jobs, where)
    if not jobs:
        raise _fail(where, "is required: a pipeline needs at least one step.")
    for step, node in jobs.items():
        if not isinstance(step, str) or not STEP_NAME.match(step):
            raise _fail(
                f"{where}.{step}",
                "is not a step name: letters, digits, '_' and '-', starting with a letter or "
                "'_', at most 64 characters.",
            )
        if not isinstance(node, Mapping):
            raise _fail(f"{where}.{step}", f"must be a mapping, not {submit._kind(node)}.")
    return jobs


def _level(ctx: Context, jobs: Any, where: str, prefix: str, parent_in: dict, parent_out: dict):
    """Flatten one level of steps; answer the parent outputs the steps bound to."""
    jobs = _steps_of(jobs, where)
    graph = pipeline_graph.level_graph(jobs, where)
    exported: dict[str, dict[str, Bound]] = {}
    exports: dict[str, Bound] = {}
    for step in pipeline_graph.order(graph):
        node = dict(jobs[step])
        here = f"{where}.{step}"
        submit._strict(node, NODE_KEYS, here)
        values = {}
        for name, value in submit._mapping(node.get("inputs"), f"{here}.inputs").items():
            values[name] = _resolve_value(value, f"{here}.inputs.{name}", parent_in, exported)
        comp = node.get("component")
        node_type = node.get("type") or "command"
        if node_type not in NODE_TYPES:
            raise _fail(
                f"{here}.type", f"'{node_type}' steps are not supported: one of command, pipeline."
            )
        row = _component_row(ctx, comp, f"{here}.component") if isinstance(comp, str) else None
        if row is not None and node_type == "pipeline" and row.type != "pipeline":
            raise _fail(
                f"{here}.component",
                f"{row.reference} is a {row.type} component; a step of type pipeline needs a "
                "pipeline component.",
            )
        inner = comp if isinstance(comp, Mapping) else (row.spec if row is not None else None)
        if node_type == "pipeline" or (inner and inner.get("type") == "pipeline"):
            exported[step] = _nested(ctx, node, inner, here, f"{prefix}{step}.", values)
            _export_nested(node, exported[step], here, parent_out, exports)
            if row is not None:  # lineage: the pipeline job used the pipeline component
                ctx.uses.append((row, "component", ""))
        else:
            made = _step(ctx, node, here, f"{prefix}{step}", values, row, parent_out, exports)
            exported[step] = {o: Bound(made.path, o) for o in made.spec["outputs"]}
    return exports


def _nested(ctx: Context, node: dict, comp: Any, here: str, prefix: str, values: dict):
    """A pipeline component used as a step: its steps join the flat graph."""
    if not isinstance(comp, Mapping):
        raise _fail(f"{here}.component", "a pipeline step needs a pipeline component.")
    where = f"{here}.component"
    inputs = component_services.clean_inputs(comp.get("inputs"), f"{where}.inputs")
    outputs = component_services.clean_outputs(comp.get("outputs"), f"{where}.outputs")
    plain = {k: ("bound-output" if isinstance(v, Bound) else v) for k, v in values.items()}
    checked = component_services.bind_inputs(inputs, _bindable(inputs, plain), f"{here}.inputs")
    sub_in: dict[str, Any] = {}
    for k, v in checked.items():
        data = component_services.is_data_type(inputs[k]["type"])
        sub_in[k] = values[k] if data and k in values else v
    node_out = submit._mapping(node.get("outputs"), f"{here}.outputs")
    # The step's compute is its inner steps' default (a step inside may still name its own).
    default = ctx.default_compute
    if node.get("compute") not in (None, ""):
        try:
            submit._compute(ctx.workspace, node["compute"])
        except ValidationError as exc:
            raise _fail(f"{here}.compute", exc.fields.get("compute", [exc.message])[0]) from None
        ctx.default_compute = node["compute"]
    try:
        exports = _level(ctx, comp.get("jobs"), f"{where}.jobs", prefix, sub_in, outputs)
    finally:
        ctx.default_compute = default
    result = {}
    for name in outputs:
        if name not in exports:
            raise _fail(f"{where}.outputs.{name}", "no step of the component binds to it.")
        result[name] = exports[name]
    for name in node_out:
        if name not in outputs:
            raise _fail(f"{here}.outputs.{name}", "is not an output of the pipeline component.")
    return result


def _export_nested(node: dict, outputs: dict, here: str, parent_out: dict, exports: dict):
    """A nested pipeline's output bound to `${{parent.outputs.y}}`: the step inside that
    writes it writes the parent's output."""
    for name, given in submit._mapping(node.get("outputs"), f"{here}.outputs").items():
        parent = pipeline_graph.parent_binding(given)
        if parent is None:
            continue
        kind, target = parent
        if kind != "outputs":
            raise _fail(
                f"{here}.outputs.{name}", "an output can bind only to ${{parent.outputs.<name>}}."
            )
        if target not in parent_out:
            raise _fail(
                f"{here}.outputs.{name}",
                f"the pipeline has no output '{target}' "
                f"(its outputs: {', '.join(parent_out) or 'none'}).",
            )
        exports[target] = outputs[name]


def _table_inputs(row: ComponentVersion | None) -> frozenset[str]:
    """A Designer built-in's table inputs: they also take one uri_file (a CSV, TSV or Parquet
    file), as the Designer connects it (docs/designer.md)."""
    from apps.designer.builtins import table_inputs

    return table_inputs(row)


def _bindable(decls: dict, values: dict) -> dict:
    """Values as bind_inputs reads them: data as their path text."""
    out = {}
    for name, value in values.items():
        if isinstance(value, Mapping) and "path" in value and name in decls:
            if not component_services.is_data_type(decls[name]["type"]):
                value = value["path"]
        out[name] = value
    return out


def _component_row(ctx: Context, value: str, where: str) -> ComponentVersion:
    text = value.strip()
    if not text.startswith("azureml:"):
        raise _fail(
            where,
            f"'{text}' is a local file: the CLI (`studio job create`, `studio component "
            "create`) reads it and sends the component inline; through the API give the "
            "component as a mapping or an azureml: reference.",
        )
    return asset_selectors.resolve(
        actor=ctx.actor, workspace=ctx.workspace, kind=Kind.COMPONENT, ref=text, field=where
    )


def _interface(ctx: Context, node: dict, here: str, values: dict, row) -> Interface:
    comp = node.get("component")
    if comp is not None and node.get("command") is not None:
        raise _fail(f"{here}.command", "give either a component or a command, not both.")
    if row is not None:
        return Interface(
            inputs=row.inputs, outputs=row.outputs, command=row.command,
            environment=row.environment, code=row.code, deterministic=row.is_deterministic,
            identity=f"component:{row.pk}", label=row.reference, declared=True,
        )  # fmt: skip
    if isinstance(comp, Mapping):
        return _inline_component(ctx, dict(comp), f"{here}.component")
    if comp is not None:
        raise _fail(
            f"{here}.component", f"must be a reference or a mapping, not {submit._kind(comp)}."
        )
    # An inline command step: its inputs are values, not declarations.
    decls: dict[str, dict] = {}
    for name, value in values.items():
        submit._io_name(name, f"{here}.inputs")
        if isinstance(value, Bound):
            decls[name] = {"type": dict(value.options).get("type") or "uri_folder"}
        elif isinstance(value, Mapping):
            decls[name] = {"type": value.get("type") or "uri_folder"}
        else:
            decls[name] = {"type": "string"}
    outs = {}
    for name, value in submit._mapping(node.get("outputs"), f"{here}.outputs").items():
        submit._io_name(name, f"{here}.outputs")
        outs[name] = {
            "type": (value.get("type") if isinstance(value, Mapping) else None) or "uri_folder"
        }
    command = commands.validate(
        node.get("command"), inputs={k: {"optional": False} for k in decls}, outputs=outs,
        field=f"{here}.command",
    )  # fmt: skip
    if node.get("environment") in (None, ""):
        raise _fail(f"{here}.environment", "is required for a step with an inline command.")
    with _under(here):
        code = submit._code(ctx.workspace, node.get("code"), dry_run=ctx.dry_run)
    return Interface(
        inputs=decls, outputs=outs, command=command, environment=None, code=code,
        deterministic=node.get("is_deterministic") is not False,
        identity="inline:" + _digest({"command": command, "code": code.content_hash if code else None}),
        label="inline command", declared=False,
    )  # fmt: skip


def _inline_component(ctx: Context, comp: dict, where: str) -> Interface:
    with _under(where):
        inputs = component_services.clean_inputs(comp.get("inputs"))
        outputs = component_services.clean_outputs(comp.get("outputs"))
        command = commands.validate(comp.get("command"), inputs=inputs, outputs=outputs)
        if comp.get("environment") in (None, ""):
            raise _fail("environment", "is required: an environment reference or an inline one.")
        code = submit._code(ctx.workspace, comp.get("code"), dry_run=ctx.dry_run)
    from apps.assets.services.environments import environment_resolve

    environment = environment_resolve(
        actor=ctx.actor, workspace=ctx.workspace, value=comp["environment"],
        field=f"{where}.environment",
    )  # fmt: skip
    deterministic = comp.get("is_deterministic", True) is not False
    identity = _digest(
        {"command": command, "inputs": inputs, "outputs": outputs,
         "code": code.content_hash if code else None, "name": comp.get("name")}
    )  # fmt: skip
    label = f"{comp.get('name') or 'inline component'}"
    return Interface(
        inputs=inputs, outputs=outputs, command=command, environment=environment, code=code,
        deterministic=deterministic, identity=f"inline:{identity}", label=label, declared=True,
    )  # fmt: skip


def _step(ctx, node, here, path, values, row, parent_out, exports) -> Step:
    """One command step: resolved to the spec the runner reads."""
    from apps.assets.services.environments import environment_resolve

    iface = _interface(ctx, node, here, values, row)
    job_name = f"{ctx.name}-{path.replace('.', '-')}"[:255]
    uses: list = []
    if iface.declared:
        plain = {k: (v.step if isinstance(v, Bound) else v) for k, v in values.items()}
        for name, value in values.items():
            if isinstance(value, Bound) and name in iface.inputs:
                if not component_services.is_data_type(iface.inputs[name]["type"]):
                    raise _fail(
                        f"{here}.inputs.{name}", "a parameter cannot bind to a step output."
                    )
        bound = component_services.bind_inputs(
            iface.inputs, _bindable(iface.inputs, plain), f"{here}.inputs",
            file_inputs=_table_inputs(row),
        )  # fmt: skip
    else:
        bound = dict(values)
    inputs: dict[str, dict] = {}
    upstream: set[str] = set()
    for name, decl in iface.inputs.items():
        value = values.get(name)
        if name not in bound:
            inputs[name] = {"kind": "literal", "value": None}
            continue
        if not component_services.is_data_type(decl["type"]):
            if isinstance(bound[name], Mapping):
                raise _fail(f"{here}.inputs.{name}", "a parameter takes a plain value.")
            inputs[name] = {"kind": "literal", "value": commands.literal_text(bound[name])}
            continue
        io_type = decl["type"] if decl["type"] in submit.IO_TYPES else "uri_folder"
        if isinstance(value, Bound):
            options = dict(value.options)
            mode = options.get("mode") or decl.get("mode") or "ro_mount"
            inputs[name] = {
                "kind": "data", "type": options.get("type") or io_type, "mode": mode,
                "uri": None, "asset": None, "bind": {"step": value.step, "output": value.output},
            }  # fmt: skip
            upstream.add(value.step)
            ctx.edges.append((value.step, value.output, path, name))
            continue
        spec = dict(value) if isinstance(value, Mapping) else {"path": bound[name]}
        spec.setdefault("type", io_type)
        if decl.get("mode") and "mode" not in spec:
            spec["mode"] = decl["mode"]
        spec = {k: v for k, v in spec.items() if k in submit.INPUT_KEYS}
        with _under(here):
            inputs[name] = submit._data_input(
                ctx.actor, ctx.workspace, name, spec, dry_run=ctx.dry_run, uses=uses
            )
        for used, _role, input_name in uses:
            if input_name == name and getattr(used, "content_hash", ""):
                inputs[name]["content_hash"] = used.content_hash
    outputs_doc: dict[str, dict] = {}
    node_out = submit._mapping(node.get("outputs"), f"{here}.outputs")
    for name in node_out:
        if name not in iface.outputs:
            known = ", ".join(iface.outputs) or "none"
            raise _fail(
                f"{here}.outputs.{name}", f"is not an output of the step (its outputs: {known})."
            )
    for name, decl in iface.outputs.items():
        given = node_out.get(name)
        spec: dict = {"type": decl["type"]}
        if decl.get("mode"):
            spec["mode"] = decl["mode"]
        parent = pipeline_graph.parent_binding(given)
        if parent is not None:
            kind, target = parent
            if kind != "outputs":
                raise _fail(
                    f"{here}.outputs.{name}",
                    "an output can bind only to ${{parent.outputs.<name>}}.",
                )
            if target not in parent_out:
                raise _fail(
                    f"{here}.outputs.{name}",
                    f"the pipeline has no output '{target}' "
                    f"(its outputs: {', '.join(parent_out) or 'none'}).",
                )
            exports[target] = Bound(path, name)
            extra = (parent_out or {}).get(target) or {}
            spec.update(
                {k: v for k, v in extra.items() if k in ("path", "mode", "name", "version")}
            )
            if isinstance(given, Mapping):
                spec.update({k: v for k, v in given.items() if k in ("mode", "name", "version")})
        elif isinstance(given, Mapping):
            spec.update({k: v for k, v in given.items() if k in submit.OUTPUT_KEYS})
        spec.setdefault(
            "path", f"azureml://datastores/{ctx.datastore.name}/paths/azureml/{job_name}/{name}/"
        )
        outputs_doc[name] = spec
    with _under(here):
        outputs = submit._outputs(ctx.workspace, outputs_doc, job_name)
        env_vars = submit._string_map(node.get("environment_variables"), "environment_variables")
        timeout_s = submit._limits(node.get("limits"))
        resources = submit._resources(node.get("resources"))
        tags = submit._string_map(node.get("tags"), "tags")
        secrets = submit._secrets(ctx.workspace, node.get("secrets"), set(env_vars))
    compute_value = node.get("compute") or ctx.default_compute
    try:
        compute = submit._compute(ctx.workspace, compute_value)
    except ValidationError as exc:
        where = f"{here}.compute" if node.get("compute") else "settings.default_compute"
        raise _fail(where, exc.fields.get("compute", [exc.message])[0]) from None
    environment = iface.environment
    if node.get("environment") not in (None, ""):  # an override, or the inline step's own
        environment = environment_resolve(
            actor=ctx.actor, workspace=ctx.workspace, value=node["environment"],
            field=f"{here}.environment",
        )  # fmt: skip
    if environment is None:
        raise _fail(f"{here}.environment", "is required: the step has no environment.")
    uses.append((environment, "environment", ""))
    if row is not None:
        uses.append((row, "component", ""))
    spec = {
        "command": iface.command,
        "environment": {
            "id": str(environment.pk),
            "name": environment.name,
            "version": environment.version,
        },
        "inputs": inputs,
        "outputs": outputs,
        "environment_variables": env_vars,
        "secrets": secrets,
        "timeout_s": timeout_s,
        "resources": resources,
        "code_dir": "",
        "yaml": {k: v for k, v in node.items() if k != "component" or isinstance(v, str)},
        "step": path,
        "upstream": sorted(upstream),
        "reuse": {
            "deterministic": iface.deterministic,
            "identity": iface.identity,
            "environment": getattr(environment, "spec_hash", "") or str(environment.pk),
        },
        "component": iface.label,
    }
    made = Step(
        path=path, job_name=job_name, display_name=str(node.get("display_name") or path)[:500],
        label=iface.label, compute=compute, code=iface.code, tags=tags, spec=spec,
        upstream=sorted(upstream), uses=uses,
    )  # fmt: skip
    ctx.steps[path] = made
    return made


# Registering a pipeline component ------------------------------------------------------------
#
# `studio component create` of a `type: pipeline` component checks its `jobs` with the rules
# of a pipeline job's (the same step names, graph, bindings and component resolution, and the
# same messages) but without values for the component's inputs: those come when a pipeline job
# uses it, and that job is then checked in full by `_nested`. As Azure ML does when it
# registers a pipeline component (its SDK resolves every node's component to a versioned id),
# the references are frozen: `azureml:train@latest` is stored as the version it names now, an
# inline component keeps its checked interface with its environment pinned to a version, so a
# registered version always runs the same steps.


@dataclass(frozen=True)
class ParentInput:
    """A step input bound to an input of the pipeline component being registered."""

    name: str


PIPELINE_COMPONENT_KEYS = frozenset(
    {
        "$schema", "type", "name", "version", "display_name", "description", "tags",
        "properties", "is_deterministic", "inputs", "outputs", "jobs",
    }
)  # fmt: skip


def pipeline_component_jobs(
    *, actor, workspace: Workspace, jobs: Any, inputs: dict, outputs: dict, dry_run: bool = False
) -> dict:
    """Check a pipeline component's `jobs` against its clean `inputs` and `outputs`
    declarations and answer them frozen (exact component versions, inline components
    normalised). ValidationError names the field (`jobs.train.inputs.data`). `dry_run`
    accepts a local code folder the CLI uploads afterwards."""
    ctx = Context(
        actor=actor, workspace=workspace, name="", datastore=None,  # type: ignore[arg-type]
        default_compute="", dry_run=dry_run,
    )  # fmt: skip
    return _component_level(ctx, jobs, "jobs", inputs, outputs, "outputs")


def _component_level(
    ctx: Context, jobs: Any, where: str, decl_in: dict, decl_out: dict, out_where: str
) -> dict:
    jobs = _steps_of(jobs, where)
    graph = pipeline_graph.level_graph(jobs, where)
    exported: dict[str, dict] = {}
    bound_out: set[str] = set()
    frozen: dict[str, dict] = {}
    for step in pipeline_graph.order(graph):
        node = dict(jobs[step])
        here = f"{where}.{step}"
        submit._strict(node, NODE_KEYS, here)
        node_type = node.get("type") or "command"
        if node_type not in NODE_TYPES:
            raise _fail(
                f"{here}.type", f"'{node_type}' steps are not supported: one of command, pipeline."
            )
        values = {
            name: _declared_value(value, f"{here}.inputs.{name}", decl_in, exported)
            for name, value in submit._mapping(node.get("inputs"), f"{here}.inputs").items()
        }
        iface_in, iface_out, comp, declared = _component_interface(
            ctx, node, node_type, here, values, decl_in
        )
        if declared:
            _check_step_inputs(iface_in, values, decl_in, here)
        for name, given in submit._mapping(node.get("outputs"), f"{here}.outputs").items():
            if name not in iface_out:
                known = ", ".join(iface_out) or "none"
                raise _fail(
                    f"{here}.outputs.{name}",
                    f"is not an output of the step (its outputs: {known}).",
                )
            parent = pipeline_graph.parent_binding(given)
            if parent is None:
                continue
            kind, target = parent
            if kind != "outputs":
                raise _fail(
                    f"{here}.outputs.{name}",
                    "an output can bind only to ${{parent.outputs.<name>}}.",
                )
            if target not in decl_out:
                raise _fail(
                    f"{here}.outputs.{name}",
                    f"the pipeline component has no output '{target}' "
                    f"(its outputs: {', '.join(decl_out) or 'none'}).",
                )
            bound_out.add(target)
        exported[step] = iface_out
        if comp is not None:
            node["component"] = comp
        if node.get("environment") not in (None, ""):
            node["environment"] = _pinned_environment(ctx, node["environment"], here)
        frozen[step] = node
    for name in decl_out:
        if name not in bound_out:
            raise _fail(
                f"{out_where}.{name}",
                f"no step of the component binds to it (${{{{parent.outputs.{name}}}}}).",
            )
    return {step: frozen[step] for step in jobs}


def _declared_value(value: Any, where: str, decl_in: dict, exported: dict) -> Any:
    """`_resolve_value` without values: a binding to a step output becomes Bound, one to the
    component's input ParentInput; the bindings are checked as a pipeline job's are."""
    bound = pipeline_graph.step_binding(value)
    if bound is not None:
        other, kind, name = bound
        if kind != "outputs":
            raise _fail(where, "a step can bind only to another step's outputs.")
        if name not in exported[other]:
            known = ", ".join(exported[other]) or "none"
            raise _fail(where, f"step '{other}' has no output '{name}' (its outputs: {known}).")
        options = value if isinstance(value, Mapping) else {}
        return Bound(other, name, tuple(sorted((k, v) for k, v in options.items() if k != "path")))
    parent = pipeline_graph.parent_binding(value)
    if parent is not None:
        kind, name = parent
        if kind != "inputs":
            raise _fail(where, "an input cannot bind to the pipeline's outputs.")
        if name not in decl_in:
            known = ", ".join(decl_in) or "none"
            raise _fail(
                where, f"the pipeline component has no input '{name}' (its inputs: {known})."
            )
        return ParentInput(name)
    return _literal(value, where)


def _component_interface(ctx, node: dict, node_type: str, here: str, values: dict, decl_in):
    """(inputs, outputs, frozen component or None, declared) of one step."""
    comp = node.get("component")
    if comp is not None and node.get("command") is not None:
        raise _fail(f"{here}.command", "give either a component or a command, not both.")
    if isinstance(comp, str):
        row = _component_row(ctx, comp, f"{here}.component")
        if node_type == "pipeline" and row.type != ComponentVersion.Type.PIPELINE:
            raise _fail(
                f"{here}.component",
                f"{row.reference} is a {row.type} component; a step of type pipeline needs a "
                "pipeline component.",
            )
        return row.inputs, row.outputs, row.reference, True
    if isinstance(comp, Mapping):
        if node_type == "pipeline" or comp.get("type") == "pipeline":
            frozen = _inline_pipeline_component(ctx, comp, f"{here}.component")
            return frozen["inputs"], frozen["outputs"], frozen, True
        iface = _inline_component(ctx, dict(comp), f"{here}.component")
        keep = ("name", "version", "display_name", "description", "tags", "is_deterministic")
        frozen = {k: comp[k] for k in keep if k in comp}
        frozen.update(
            type="command", command=iface.command, inputs=iface.inputs, outputs=iface.outputs,
            environment=iface.environment.reference, code=str(iface.code.pk) if iface.code else None,
        )  # fmt: skip
        return iface.inputs, iface.outputs, frozen, True
    if comp is not None:
        raise _fail(
            f"{here}.component", f"must be a reference or a mapping, not {submit._kind(comp)}."
        )
    if node_type == "pipeline":
        raise _fail(f"{here}.component", "a pipeline step needs a pipeline component.")
    # An inline command step: as in a pipeline job, its inputs are values.
    plain = {}
    for name, value in values.items():
        if isinstance(value, ParentInput):
            decl = decl_in[value.name]
            data = component_services.is_data_type(decl["type"])
            value = {"type": decl["type"], "path": "."} if data else "value"
        plain[name] = value
    iface = _interface(ctx, node, here, plain, None)
    return iface.inputs, iface.outputs, None, False


def _inline_pipeline_component(ctx: Context, comp: Mapping, where: str) -> dict:
    submit._strict(dict(comp), PIPELINE_COMPONENT_KEYS, where)
    with _under(where):
        inputs = component_services.clean_inputs(comp.get("inputs"))
        outputs = component_services.clean_outputs(comp.get("outputs"))
    jobs = _component_level(
        ctx, comp.get("jobs"), f"{where}.jobs", inputs, outputs, f"{where}.outputs"
    )
    keep = ("name", "version", "display_name", "description", "tags", "is_deterministic")
    return {
        **{k: comp[k] for k in keep if k in comp},
        "type": "pipeline", "inputs": inputs, "outputs": outputs, "jobs": jobs,
    }  # fmt: skip


def _check_step_inputs(decls: dict, values: dict, decl_in: dict, here: str) -> None:
    """A step's values against its component's declarations, as `_step` checks them: known
    names, required inputs given, literals of the right type and range; a parameter bound to
    the component's parameter is checked with that parameter's default, when it has one."""
    decls = dict(decls)
    plain: dict[str, Any] = {}
    for name, value in values.items():
        decl = decls.get(name)
        if decl is None:
            plain[name] = value  # bind_inputs names it
            continue
        data = component_services.is_data_type(decl["type"])
        where = f"{here}.inputs.{name}"
        if isinstance(value, Bound):
            if not data:
                raise _fail(where, "a parameter cannot bind to a step output.")
            plain[name] = value.step
        elif isinstance(value, ParentInput):
            parent = decl_in[value.name]
            if component_services.is_data_type(parent["type"]) != data:
                raise _fail(
                    where,
                    f"binds the pipeline component's {parent['type']} input '{value.name}' to "
                    f"a {decl['type']} input: a data input takes data, a parameter a value.",
                )
            if data:
                plain[name] = value.name
            elif parent.get("default") is not None:
                plain[name] = parent["default"]
            else:  # its value comes with the pipeline job that uses the component
                decls[name] = {**decl, "optional": True}
        else:
            plain[name] = value
    component_services.bind_inputs(decls, _bindable(decls, plain), f"{here}.inputs")


def _pinned_environment(ctx: Context, value: Any, here: str) -> str:
    from apps.assets.services.environments import environment_resolve

    env = environment_resolve(
        actor=ctx.actor, workspace=ctx.workspace, value=value, field=f"{here}.environment"
    )
    return env.reference


# Submit -------------------------------------------------------------------------------------


@dataclass
class Plan:
    name: str
    name_given: bool
    display_name: str
    experiment_name: str
    description: str
    tags: dict
    settings: dict
    steps: dict[str, Step]
    edges: list
    outputs: dict
    yaml: dict
    uses: list = field(default_factory=list)


def pipeline_resolve(*, actor, workspace: Workspace, document: Any, dry_run: bool = False) -> Plan:
    """Check a pipelineJob document and resolve every step; raise ValidationError naming the
    field at the first problem. Writes nothing of its own."""
    permissions.require(actor, Action.JOB_RUN, workspace)
    if not isinstance(document, Mapping):
        raise _fail("", f"the pipeline must be a mapping of fields, not {submit._kind(document)}.")
    doc = dict(document)
    submit._strict(doc, TOP_KEYS, "")
    name, given = submit._job_name(workspace, doc.get("name"))
    display_name = submit._string(doc.get("display_name"), "display_name", limit=500)
    experiment_name = submit._experiment_name(doc.get("experiment_name"))
    submit._check_experiment(workspace, experiment_name)
    description = submit._string(doc.get("description"), "description")
    tags = submit._string_map(doc.get("tags"), "tags")
    settings = _settings(workspace, doc)
    datastore = Datastore.objects.get(workspace=workspace, name=settings["default_datastore"])
    parent_in = _pipeline_inputs(doc.get("inputs"), "inputs")
    parent_out = {}
    for out_name, spec in submit._mapping(doc.get("outputs"), "outputs").items():
        submit._io_name(out_name, "outputs")
        parent_out[out_name] = dict(spec) if isinstance(spec, Mapping) else {}
    ctx = Context(
        actor=actor, workspace=workspace, name=name, datastore=datastore,
        default_compute=settings["default_compute"], dry_run=dry_run,
    )  # fmt: skip
    exports = _level(ctx, doc.get("jobs"), "jobs", "", parent_in, parent_out)
    outputs = {}
    for out_name in parent_out:
        if out_name not in exports:
            raise _fail(f"outputs.{out_name}", "no step binds it with ${{parent.outputs...}}.")
        target = exports[out_name]
        outputs[out_name] = {
            "step": target.step,
            "output": target.output,
            "uri": ctx.steps[target.step].spec["outputs"][target.output]["uri"],
        }
    names = [s.job_name for s in ctx.steps.values()]
    taken = list(
        Job.objects.filter(workspace=workspace, name__in=names).values_list("name", flat=True)
    )
    if taken:
        raise Conflict(
            f"A job named '{taken[0]}' already exists in '{workspace.name}'.",
            fields={
                "name": [f"step job name '{taken[0]}' is taken; choose another pipeline name."]
            },
        )
    return Plan(
        name=name, name_given=given, display_name=display_name or name,
        experiment_name=experiment_name, description=description, tags=tags,
        settings=settings, steps=ctx.steps, edges=ctx.edges, outputs=outputs,
        yaml={**doc, "type": "pipeline", "name": name}, uses=ctx.uses,
    )  # fmt: skip


def graph_of(plan: Plan) -> dict:
    graph = pipeline_graph.build(plan.steps, plan.edges)
    positions = pipeline_graph.layout(graph)
    return {
        "steps": {
            path: {
                "job": step.job_name, "label": step.label, "display_name": step.display_name,
                "upstream": step.upstream, "position": list(positions[path]),
            }
            for path, step in plan.steps.items()
        },
        "edges": [list(e) for e in plan.edges],
        "order": pipeline_graph.order(graph),
    }  # fmt: skip


def pipeline_submit(*, actor, workspace: Workspace, document: Any) -> Job:
    """Create a pipeline job and its steps (NotStarted) in one transaction; the pipeline
    starts when it commits. Nothing is created when any field is wrong."""
    from apps.assets.services import versions as version_services

    with transaction.atomic():
        plan = pipeline_resolve(actor=actor, workspace=workspace, document=document)
        experiment = submit._experiment(actor, workspace, plan.experiment_name)
        created_by = actor if getattr(actor, "is_authenticated", False) else None
        try:
            with transaction.atomic():
                pipeline = Job.objects.create(
                    workspace=workspace, experiment=experiment, name=plan.name,
                    display_name=plan.display_name[:500], type=Job.Type.PIPELINE,
                    status=S.NOT_STARTED, description=plan.description, tags=plan.tags,
                    created_by=created_by,
                    spec={
                        "graph": graph_of(plan), "settings": plan.settings,
                        "outputs": plan.outputs, "yaml": plan.yaml,
                    },
                )  # fmt: skip
                children = Job.objects.bulk_create(
                    [
                        Job(
                            workspace=workspace, experiment=experiment, parent=pipeline,
                            name=step.job_name, display_name=step.display_name,
                            type=Job.Type.COMMAND, status=S.NOT_STARTED, tags=step.tags,
                            compute=step.compute, code=step.code, spec=step.spec,
                            created_by=created_by,
                        )
                        for step in plan.steps.values()
                    ]
                )  # fmt: skip
        except IntegrityError:
            raise Conflict(
                f"A job named '{plan.name}' (or one of its steps) already exists.",
                fields={"name": [f"'{plan.name}' is taken."]},
            ) from None
        JobStatusChange.objects.bulk_create(
            [JobStatusChange(job=j, status=S.NOT_STARTED) for j in [pipeline, *children]]
        )
        by_path = {c.spec["step"]: c for c in children}
        for row, role, input_name in plan.uses:
            version_services.record_use(job=pipeline, row=row, role=role, input_name=input_name)
        for path, step in plan.steps.items():
            for row, role, input_name in step.uses:
                if getattr(row, "asset_id", None):
                    version_services.record_use(
                        job=by_path[path], row=row, role=role, input_name=input_name
                    )
        pk = pipeline.pk
        transaction.on_commit(lambda: pipeline_start(pk))
    return pipeline


def pipeline_check(*, actor, workspace: Workspace, document: Any) -> dict:
    """A dry run of a pipeline: everything checked, nothing kept."""
    with transaction.atomic():
        plan = pipeline_resolve(actor=actor, workspace=workspace, document=document, dry_run=True)
        transaction.set_rollback(True)
    return {
        "name": plan.name if plan.name_given else None,
        "type": "pipeline",
        "experiment_name": plan.experiment_name,
        "steps": {
            p: {"component": s.label, "compute": s.compute.name, "upstream": s.upstream}
            for p, s in plan.steps.items()
        },
        "default_datastore": plan.settings["default_datastore"],
    }


# Running ------------------------------------------------------------------------------------

_local = threading.local()


def pipeline_start(pipeline_id) -> None:
    """NotStarted → Running, then queue the steps that are ready."""
    lifecycle.transition(
        pipeline_id, S.RUNNING, from_=(S.NOT_STARTED,), start_time_ms=lifecycle.now_ms()
    )
    pipeline_advance(pipeline_id)


def step_ended(job_id) -> None:
    """lifecycle.transition's hook: a job reached a terminal status. When it is a step of
    a pipeline, advance the pipeline (not from inside an advance: that one goes on)."""
    if getattr(_local, "busy", False):
        return
    parent_id = (
        Job.objects.filter(pk=job_id, parent__isnull=False)
        .values_list("parent_id", flat=True)
        .first()
    )
    if parent_id is None:
        return
    try:
        pipeline_advance(parent_id)
    except Exception:  # the beat task advances it again
        log.exception("could not advance pipeline %s after step %s ended", parent_id, job_id)


def reuse_key(spec: dict, code_hash: str | None) -> str:
    """What makes two steps' results the same: the component (version or inline spec), the
    environment's spec hash, the code, the command, and every input's value or URI (with
    the data asset's content hash when known)."""
    inputs = {}
    for name, entry in (spec.get("inputs") or {}).items():
        if entry.get("kind") == "literal":
            inputs[name] = ["literal", entry.get("value")]
        else:
            inputs[name] = [
                entry.get("type"),
                entry.get("mode"),
                entry.get("uri"),
                entry.get("content_hash", ""),
            ]
    return _digest(
        {
            "identity": spec["reuse"]["identity"],
            "environment": spec["reuse"]["environment"],
            "code": code_hash,
            "command": spec.get("command"),
            "inputs": inputs,
            "outputs": {
                n: [o.get("type"), o.get("mode")] for n, o in (spec.get("outputs") or {}).items()
            },
            "environment_variables": spec.get("environment_variables") or {},
        }
    )


def pipeline_advance(pipeline_id) -> str:
    """Move a pipeline on (idempotent; the parent row is locked): start ready steps or reuse
    earlier results, fail the dependants of failed steps, stop the rest when
    continue_on_step_failure is false, and end the pipeline when every step has ended.
    Answers the pipeline's status."""
    _local.busy = True
    try:
        with transaction.atomic():
            return _advance(pipeline_id)
    finally:
        _local.busy = False


def _advance(pipeline_id) -> str:
    pipeline = (
        Job.objects.select_for_update().filter(pk=pipeline_id, type=Job.Type.PIPELINE).first()
    )
    if pipeline is None:
        return ""
    if pipeline.status != S.RUNNING:
        return pipeline.status
    settings = pipeline.spec.get("settings") or {}
    children = list(Job.objects.filter(parent=pipeline).select_related("code", "compute"))
    by_step = {c.spec.get("step"): c for c in children}
    order = (pipeline.spec.get("graph") or {}).get("order") or list(by_step)
    for path in order:
        child = by_step.get(path)
        if child is None or child.status != S.NOT_STARTED:
            continue
        ups = [by_step[u] for u in child.spec.get("upstream", []) if u in by_step]
        bad = [u for u in ups if u.status in FAILED_UPSTREAM]
        if bad:
            to = S.FAILED if any(u.status == S.FAILED for u in bad) else S.CANCELED
            why = f"upstream step '{bad[0].spec.get('step')}' {bad[0].status.lower()}"
            if lifecycle.transition(child.pk, to, from_=(S.NOT_STARTED,), reason=why, error=why):
                child.status = to
        elif all(u.status == S.COMPLETED for u in ups):
            _start_step(pipeline, child, by_step, settings)
    failed = [c for c in children if c.status == S.FAILED]
    if failed and settings.get("continue_on_step_failure") is False:
        why = f"step '{failed[0].spec.get('step')}' failed and continue_on_step_failure is false"
        for child in children:
            if child.status in (S.NOT_STARTED, S.QUEUED):
                if lifecycle.transition(
                    child.pk, S.CANCELED, from_=(S.NOT_STARTED, S.QUEUED), reason=why
                ):
                    child.status = S.CANCELED
                    lifecycle._release(child)
            elif child.status in (S.PREPARING, S.RUNNING):
                if lifecycle.transition(
                    child.pk, S.CANCEL_REQUESTED, from_=(S.PREPARING, S.RUNNING), reason=why
                ):
                    child.status = S.CANCEL_REQUESTED
                    pk = child.pk
                    transaction.on_commit(lambda pk=pk: lifecycle._stop_now(pk))
    if all(c.status in Job.TERMINAL for c in children):
        if all(c.status == S.COMPLETED for c in children):
            lifecycle.transition(pipeline.pk, S.COMPLETED, from_=(S.RUNNING,))
            return S.COMPLETED
        first = next(c for c in children if c.status != S.COMPLETED)
        why = f"step '{first.spec.get('step')}' {first.status.lower()}"
        if first.error:
            why += f": {first.error.splitlines()[0][:500]}"
        lifecycle.transition(
            pipeline.pk, S.FAILED, from_=(S.RUNNING,), reason=why[:1000], error=why
        )
        return S.FAILED
    return S.RUNNING


def _start_step(pipeline: Job, child: Job, by_step: dict, settings: dict) -> None:
    spec = dict(child.spec)
    inputs = {}
    for name, entry in (spec.get("inputs") or {}).items():
        entry = dict(entry)
        bind = entry.get("bind")
        if bind:
            up = by_step[bind["step"]]
            entry["uri"] = ((up.spec.get("outputs") or {}).get(bind["output"]) or {}).get("uri")
        inputs[name] = entry
    spec["inputs"] = inputs
    reuse = dict(spec.get("reuse") or {})
    reuse["key"] = reuse_key(spec, child.code.content_hash if child.code_id else None)
    spec["reuse"] = reuse
    if reuse.get("deterministic") and not settings.get("force_rerun"):
        earlier = (
            Job.objects.filter(
                workspace_id=child.workspace_id, type=Job.Type.COMMAND, status=S.COMPLETED,
                spec__reuse__key=reuse["key"],
            )
            .exclude(pk=child.pk)
            .order_by("-end_time_ms")
            .only("name", "tags", "spec")
            .first()
        )  # fmt: skip
        if earlier is not None:
            origin = earlier.tags.get("reused_from") or earlier.name
            before = earlier.spec.get("outputs") or {}
            spec["outputs"] = {
                n: {**o, "uri": (before.get(n) or {}).get("uri") or o.get("uri")}
                for n, o in (spec.get("outputs") or {}).items()
            }
            tags = {**child.tags, "reused_from": origin}
            now = lifecycle.now_ms()
            moved = lifecycle.transition(
                child.pk, S.COMPLETED, from_=(S.NOT_STARTED,), reason=f"Reused the outputs of {origin}",
                spec=spec, tags=tags, start_time_ms=now, end_time_ms=now,
            )  # fmt: skip
            if moved:
                child.status, child.spec, child.tags = S.COMPLETED, spec, tags
            return
    Job.objects.filter(pk=child.pk).update(spec=spec)
    child.spec = spec
    try:
        lifecycle.job_enqueue(child)
    except Conflict:  # canceled meanwhile
        child.refresh_from_db(fields=["status"])


def advance_running() -> int:
    """The beat task's safety net: advance every Running pipeline. Answers how many."""
    count = 0
    for pk in Job.objects.filter(type=Job.Type.PIPELINE, status=S.RUNNING).values_list(
        "pk", flat=True
    ):
        try:
            pipeline_advance(pk)
            count += 1
        except Exception:
            log.exception("could not advance pipeline %s", pk)
    return count


def pipeline_cancel(*, actor, job: Job) -> Job:
    """Cancel a pipeline: it is Canceled at once and each of its unfinished steps is
    canceled (a running one's container is stopped)."""
    permissions.require(actor, Action.JOB_CANCEL, job.workspace)
    who = getattr(actor, "username", "") or "system"
    with transaction.atomic():
        moved = lifecycle.transition(
            job.pk, S.CANCELED, from_=(S.NOT_STARTED, S.QUEUED, S.RUNNING, S.CANCEL_REQUESTED),
            reason=f"by {who}",
        )  # fmt: skip
        if not moved:
            job.refresh_from_db(fields=["status"])
            raise Conflict(f"Pipeline '{job.name}' has already ended ({job.status}).")
        for child in Job.objects.filter(parent=job).exclude(status__in=list(Job.TERMINAL)):
            with contextlib.suppress(Conflict):
                lifecycle.job_cancel(actor=actor, job=child)
    job.refresh_from_db()
    return job


# Reads for the run page ----------------------------------------------------------------------


def step_rows(pipeline: Job) -> dict[str, dict]:
    """Each step's live status, duration and reuse, in one query (the run page's poll)."""
    rows = Job.objects.filter(parent=pipeline).values(
        "name", "status", "start_time_ms", "end_time_ms", "tags", "spec__step", "error"
    )
    out = {}
    now = lifecycle.now_ms()
    for row in rows:
        start, end = row["start_time_ms"], row["end_time_ms"]
        duration = None
        if start:
            duration = max(0, ((end or now) - start) / 1000)
        out[row["spec__step"]] = {
            "name": row["name"], "status": row["status"], "duration": duration,
            "reused_from": (row["tags"] or {}).get("reused_from", ""),
            "error": (row["error"] or "").splitlines()[0][:200] if row["error"] else "",
        }  # fmt: skip
    return out


def storage_uri(datastore: str, path: str) -> str:
    return storage.uri(datastore, path)
