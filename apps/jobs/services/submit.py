"""Submitting a command job: Azure ML's commandJob YAML (azureml-yaml.md §2.1) as a JSON
document, checked field by field, resolved and frozen into `Job.spec`, then queued.

Everything is resolved at submit (§1.2-§1.7): the code snapshot (uploaded before, named by
its id), asset references to exact versions, data inputs to datastore URIs, outputs to their
destinations, the environment to one version, the compute to one row, the secrets to names
that exist in the vault. A malformed document raises `ValidationError` naming the field path
(`inputs.data.path`) and nothing is created: one transaction holds the experiment (when it is
new), the job, its first status and its lineage.

The `secrets:` key (the studio's own, see docs/jobs.md) maps environment variables to
workspace secret names; the values are never in the spec: the runner reads them from the
vault when the job starts.

`dry_run=True` checks a document whose `code` and local input `path`s are still folders on
the client's machine (the CLI checks before it uploads anything) and creates nothing.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from apps.assets import commands, references
from apps.assets import selectors as asset_selectors
from apps.assets.models import CodeSnapshot, Kind
from apps.workspaces import permissions, storage
from apps.workspaces.models import Compute, Datastore, Secret, Workspace
from apps.workspaces.permissions import Action
from apps.workspaces.services import secrets as secret_services
from studio.errors import Conflict, ValidationError

from ..models import Experiment, Job, JobStatusChange
from . import tracking

# Top-level keys of a commandJob. Keys Azure has but the studio does not act on are
# accepted and kept in `spec.yaml` (identity, services, queue_settings, distribution...).
TOP_KEYS = frozenset(
    {
        "$schema",
        "type",
        "name",
        "display_name",
        "experiment_name",
        "description",
        "tags",
        "properties",
        "command",
        "code",
        "environment",
        "environment_variables",
        "secrets",
        "compute",
        "resources",
        "distribution",
        "limits",
        "inputs",
        "outputs",
        "identity",
        "services",
        "queue_settings",
        "parent_job_name",
    }
)
INPUT_KEYS = frozenset(
    {"type", "path", "mode", "path_on_compute", "datastore", "optional", "description", "default"}
)
OUTPUT_KEYS = frozenset({"type", "path", "mode", "name", "version", "description"})
LIMIT_KEYS = frozenset({"timeout"})
RESOURCE_KEYS = frozenset(
    {
        "instance_count",
        "instance_type",
        "shm_size",
        "docker_args",
        "locations",
        "max_instance_count",
        "properties",
    }
)

DATA_TYPES = ("uri_file", "uri_folder", "mltable")
MODEL_TYPES = ("mlflow_model", "custom_model", "triton_model")
IO_TYPES = DATA_TYPES + MODEL_TYPES
INPUT_MODES = ("ro_mount", "download", "direct")
MLTABLE_MODES = INPUT_MODES + ("eval_mount", "eval_download")
OUTPUT_MODES = ("rw_mount", "upload", "direct")
JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")
DIRECT_SCHEMES = ("https://", "http://")
UNSUPPORTED_SCHEMES = ("wasbs://", "wasb://", "abfss://", "abfs://", "adl://", "git+")
SERVERLESS_NAMES = frozenset({"serverless", "azureml:serverless"})
# Server-side expressions allowed in an output's path (§1.3).
_OUTPUT_EXPR = re.compile(r"\$\{\{\s*(name|output_name|default_datastore)\s*\}\}")
_ANY_EXPR = re.compile(r"\$\{\{(.*?)\}\}")
_JOB_OUTPUT_URI = re.compile(
    r"^azureml://jobs/(?P<job>[^/]+)/outputs/(?P<out>[^/]+)(?:/paths/(?P<p>.*))?$"
)


def _fail(path: str, message: str) -> ValidationError:
    return ValidationError.for_field(path, message)


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _strict(value: Mapping, allowed: frozenset[str], where: str) -> None:
    """Refuse unknown keys in a strict place, suggesting the nearest known key."""
    for key in value:
        if key in allowed:
            continue
        path = f"{where}.{key}" if where else str(key)
        near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise _fail(
            path, f"unknown key.{hint} Known keys: {', '.join(sorted(allowed - {'$schema'}))}."
        )


def _mapping(value: Any, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be a mapping, not {_kind(value)}.")
    return dict(value)


def _string(value: Any, path: str, *, required: bool = False, limit: int = 0) -> str:
    if value is None:
        if required:
            raise _fail(path, "is required.")
        return ""
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, not {_kind(value)}.")
    if limit and len(value) > limit:
        raise _fail(path, f"is longer than {limit} characters.")
    return value


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _string_map(value: Any, path: str) -> dict[str, str]:
    """Tags, environment variables: names to plain values, kept as strings."""
    out: dict[str, str] = {}
    for key, item in _mapping(value, path).items():
        if isinstance(item, (Mapping, list)):
            raise _fail(f"{path}.{key}", f"must be a plain value, not {_kind(item)}.")
        out[str(key)] = _scalar_text(item)
    return out


def _positive_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"must be a whole number, not {_kind(value)}.")
    if value <= 0:
        raise _fail(path, "must be greater than 0.")
    return value


def _choice(value: Any, choices: tuple[str, ...], path: str, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or value not in choices:
        raise _fail(path, f"'{value}' is not one of {', '.join(choices)}.")
    return value


def _is_local_path(text: str) -> bool:
    return not (
        text.startswith("azureml:")
        or "://" in text
        or text.startswith("git+")
        or text.startswith("runs:/")
    )


@dataclass
class Resolved:
    """A document checked and resolved, ready to become a Job (or a dry run's answer)."""

    name: str
    name_given: bool
    display_name: str
    experiment_name: str
    description: str
    tags: dict[str, str]
    command: str
    environment: Any  # EnvironmentVersion
    compute: Compute
    code: CodeSnapshot | None
    inputs: dict[str, dict]
    outputs: dict[str, dict]
    environment_variables: dict[str, str]
    secrets: dict[str, str]
    timeout_s: int | None
    resources: dict
    yaml: dict
    uses: list[tuple[Any, str, str]] = field(default_factory=list)  # (row, role, input name)


# Parts -------------------------------------------------------------------------------------


def _job_name(workspace: Workspace, value: Any) -> tuple[str, bool]:
    if value is None or value == "":
        for _ in range(20):
            name = tracking.job_name_generate()
            if not Job.objects.filter(workspace=workspace, name=name).exists():
                return name, False
        raise Conflict("Could not generate a free job name; give one with `name`.")
    name = _string(value, "name")
    if not JOB_NAME_RE.match(name):
        raise _fail(
            "name",
            f"'{name}' is not a job name: letters, digits, '-' and '_', starting with a letter "
            "or a digit, at most 255 characters.",
        )
    if Job.objects.filter(workspace=workspace, name=name).exists():
        raise Conflict(
            f"A job named '{name}' already exists in '{workspace.name}'.",
            fields={"name": [f"'{name}' is taken: job names are unique in the workspace."]},
        )
    return name, True


def _compute(workspace: Workspace, value: Any) -> Compute:
    """The named compute (`azureml:cpu-cluster`, `cpu-cluster`, `local`); none or
    `serverless` means the workspace's serverless pool."""
    text = _string(value, "compute").strip()
    if not text or text in SERVERLESS_NAMES:
        pool = Compute.objects.filter(workspace=workspace, type=Compute.Type.SERVERLESS).first()
        if pool is None:
            raise _fail("compute", f"workspace '{workspace.name}' has no serverless compute.")
        return pool
    name = text.removeprefix("azureml:")
    found = Compute.objects.filter(workspace=workspace, name=name).first()
    if found is None:
        known = list(
            Compute.objects.filter(workspace=workspace)
            .order_by("name")
            .values_list("name", flat=True)
        )
        raise _fail(
            "compute",
            f"no compute named '{name}' in workspace '{workspace.name}' "
            f"(there are: {', '.join(known) or 'none'}).",
        )
    return found


def _environment(actor, workspace: Workspace, value: Any):
    if value is None or value == "":
        raise _fail(
            "environment",
            "is required: an environment reference (azureml:<name>:<version> or "
            "azureml:<name>@latest) or an inline {image: ...}.",
        )
    from apps.assets.services.environments import environment_resolve

    return environment_resolve(actor=actor, workspace=workspace, value=value, field="environment")


def _code(workspace: Workspace, value: Any, *, dry_run: bool) -> CodeSnapshot | None:
    """The code snapshot named by its id (what POST .../code/ answered)."""
    text = _string(value, "code").strip()
    if not text:
        return None
    if text.startswith(UNSUPPORTED_SCHEMES) or "://" in text:
        raise _fail("code", f"'{text}': code from a URL or git is not supported; give a folder.")
    try:
        key = uuid.UUID(text.removeprefix("azureml:"))
    except ValueError:
        if dry_run:
            return None  # a local folder the client will upload
        raise _fail(
            "code",
            f"'{text}' is a local folder: upload it first (POST workspaces/{workspace.name}/code/) "
            "and give the snapshot's id; `studio job create` does this.",
        ) from None
    snapshot = CodeSnapshot.objects.filter(workspace=workspace, pk=key).first()
    if snapshot is None:
        raise _fail("code", f"no code snapshot '{key}' in workspace '{workspace.name}'.")
    return snapshot


def _io_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not commands.IO_NAME.match(name):
        raise _fail(
            f"{where}.{name}",
            "is not a valid name: letters, digits and '_', not starting with a digit.",
        )
    if name.lower() in commands.RESERVED_IO_NAMES:
        raise _fail(f"{where}.{name}", f"'{name}' is a reserved name.")
    return name


def _data_input(
    actor, workspace: Workspace, name: str, spec: Mapping, *, dry_run: bool, uses: list
) -> dict:
    where = f"inputs.{name}"
    _strict(spec, INPUT_KEYS, where)
    io_type = _choice(spec.get("type"), IO_TYPES, f"{where}.type", "uri_folder")
    modes = MLTABLE_MODES if io_type == "mltable" else INPUT_MODES
    mode = _choice(spec.get("mode"), modes, f"{where}.mode", "ro_mount")
    raw = spec.get("path")
    if raw is None and "default" in spec:
        raw = spec["default"]
    path = _string(raw, f"{where}.path").strip()
    if not path:
        if spec.get("optional") is True:
            return {
                "kind": "data",
                "type": io_type,
                "mode": mode,
                "uri": None,
                "asset": None,
                "optional": True,
            }
        raise _fail(
            f"{where}.path", "is required: a data asset, a datastore URI, a URL or a local path."
        )
    entry = {"kind": "data", "type": io_type, "mode": mode, "uri": path, "asset": None}
    if references.is_reference(path):
        kind = Kind.MODEL if io_type in MODEL_TYPES else Kind.DATA
        row = asset_selectors.resolve(
            actor=actor, workspace=workspace, kind=kind, ref=path, field=f"{where}.path"
        )
        entry["uri"] = row.path
        entry["asset"] = row.reference
        uses.append((row, "input", name))
    elif path.startswith("azureml://datastores/") or path.startswith("azureml://subscriptions/"):
        datastore, rel = storage.resolve_datastore_uri(workspace, path, field=f"{where}.path")
        entry["uri"] = storage.uri(datastore.name, rel)
    elif m := _JOB_OUTPUT_URI.match(path):
        entry["uri"] = _job_output_uri(workspace, m, f"{where}.path")
    elif path.startswith(DIRECT_SCHEMES):
        pass
    elif path.startswith(UNSUPPORTED_SCHEMES) or "://" in path or path.startswith("runs:/"):
        raise _fail(
            f"{where}.path",
            f"'{path}': this kind of URI is not supported; copy the data to a datastore and "
            "give azureml://datastores/<name>/paths/<path>.",
        )
    elif not dry_run:
        raise _fail(
            f"{where}.path",
            f"'{path}' is a local path: upload it first (to a datastore or as a data asset) "
            "and give its URI; `studio job create` does this.",
        )
    if spec.get("optional") is True:
        entry["optional"] = True
    return entry


def _job_output_uri(workspace: Workspace, m: re.Match, path: str) -> str:
    earlier = Job.objects.filter(workspace=workspace, name=m["job"]).first()
    if earlier is None:
        raise _fail(path, f"no job named '{m['job']}' in workspace '{workspace.name}'.")
    out = (earlier.spec.get("outputs") or {}).get(m["out"])
    if not out or not out.get("uri"):
        raise _fail(path, f"job '{m['job']}' has no output named '{m['out']}'.")
    tail = (m["p"] or "").lstrip("/")
    return out["uri"].rstrip("/") + "/" + tail if tail else out["uri"]


def _inputs(actor, workspace: Workspace, value: Any, *, dry_run: bool, uses: list) -> dict:
    out: dict[str, dict] = {}
    for name, spec in _mapping(value, "inputs").items():
        _io_name(name, "inputs")
        if isinstance(spec, Mapping):
            out[name] = _data_input(actor, workspace, name, spec, dry_run=dry_run, uses=uses)
        elif isinstance(spec, list):
            raise _fail(
                f"inputs.{name}", "must be a value or a mapping (type, path, mode), not a list."
            )
        elif spec is None:
            raise _fail(f"inputs.{name}", "has no value: give a literal or {type, path, mode}.")
        else:
            # Literal strings stay literal even when they look like URLs (§1.4's quirk).
            out[name] = {"kind": "literal", "value": commands.literal_text(spec)}
    return out


def _default_datastore(workspace: Workspace) -> Datastore:
    found = Datastore.objects.filter(workspace=workspace, is_default=True).first()
    if found is None:
        raise _fail("outputs", f"workspace '{workspace.name}' has no default datastore.")
    return found


def _outputs(workspace: Workspace, value: Any, job_name: str) -> dict:
    out: dict[str, dict] = {}
    default_ds = None
    for name, spec in _mapping(value, "outputs").items():
        _io_name(name, "outputs")
        where = f"outputs.{name}"
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise _fail(where, f"must be a mapping (type, mode, path), not {_kind(spec)}.")
        _strict(spec, OUTPUT_KEYS, where)
        io_type = _choice(spec.get("type"), IO_TYPES, f"{where}.type", "uri_folder")
        mode = spec.get("mode")
        mode = "rw_mount" if mode == "mount" else mode  # the SDK's legacy name
        mode = _choice(mode, OUTPUT_MODES, f"{where}.mode", "rw_mount")
        default_ds = default_ds or _default_datastore(workspace)
        raw = _string(spec.get("path"), f"{where}.path").strip()
        if raw:
            values = {"name": job_name, "output_name": name, "default_datastore": default_ds.name}
            text = _OUTPUT_EXPR.sub(lambda m, v=values: v[m[1]], raw)
            if bad := _ANY_EXPR.search(text):
                raise _fail(
                    f"{where}.path",
                    f"'{bad[0]}' is not allowed here: only ${{{{name}}}}, ${{{{output_name}}}} "
                    "and ${{default_datastore}}.",
                )
            datastore, rel = storage.resolve_datastore_uri(workspace, text, field=f"{where}.path")
            uri = storage.uri(datastore.name, rel)
            if io_type != "uri_file" and not uri.endswith("/"):
                uri += "/"
        else:
            uri = storage.uri(default_ds.name, f"azureml/{job_name}/{name}") + "/"
        register = None
        if spec.get("name") is not None or spec.get("version") is not None:
            reg_name = _string(spec.get("name"), f"{where}.name", required=True)
            version = spec.get("version")
            if isinstance(version, bool) or not isinstance(version, (str, int, float, type(None))):
                raise _fail(f"{where}.version", f"must be a string, not {_kind(version)}.")
            register = {"name": reg_name, "version": None if version is None else str(version)}
        out[name] = {"type": io_type, "mode": mode, "uri": uri, "register": register}
    return out


def _secrets(workspace: Workspace, value: Any, taken: set[str]) -> dict[str, str]:
    refs = secret_services.parse_secret_refs(value, field="secrets", taken=taken)
    if refs:
        found = set(
            Secret.objects.filter(workspace=workspace, name__in=set(refs.values())).values_list(
                "name", flat=True
            )
        )
        for env, name in refs.items():
            if name not in found:
                raise _fail(
                    f"secrets.{env}",
                    f"no secret named '{name}' in workspace '{workspace.name}'; set it on the "
                    f"Secrets page or with `studio workspace secret set --name {name}`.",
                )
    return refs


def _limits(value: Any) -> int | None:
    limits = _mapping(value, "limits")
    _strict(limits, LIMIT_KEYS, "limits")
    if limits.get("timeout") is None:
        return None
    return _positive_int(limits["timeout"], "limits.timeout")


def _resources(value: Any) -> dict:
    resources = _mapping(value, "resources")
    _strict(resources, RESOURCE_KEYS, "resources")
    count = resources.get("instance_count")
    count = 1 if count is None else _positive_int(count, "resources.instance_count")
    if count > 1:
        raise _fail(
            "resources.instance_count",
            "must be 1: the studio runs a command job on one node (distributed jobs are not "
            "supported yet).",
        )
    return {"instance_count": count}


def _experiment_name(value: Any) -> str:
    name = _string(value, "experiment_name", limit=tracking.MAX_EXPERIMENT_NAME).strip()
    return name or tracking.DEFAULT_EXPERIMENT


def _document(document: Any) -> dict:
    if not isinstance(document, Mapping):
        raise _fail("", f"the job must be a mapping of fields, not {_kind(document)}.")
    doc = dict(document)
    _strict(doc, TOP_KEYS, "")
    job_type = doc.get("type")
    if job_type not in (None, "command"):
        if not isinstance(job_type, str):
            raise _fail("type", f"must be a string, not {_kind(job_type)}.")
        raise _fail("type", f"'{job_type}' jobs are not accepted here; only type: command.")
    return doc


# Resolve and create --------------------------------------------------------------------------


def job_resolve(*, actor, workspace: Workspace, document: Any, dry_run: bool = False) -> Resolved:
    """Check a commandJob document and resolve every reference in it; raise ValidationError
    naming the field path at the first problem. Writes nothing."""
    permissions.require(actor, Action.JOB_RUN, workspace)
    doc = _document(document)
    name, given = _job_name(workspace, doc.get("name"))
    display_name = _string(doc.get("display_name"), "display_name", limit=500)
    experiment_name = _experiment_name(doc.get("experiment_name"))
    description = _string(doc.get("description"), "description")
    tags = _string_map(doc.get("tags"), "tags")
    _mapping(doc.get("properties"), "properties")
    env_vars = _string_map(doc.get("environment_variables"), "environment_variables")
    timeout_s = _limits(doc.get("limits"))
    resources = _resources(doc.get("resources"))
    uses: list = []
    inputs = _inputs(actor, workspace, doc.get("inputs"), dry_run=dry_run, uses=uses)
    outputs = _outputs(workspace, doc.get("outputs"), name)
    declared_in = {k: {"optional": v.get("optional", False)} for k, v in inputs.items()}
    command = commands.validate(doc.get("command"), inputs=declared_in, outputs=outputs)
    secrets = _secrets(workspace, doc.get("secrets"), set(env_vars))
    compute = _compute(workspace, doc.get("compute"))
    code = _code(workspace, doc.get("code"), dry_run=dry_run)
    environment = _environment(actor, workspace, doc.get("environment"))
    uses.append((environment, "environment", ""))
    _check_experiment(workspace, experiment_name)
    return Resolved(
        name=name,
        name_given=given,
        display_name=display_name or name,
        experiment_name=experiment_name,
        description=description,
        tags=tags,
        command=command,
        environment=environment,
        compute=compute,
        code=code,
        inputs=inputs,
        outputs=outputs,
        environment_variables=env_vars,
        secrets=secrets,
        timeout_s=timeout_s,
        resources=resources,
        yaml={**doc, "type": "command", "name": name},
        uses=uses,
    )


def _check_experiment(workspace: Workspace, name: str) -> None:
    found = Experiment.objects.filter(workspace=workspace, name=name).first()
    if found is not None and found.lifecycle_stage != Experiment.Lifecycle.ACTIVE:
        raise _fail(
            "experiment_name", f"experiment '{name}' is deleted: restore it or choose another name."
        )


def _experiment(actor, workspace: Workspace, name: str) -> Experiment:
    if name == tracking.DEFAULT_EXPERIMENT:
        return tracking.experiment_default(workspace=workspace)
    found = Experiment.objects.filter(workspace=workspace, name=name).first()
    if found is not None:
        return found
    try:
        return tracking.experiment_create(actor=actor, workspace=workspace, name=name)
    except Conflict:  # made meanwhile by a concurrent submit
        return Experiment.objects.get(workspace=workspace, name=name)


def spec_of(resolved: Resolved) -> dict:
    """The frozen `Job.spec` the runner reads (the contract with apps/jobs/runner.py)."""
    env = resolved.environment
    return {
        "command": resolved.command,
        "environment": {"id": str(env.pk), "name": env.name, "version": env.version},
        # An optional input given no value is left out: its $[[...]] part is dropped.
        "inputs": {k: v for k, v in resolved.inputs.items() if v["kind"] == "literal" or v["uri"]},
        "outputs": resolved.outputs,
        "environment_variables": resolved.environment_variables,
        "secrets": resolved.secrets,
        "timeout_s": resolved.timeout_s,
        "resources": resolved.resources,
        "code_dir": "",
        "yaml": resolved.yaml,
    }


def job_submit(*, actor, workspace: Workspace, document: Any) -> Job:
    """Create a command job from a commandJob document (YAML as JSON) and queue it when the
    transaction commits. Nothing is created when any field is wrong."""
    from apps.assets.services import versions as version_services

    if _is_pipeline(document):
        from .pipelines import pipeline_submit

        return pipeline_submit(actor=actor, workspace=workspace, document=document)
    with transaction.atomic():
        resolved = job_resolve(actor=actor, workspace=workspace, document=document)
        experiment = _experiment(actor, workspace, resolved.experiment_name)
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    workspace=workspace,
                    experiment=experiment,
                    name=resolved.name,
                    display_name=resolved.display_name[:500],
                    type=Job.Type.COMMAND,
                    status=Job.Status.NOT_STARTED,
                    description=resolved.description,
                    tags=resolved.tags,
                    compute=resolved.compute,
                    code=resolved.code,
                    spec=spec_of(resolved),
                    created_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
        except IntegrityError:
            raise Conflict(
                f"A job named '{resolved.name}' already exists in '{workspace.name}'.",
                fields={"name": [f"'{resolved.name}' is taken."]},
            ) from None
        JobStatusChange.objects.create(job=job, status=Job.Status.NOT_STARTED)
        for row, role, input_name in resolved.uses:
            if getattr(row, "asset_id", None):
                version_services.record_use(job=job, row=row, role=role, input_name=input_name)
        transaction.on_commit(lambda: _enqueue(job))
    return job


def _is_pipeline(document: Any) -> bool:
    """`type: pipeline` documents go to services/pipelines.py."""
    return isinstance(document, Mapping) and document.get("type") == "pipeline"


def _enqueue(job: Job) -> None:
    from . import lifecycle

    lifecycle.job_enqueue(job)


def job_check(*, actor, workspace: Workspace, document: Any) -> dict:
    """A dry run: check a document (its code and local paths may still be on the client's
    machine) and answer with what the job would be. Creates nothing."""
    if _is_pipeline(document):
        from .pipelines import pipeline_check

        return pipeline_check(actor=actor, workspace=workspace, document=document)
    with transaction.atomic():
        resolved = job_resolve(actor=actor, workspace=workspace, document=document, dry_run=True)
        # An inline environment may have been registered on the way: a dry run keeps nothing.
        transaction.set_rollback(True)
    env = resolved.environment
    return {
        "name": resolved.name if resolved.name_given else None,
        "experiment_name": resolved.experiment_name,
        "compute": resolved.compute.name,
        "environment": f"azureml:{env.name}:{env.version}",
        "inputs": resolved.inputs,
        "outputs": resolved.outputs,
        "default_datastore": _default_datastore(workspace).name,
    }


def form_choices(*, actor, workspace: Workspace) -> dict[str, list[tuple[str, str]]]:
    """The pickers of Author > Jobs > New: environments (latest version of each name), the
    workspace's computes (the serverless pool first) and recent code snapshots. A read."""
    from apps.assets.models import Asset

    permissions.require(actor, Action.JOB_RUN, workspace)
    environments = [
        (f"azureml:{name}@latest", f"{name} (latest: {version})")
        for name, version in Asset.objects.filter(
            workspace=workspace, kind=Kind.ENVIRONMENT, archived=False
        )
        .exclude(latest_version="")
        .order_by("name")
        .values_list("name", "latest_version")
    ]
    computes = [
        ("" if c.type == Compute.Type.SERVERLESS else c.name, f"{c.name} ({c.get_type_display()})")
        for c in Compute.objects.filter(workspace=workspace).order_by("name")
    ]
    computes.sort(key=lambda choice: choice[0] != "")
    snapshots = [
        (str(s.pk), f"{s.content_hash[:12]} · {s.file_count} files · {s.created_at:%Y-%m-%d %H:%M}")
        for s in CodeSnapshot.objects.filter(workspace=workspace).order_by("-created_at")[:50]
    ]
    return {"environments": environments, "computes": computes, "snapshots": snapshots}
