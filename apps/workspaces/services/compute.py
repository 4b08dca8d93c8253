"""Writes to compute targets: create, update, delete, start/stop/restart instances, the
workspace's serverless settings, and carrying out instance schedules.

A compute is described with the fields of Azure ML's `az ml compute create` YAML
(/work/shared/reference/azureml-yaml.md §2.12). Fields that only mean something on Azure
(location, tier, identity, network settings, ...) are kept in `extra` and named in the
`warnings` the create and update services return; unknown fields are refused by name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import json
import logging
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from studio.errors import Conflict, ValidationError

from .. import permissions, scheduling, vault
from ..models import Compute, ComputeEvent, Membership, VmSize, Workspace
from ..permissions import Action
from .workspaces import _clean_tags, _full_clean

log = logging.getLogger(__name__)
User = get_user_model()

T = Compute.Type
DEFAULT_SIZE = "Standard_DS3_v2"
SERVERLESS_NAME = "serverless"
ENGINE_TIMEOUT = 5  # seconds the Docker engine of an attached compute has to answer
MAX_NODES = 1000
MAX_IDLE_SECONDS = 7 * 24 * 3600

# Fields each type takes, besides name, type, description and tags.
SCALE_FIELDS = ("min_instances", "max_instances", "idle_time_before_scale_down")
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    T.AMLCOMPUTE: ("size", *SCALE_FIELDS),
    T.COMPUTEINSTANCE: ("size", "assigned_user", "schedules"),
    T.LOCAL: SCALE_FIELDS,
    T.ATTACHED: ("url", "tls", "ssh_private_key", "remote", "studio_url", "size", *SCALE_FIELDS),
}
ENGINE_OPTIONS = ("remote", "studio_url")  # an attached engine's settings kept in its config
SERVERLESS_FIELDS = ("size", "max_instances", "idle_time_before_scale_down")
COMMON_FIELDS = ("name", "type", "description", "tags")
# Fields of Azure's amlCompute / computeInstance schemas that only make sense on Azure.
AZURE_ONLY = frozenset(
    {
        "id",
        "location",
        "tier",
        "identity",
        "resource_id",
        "ssh_public_access_enabled",
        "ssh_settings",
        "network_settings",
        "enable_node_public_ip",
        "create_on_behalf_of",
        "idle_time_before_shutdown",
        "idle_time_before_shutdown_minutes",
        "setup_scripts",
        "custom_applications",
        "enable_root_access",
        "enable_os_patching",
        "enable_sso",
        "release_quota_on_stop",
        "os_image_metadata",
    }
)
TLS_KEYS = ("ca_cert", "client_cert", "client_key")
SECRET_KEYS = (*TLS_KEYS, "ssh_private_key")
ENGINE_SCHEMES = ("tcp", "ssh", "unix")


# Parsing the Azure-shaped fields -----------------------------------------------------------


def _whole(value: Any, field: str, *, minimum: int, maximum: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.for_field(field, "Must be a whole number.")
    if not minimum <= value <= maximum:
        raise ValidationError.for_field(field, f"Must be between {minimum} and {maximum}.")
    return value


def size_get(name: Any, *, field: str = "size") -> VmSize:
    """A size preset by name (case-insensitive, as on Azure), or a field error that lists
    some valid names."""
    found = VmSize.objects.filter(name__iexact=str(name or "").strip()).first()
    if found is not None:
        return found
    names = list(
        VmSize.objects.order_by("cores", "memory_gb", "name").values_list("name", flat=True)
    )
    close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
    listed = ", ".join(close or names[:6])
    more = "" if close or len(names) <= 6 else f" and {len(names) - 6} more"
    raise ValidationError.for_field(
        field, f"Unknown size {name!r}; choose one of {listed}{more} (see the VM sizes list)."
    )


def default_size() -> VmSize | None:
    """Azure's default size when the table has it, else the smallest preset."""
    return VmSize.objects.filter(name=DEFAULT_SIZE).first() or VmSize.objects.first()


def _type(value: Any) -> str:
    key = str(value or "").strip().lower()
    if key == T.SERVERLESS:
        raise ValidationError.for_field(
            "type",
            "The serverless compute is the workspace's own (one per workspace); "
            "change its settings instead of creating one.",
        )
    if key not in TYPE_FIELDS:
        choices = ", ".join(sorted(TYPE_FIELDS))
        raise ValidationError.for_field(
            "type", f"Unknown compute type {value!r}; choose one of {choices}."
        )
    return key


def _unknown_field(key: str, type_: str, allowed: set[str]) -> ValidationError:
    owners = [t for t, fields in TYPE_FIELDS.items() if key in fields]
    if owners:
        return ValidationError.for_field(key, f"Not a field of a {type_} compute.")
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return ValidationError.for_field(key, f"Unknown field{hint}")


def _split_fields(
    spec: Mapping[str, Any], allowed: set[str], type_: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Our fields and the Azure-only ones (kept as `extra`). Unknown fields are an error
    that names them."""
    ours, extra = {}, {}
    for key, value in spec.items():
        key = str(key)
        if key == "$schema":
            continue
        if key in allowed:
            ours[key] = value
        elif key in AZURE_ONLY:
            extra[key] = value
        else:
            raise _unknown_field(key, type_, allowed)
    return ours, extra


def _schedules(value: Any, warnings: list[str]) -> list[dict[str, str]]:
    """Azure's `schedules.compute_start_stop` list as [{action, cron, time_zone}]."""
    if value in (None, {}, []):
        return []
    if not isinstance(value, Mapping):
        raise ValidationError.for_field("schedules", "Must be a mapping with compute_start_stop.")
    unknown = sorted(set(value) - {"compute_start_stop"})
    if unknown:
        raise ValidationError.for_field(f"schedules.{unknown[0]}", "Unknown field.")
    items = value.get("compute_start_stop") or []
    base = "schedules.compute_start_stop"
    if not isinstance(items, list):
        raise ValidationError.for_field(base, "Must be a list of schedules.")
    return [_schedule(item, f"{base}[{i}]", warnings) for i, item in enumerate(items)]


def _schedule(item: Any, path: str, warnings: list[str]) -> dict[str, str]:
    if not isinstance(item, Mapping):
        raise ValidationError.for_field(path, "Must be a mapping with action and trigger.")
    action = str(item.get("action") or "").strip().lower()
    if action not in ("start", "stop"):
        raise ValidationError.for_field(f"{path}.action", "Must be start or stop.")
    trigger = item.get("trigger")
    if not isinstance(trigger, Mapping):
        raise ValidationError.for_field(f"{path}.trigger", "Must be a mapping (type, expression).")
    kind = str(trigger.get("type") or "cron").strip().lower()
    if kind != "cron":
        raise ValidationError.for_field(
            f"{path}.trigger.type",
            f"Only cron triggers are supported, not {kind!r}; write it as a cron expression.",
        )
    expression = trigger.get("expression")
    if not scheduling.cron_valid(expression):
        raise ValidationError.for_field(
            f"{path}.trigger.expression",
            f"{expression!r} is not a cron expression (minute hour day month weekday).",
        )
    zone = str(trigger.get("time_zone") or "UTC").strip()
    try:
        scheduling.time_zone(zone)
    except ValueError:
        raise ValidationError.for_field(
            f"{path}.trigger.time_zone",
            f"Unknown time zone {zone!r}; use e.g. UTC or Europe/Paris.",
        ) from None
    ignored = sorted({*item} - {"action", "trigger"}) + sorted(
        f"trigger.{k}" for k in trigger if k not in ("type", "expression", "time_zone")
    )
    warnings.extend(f"{path}.{key}" for key in ignored)
    return {"action": action, "cron": expression.strip(), "time_zone": zone}


def _assigned_user(value: Any, workspace: Workspace):
    username = str(value or "").strip()
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None or not Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationError.for_field(
            "assigned_user", f"{username!r} is not a member of workspace '{workspace.name}'."
        )
    return user


def _clean_values(fields: dict[str, Any], *, workspace: Workspace, warnings: list[str]) -> dict:
    """Model values from our (non-attached) fields."""
    values: dict[str, Any] = {}
    if "description" in fields:
        values["description"] = str(fields["description"] or "")
    if "tags" in fields:
        values["tags"] = _clean_tags(fields["tags"])
    if "size" in fields:
        values["size"] = None if fields["size"] is None else size_get(fields["size"])
    limits = {"min_instances": (0, MAX_NODES), "max_instances": (1, MAX_NODES)}
    limits["idle_time_before_scale_down"] = (0, MAX_IDLE_SECONDS)
    for key, (low, high) in limits.items():
        if fields.get(key) is not None:
            values[key] = _whole(fields[key], key, minimum=low, maximum=high)
    if fields.get("assigned_user") is not None:
        values["assigned_user"] = _assigned_user(fields["assigned_user"], workspace)
    if "schedules" in fields:
        values["schedules"] = _schedules(fields["schedules"], warnings)
    return values


def _check_size(compute: Compute) -> None:
    """Clusters, instances and the serverless pool run containers of a size; an attached
    engine may leave its containers unlimited, and local processes have no size."""
    if compute.size is None and compute.type in (T.AMLCOMPUTE, T.COMPUTEINSTANCE, T.SERVERLESS):
        if VmSize.objects.exists():
            raise ValidationError.for_field("size", "Choose a size.")


def _check_min_max(compute: Compute) -> None:
    if compute.min_instances > compute.max_instances:
        raise ValidationError.for_field(
            "min_instances",
            f"Must not be more than max_instances ({compute.max_instances}); "
            f"it is {compute.min_instances}.",
        )


# Attached Docker engines -----------------------------------------------------------------


def _pem(value: Any, field: str, kind: str) -> str:
    if not isinstance(value, str) or "-----BEGIN" not in value:
        raise ValidationError.for_field(field, f"Must be a PEM {kind} (-----BEGIN ...).")
    return value.strip() + "\n"


def _engine_settings(
    fields: dict[str, Any], current: dict | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The engine's URL and TLS flags (config) and its secrets, from `url`, `tls` and
    `ssh_private_key`. `current` holds the stored ones when updating."""
    config = dict((current or {}).get("config") or {})
    secrets = dict((current or {}).get("secrets") or {})
    url = str(fields.get("url", config.get("url")) or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ENGINE_SCHEMES:
        raise ValidationError.for_field(
            "url", "Must be tcp://host:port or ssh://user@host (unix:///path for this machine)."
        )
    if parts.scheme in ("tcp", "ssh") and not parts.hostname:
        raise ValidationError.for_field("url", f"Give the engine's host: {parts.scheme}://host.")
    if parts.scheme == "tcp" and not parts.port:
        raise ValidationError.for_field("url", "Give the port: tcp://host:2376 (TLS) or :2375.")
    if parts.scheme == "unix" and not parts.path:
        raise ValidationError.for_field("url", "Give the socket: unix:///var/run/docker.sock.")
    if url != config.get("url"):
        config.pop("ssh_known_hosts", None)  # another host: learn its key again
    config["url"] = url
    if "tls" in fields:
        config["tls"], secrets = _tls(fields["tls"], secrets, parts.scheme)
    if fields.get("ssh_private_key"):
        if parts.scheme != "ssh":
            raise ValidationError.for_field("ssh_private_key", "Only for an ssh:// engine.")
        secrets["ssh_private_key"] = _pem(fields["ssh_private_key"], "ssh_private_key", "key")
    return config, secrets


def _engine_options(fields: Mapping[str, Any], config: dict) -> dict:
    """An attached engine's `remote` (true: copy the job's files in and out; false: the
    engine sees this machine's files; null: by the URL's scheme) and `studio_url` (how its
    job containers reach the studio) applied to a copy of its config."""
    config = dict(config)
    if "remote" in fields:
        remote = fields["remote"]
        if isinstance(remote, str) and remote.strip().lower() in ("true", "false", ""):
            remote = {"true": True, "false": False, "": None}[remote.strip().lower()]
        if remote is not None and not isinstance(remote, bool):
            raise ValidationError.for_field("remote", "Must be true, false or null (automatic).")
        if remote is None:
            config.pop("remote", None)
        else:
            config["remote"] = remote
    if "studio_url" in fields:
        url = str(fields["studio_url"] or "").strip().rstrip("/")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValidationError.for_field(
                    "studio_url",
                    "Must be http(s)://host[:port], the address job containers on that engine "
                    "reach the studio at, e.g. http://10.0.0.2:8000.",
                )
            if parts.hostname in ("localhost", "127.0.0.1", "::1"):
                raise ValidationError.for_field(
                    "studio_url",
                    f"{parts.hostname} is the job's own container, not the studio: give an "
                    "address of the studio's machine that the engine's machine can reach.",
                )
            config["studio_url"] = url
        else:
            config.pop("studio_url", None)
    return config


def _tls(value: Any, secrets: dict[str, str], scheme: str) -> tuple[dict, dict]:
    secrets = {k: v for k, v in secrets.items() if k not in TLS_KEYS}
    if value in (None, False, {}):
        return {}, secrets
    if scheme != "tcp":
        raise ValidationError.for_field("tls", "TLS applies to a tcp:// engine only.")
    value = {} if value is True else value
    if not isinstance(value, Mapping):
        raise ValidationError.for_field("tls", "Must be a mapping: ca_cert, client_cert, ...")
    unknown = sorted(set(value) - {*TLS_KEYS, "verify"})
    if unknown:
        raise ValidationError.for_field(f"tls.{unknown[0]}", "Unknown field.")
    for key in TLS_KEYS:
        if value.get(key):
            secrets[key] = _pem(value[key], f"tls.{key}", "key" if key == "client_key" else "cert")
    if ("client_cert" in secrets) != ("client_key" in secrets):
        raise ValidationError.for_field(
            "tls.client_key", "Give client_cert and client_key together."
        )
    verify = value.get("verify", True)
    if not isinstance(verify, bool):
        raise ValidationError.for_field("tls.verify", "Must be true or false.")
    return {"enabled": True, "verify": verify}, secrets


def _write_secret(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.touch(mode=0o600)
    path.write_text(text)
    return str(path)


def _reason(exc: BaseException) -> str:
    from apps.jobs.executors.docker import tls_reason

    text = str(exc)
    if tls := tls_reason(text):
        return f"TLS: {tls}"
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found[-1].strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


@contextlib.contextmanager
def _ssh_tunnel(url: str, secrets: dict, config: dict, folder: Path) -> Iterator[str]:
    """Forward a local socket to the remote engine's socket with the ssh client (no
    paramiko needed). The host's key is learnt on first contact and pinned after that."""
    parts = urlsplit(url)
    local = folder / "docker.sock"
    known = folder / "known_hosts"
    known.write_text(config.get("ssh_known_hosts", ""))
    args = ["ssh", "-N", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"]
    args += ["-o", f"ConnectTimeout={ENGINE_TIMEOUT}", "-o", f"UserKnownHostsFile={known}"]
    args += [
        "-o",
        "StrictHostKeyChecking=" + ("yes" if config.get("ssh_known_hosts") else "accept-new"),
    ]
    args += ["-L", f"{local}:{parts.path or '/var/run/docker.sock'}"]
    if secrets.get("ssh_private_key"):
        key = _write_secret(folder, "id_key", secrets["ssh_private_key"])
        args += ["-i", key, "-o", "IdentitiesOnly=yes"]
    if parts.port:
        args += ["-p", str(parts.port)]
    if parts.username:
        args += ["-l", parts.username]
    args += ["--", parts.hostname or ""]
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + ENGINE_TIMEOUT + 1
        while not local.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = (proc.communicate()[1] or b"").decode(errors="replace").strip()
                raise ConnectionError(err.splitlines()[-1] if err else "ssh did not connect")
            time.sleep(0.05)
        config["ssh_known_hosts"] = known.read_text()
        yield f"unix://{local}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=5)


@contextlib.contextmanager
def _engine(config: dict, secrets: dict) -> Iterator[Any]:
    import docker

    from apps.jobs.executors.docker import engine_client

    with tempfile.TemporaryDirectory(prefix="studio-engine-") as tmp:
        folder = Path(tmp)
        url, tls = config["url"], config.get("tls") or {}
        with contextlib.ExitStack() as stack:
            kwargs: dict[str, Any] = {}
            if url.startswith("ssh://"):
                url = stack.enter_context(_ssh_tunnel(url, secrets, config, folder))
            elif tls.get("enabled"):
                files = {k: _write_secret(folder, k, secrets[k]) for k in TLS_KEYS if k in secrets}
                cert = (
                    (files["client_cert"], files["client_key"]) if "client_cert" in files else None
                )
                verify = files.get("ca_cert", True) if tls.get("verify", True) else False
                kwargs["tls"] = docker.tls.TLSConfig(
                    client_cert=cert, ca_cert=files.get("ca_cert"), verify=verify
                )
            # the engine's own CA even where REQUESTS_CA_BUNDLE is set (see engine_client)
            client = engine_client(url, kwargs.get("tls"), timeout=ENGINE_TIMEOUT)
            stack.callback(client.close)
            yield client


def _check_engine(config: dict, secrets: dict) -> None:
    """The engine must answer (`docker version`) before the compute is saved."""
    try:
        with _engine(config, secrets) as client:
            version = client.version()
    except Exception as exc:  # any failure to reach it is the user's to fix: say which
        raise ValidationError.for_field(
            "url", f"The Docker engine at {config['url']} does not answer: {_reason(exc)}."
        ) from None
    config["engine"] = {
        "version": version.get("Version", ""),
        "os": f"{version.get('Os', '')}/{version.get('Arch', '')}",
        "checked_at": timezone.now().isoformat(timespec="seconds"),
    }


def _secrets_of(compute: Compute) -> dict[str, str]:
    if not compute.credentials:
        return {}
    cipher = vault.workspace_cipher(compute.workspace.vault_key)
    return json.loads(cipher.decrypt(bytes(compute.credentials)))


def _seal(workspace: Workspace, secrets: dict[str, str]) -> bytes:
    if not secrets:
        return b""
    return vault.workspace_cipher(workspace.vault_key).encrypt(json.dumps(secrets).encode())


@contextlib.contextmanager
def engine_client(*, compute: Compute) -> Iterator[Any]:
    """A docker client of an attached compute's engine, credentials and all (for the job
    runner; system-internal, no actor)."""
    with _engine(dict(compute.config), _secrets_of(compute)) as client:
        yield client


def credential_names(compute: Compute) -> list[str]:
    """Which secrets are stored (never their values)."""
    return sorted(_secrets_of(compute)) if compute.credentials else []


# Queues ---------------------------------------------------------------------------------------


def _announce(compute: Compute, *, added: bool) -> None:
    """After commit, tell the workers that serve every compute to start or stop consuming
    the compute's queue."""
    from ..tasks import announce_queue

    queue, type_, host = compute.queue_name, compute.type, compute.config.get("host", "")
    transaction.on_commit(lambda: announce_queue(queue, added=added, compute_type=type_, host=host))


def _username(actor) -> str:
    return actor.get_username() if actor is not None else "system"


# Services --------------------------------------------------------------------------------------


@transaction.atomic
def compute_create(
    *, actor, workspace: Workspace, spec: Mapping[str, Any]
) -> tuple[Compute, list[str]]:
    """Create a compute from Azure-shaped fields. Returns it and the warnings to show (the
    Azure-only fields that were kept but are not acted on)."""
    permissions.require(actor, Action.COMPUTE_CREATE, workspace)
    if not isinstance(spec, Mapping):
        raise ValidationError("Expected a mapping of compute fields.")
    type_ = _type(spec.get("type"))
    allowed = {*COMMON_FIELDS, *TYPE_FIELDS[type_]}
    fields, extra = _split_fields(spec, allowed, type_)
    warnings: list[str] = []
    compute = Compute(workspace=workspace, type=type_, created_by=actor, extra=extra)
    compute.name = str(fields.get("name") or "").strip()
    if not compute.name:
        raise ValidationError.for_field("name", "Give the compute a name.")
    if Compute.objects.filter(workspace=workspace, name__iexact=compute.name).exists():
        raise Conflict(
            f"A compute named '{compute.name}' already exists in '{workspace.name}'.",
            fields={"name": ["This name is taken."]},
        )
    _full_clean(compute, exclude=["credentials", "size", "assigned_user"], validate_unique=False)
    values = _clean_values(
        {
            k: v
            for k, v in fields.items()
            if k in TYPE_FIELDS[type_] or k in ("description", "tags")
        },
        workspace=workspace,
        warnings=warnings,
    )
    _defaults(compute, type_, actor)
    for key, value in values.items():
        setattr(compute, key, value)
    _check_size(compute)
    _check_min_max(compute)
    if type_ == T.ATTACHED:
        config, secrets = _engine_settings(fields)
        config = _engine_options(fields, config)
        _check_engine(config, secrets)
        compute.config, compute.credentials = config, _seal(workspace, secrets)
    _full_clean(compute, exclude=["credentials"], validate_unique=False)
    try:
        with transaction.atomic():
            compute.save()
    except IntegrityError:
        raise Conflict(
            f"A compute named '{compute.name}' already exists in '{workspace.name}'.",
            fields={"name": ["This name is taken."]},
        ) from None
    scheduling.record_event(
        compute, ComputeEvent.Kind.CREATED, _created_message(compute), _username(actor)
    )
    scheduling.ensure_min_nodes(compute)
    _announce(compute, added=True)
    warnings = _warnings(extra, warnings)
    return compute, warnings


def _defaults(compute: Compute, type_: str, actor) -> None:
    if type_ in (T.AMLCOMPUTE, T.COMPUTEINSTANCE):
        compute.size = default_size()
    if type_ == T.COMPUTEINSTANCE:
        compute.assigned_user = actor
        compute.min_instances = compute.max_instances = 1
        compute.state = Compute.State.RUNNING
    if type_ == T.LOCAL:
        # Only the worker on the machine that runs the studio serves a local compute.
        compute.config = {"host": socket.gethostname()}


def _created_message(compute: Compute) -> str:
    size = f", size {compute.size.name}" if compute.size else ""
    if compute.type == T.COMPUTEINSTANCE:
        who = compute.assigned_user.get_username() if compute.assigned_user else "nobody"
        return f"Created {compute.get_type_display().lower()}{size}, assigned to {who}."
    return (
        f"Created {compute.get_type_display().lower()}{size}, "
        f"{compute.min_instances} to {compute.max_instances} nodes, "
        f"idle time before scale down {compute.idle_time_before_scale_down} s."
    )


def _warnings(extra: Mapping[str, Any], nested: list[str]) -> list[str]:
    ignored = sorted(extra) + nested
    return [f"ignoring Azure-only fields: {', '.join(ignored)}"] if ignored else []


def serverless_create(*, workspace: Workspace, actor=None) -> Compute:
    """The workspace's default pool, used when a job names no compute. Made with the
    workspace (system-internal: the caller is workspace_create)."""
    compute = Compute.objects.create(
        workspace=workspace,
        name=SERVERLESS_NAME,
        type=T.SERVERLESS,
        description="The workspace's default pool, for jobs that name no compute.",
        size=default_size(),
        min_instances=0,
        max_instances=4,
        created_by=actor,
    )
    scheduling.record_event(
        compute, ComputeEvent.Kind.CREATED, _created_message(compute), _username(actor)
    )
    _announce(compute, added=True)
    return compute


def _lock(compute: Compute) -> Compute:
    return (
        Compute.objects.select_for_update(of=("self",))
        .select_related("workspace", "size", "assigned_user")
        .get(pk=compute.pk)
    )


@transaction.atomic
def compute_update(
    *, actor, compute: Compute, changes: Mapping[str, Any]
) -> tuple[Compute, list[str]]:
    """Change a compute's description, tags, size, node limits and idle time; an
    instance's schedules; an attached engine's URL and credentials. The serverless compute
    is a workspace setting: changing it takes workspace.update."""
    if compute.type == T.SERVERLESS:
        permissions.require(actor, Action.WORKSPACE_UPDATE, compute.workspace)
        editable = set(SERVERLESS_FIELDS)
    else:
        permissions.require(actor, Action.COMPUTE_UPDATE, compute.workspace)
        editable = {"description", "tags", *TYPE_FIELDS[compute.type]} - {"assigned_user"}
    if not isinstance(changes, Mapping):
        raise ValidationError("Expected a mapping of compute fields.")
    for key in ("name", "type", "assigned_user"):
        if key in changes and changes[key] != _current(compute, key):
            raise ValidationError.for_field(key, "Cannot be changed; create another compute.")
    compute = _lock(compute)
    fields, extra = _split_fields(
        {k: v for k, v in changes.items() if k not in ("name", "type", "assigned_user")},
        editable,
        compute.type,
    )
    warnings: list[str] = []
    before = _snapshot(compute)
    values = _clean_values(
        {
            k: v
            for k, v in fields.items()
            if k not in ("url", "tls", "ssh_private_key", *ENGINE_OPTIONS)
        },
        workspace=compute.workspace,
        warnings=warnings,
    )
    for key, value in values.items():
        setattr(compute, key, value)
    if "size" in values:
        _check_size(compute)
    _check_min_max(compute)
    if "url" in fields and fields["url"] == compute.config.get("url"):
        del fields["url"]  # the same engine: no need to check it again
    if compute.type == T.ATTACHED and {"url", "tls", "ssh_private_key"} & set(fields):
        current = {"config": compute.config, "secrets": _secrets_of(compute)}
        config, secrets = _engine_settings(fields, current)
        _check_engine(config, secrets)
        compute.config, compute.credentials = config, _seal(compute.workspace, secrets)
    if compute.type == T.ATTACHED and set(ENGINE_OPTIONS) & set(fields):
        compute.config = _engine_options(fields, compute.config)
    compute.extra = {**compute.extra, **extra}
    _full_clean(compute, exclude=["credentials"], validate_unique=False)
    compute.save()
    changed = _describe_changes(before, _snapshot(compute))
    if changed:
        scheduling.record_event(
            compute, ComputeEvent.Kind.UPDATED, f"Updated {changed}.", _username(actor)
        )
    scheduling.ensure_min_nodes(compute)
    return compute, _warnings(extra, warnings)


def _current(compute: Compute, key: str) -> Any:
    if key == "assigned_user":
        return compute.assigned_user.get_username() if compute.assigned_user else None
    return getattr(compute, key)


def _snapshot(compute: Compute) -> dict[str, Any]:
    return {
        "description": compute.description,
        "tags": compute.tags,
        "size": compute.size.name if compute.size else None,
        "min_instances": compute.min_instances,
        "max_instances": compute.max_instances,
        "idle_time_before_scale_down": compute.idle_time_before_scale_down,
        "schedules": compute.schedules,
        "url": compute.config.get("url"),
        "remote": compute.config.get("remote"),
        "studio_url": compute.config.get("studio_url"),
        "credentials": bytes(compute.credentials or b""),
    }


def _describe_changes(before: dict, after: dict) -> str:
    parts = []
    for key, old in before.items():
        new = after[key]
        if old == new:
            continue
        if key in (
            "min_instances", "max_instances", "idle_time_before_scale_down", "size", "url",
            "remote", "studio_url",
        ):  # fmt: skip
            parts.append(f"{key} {old} → {new}")
        else:
            parts.append(key)
    return ", ".join(parts)


def _refuse_if_busy(compute: Compute, doing: str) -> None:
    jobs = scheduling.active_jobs_on(compute)
    if jobs:
        raise Conflict(
            f"Cannot {doing} '{compute.name}': jobs are running on it: {', '.join(jobs)}. "
            "Cancel them or wait until they finish.",
            fields={"jobs": jobs},
        )


@transaction.atomic
def compute_delete(*, actor, compute: Compute) -> None:
    """Delete a compute, unless jobs run on it. The serverless compute is the workspace's
    and stays."""
    permissions.require(actor, Action.COMPUTE_DELETE, compute.workspace)
    if compute.type == T.SERVERLESS:
        raise Conflict(
            "The serverless compute belongs to the workspace and cannot be deleted; "
            "change its settings instead.",
            fields={"name": ["The workspace's serverless compute."]},
        )
    compute = _lock(compute)
    _refuse_if_busy(compute, "delete")
    log.info("compute %s deleted by %s", compute, _username(actor))
    _announce(compute, added=False)
    compute.delete()


def _require_instance(compute: Compute, verb: str) -> None:
    if compute.type != T.COMPUTEINSTANCE:
        raise ValidationError.for_field(
            "type",
            f"Only a compute instance can {verb}; a {compute.get_type_display().lower()} "
            "adds and releases nodes by itself between min_instances and max_instances.",
        )


def _operate(*, actor, compute: Compute, action: str) -> Compute:
    permissions.require(actor, Action.COMPUTE_OPERATE, compute.workspace)
    _require_instance(compute, action)
    with transaction.atomic():
        compute = _lock(compute)
        _apply(compute, action, _username(actor), _kind(action))
    return compute


def _apply(compute: Compute, action: str, who: str, kind: str) -> None:
    """Start, stop or restart a locked instance, with its event."""
    running = compute.state == Compute.State.RUNNING
    if action == "start" and running:
        raise Conflict(f"Compute instance '{compute.name}' is already Running.")
    if action in ("stop", "restart") and not running:
        raise Conflict(
            f"Compute instance '{compute.name}' is {compute.state}; "
            + ("it is not running." if action == "stop" else "start it instead.")
        )
    if action in ("stop", "restart"):
        _refuse_if_busy(compute, action)
        scheduling.remove_all_nodes(compute)
    compute.state = Compute.State.STOPPED if action == "stop" else Compute.State.RUNNING
    compute.save(update_fields=["state", "updated_at"])
    scheduling.ensure_min_nodes(compute)
    past = {"start": "Started", "stop": "Stopped", "restart": "Restarted"}[action]
    scheduling.record_event(compute, kind, f"{past} by {who}.", who)


def compute_start(*, actor, compute: Compute) -> Compute:
    """Start a stopped compute instance: its node comes back and takes jobs again."""
    return _operate(actor=actor, compute=compute, action="start")


def compute_stop(*, actor, compute: Compute) -> Compute:
    """Stop a running compute instance (refused while its jobs run)."""
    return _operate(actor=actor, compute=compute, action="stop")


def compute_restart(*, actor, compute: Compute) -> Compute:
    """Restart a running compute instance: its node is replaced (refused while jobs run)."""
    return _operate(actor=actor, compute=compute, action="restart")


def serverless_update(
    *, actor, workspace: Workspace, changes: Mapping[str, Any]
) -> tuple[Compute, list[str]]:
    """The serverless pool's size and limits: a workspace setting (workspace.update)."""
    permissions.require(actor, Action.WORKSPACE_UPDATE, workspace)
    compute = Compute.objects.get(workspace=workspace, type=T.SERVERLESS)
    return compute_update(actor=actor, compute=compute, changes=changes)


def schedules_run(*, now: dt.datetime | None = None) -> int:
    """Carry out the compute instances' start/stop schedules whose cron time passed since
    the last check (system-internal; Celery beat calls it every minute). Idempotent: a fire
    time already answered by a schedule event is not acted on again."""
    now = now or timezone.now()
    done = 0
    instances = Compute.objects.filter(type=T.COMPUTEINSTANCE).exclude(schedules=[])
    for compute in instances.select_related("workspace"):
        handled = [
            (message.split()[1], at)
            for message, at in ComputeEvent.objects.filter(
                compute=compute,
                kind=ComputeEvent.Kind.SCHEDULE,
                created_at__gte=now - scheduling.SCHEDULE_LOOKBACK - dt.timedelta(minutes=1),
            ).values_list("message", "created_at")
            if message.startswith("Scheduled ")
        ]
        for action, fired in scheduling.due_schedules(compute, now, handled):
            done += _run_schedule(compute, action, fired)
    return done


def _run_schedule(compute: Compute, action: str, fired: dt.datetime) -> int:
    when = fired.strftime("%Y-%m-%d %H:%M UTC")
    with transaction.atomic():
        locked = _lock(compute)
        target = Compute.State.RUNNING if action == "start" else Compute.State.STOPPED
        if locked.state == target:
            outcome = f"already {target}"
        else:
            try:
                _apply(locked, action, "schedule", _kind(action))
                outcome = "done"
            except Conflict as exc:
                outcome = f"skipped: {exc.message}"
        scheduling.record_event(
            locked,
            ComputeEvent.Kind.SCHEDULE,
            f"Scheduled {action} at {when}: {outcome}",
            "schedule",
        )
    return 1


def _kind(action: str) -> str:
    return {"start": "started", "stop": "stopped", "restart": "restarted"}[action]
