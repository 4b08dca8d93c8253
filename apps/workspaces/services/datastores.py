"""Writes to datastores and to their files.

A datastore is created from the fields of Azure ML's datastore YAML (`az ml datastore
create`): for `azure_blob` account_name, container_name, endpoint, protocol and credentials
{account_key | sas_token}; for `s3` (ours) bucket, endpoint_url, region and credentials
{access_key_id, secret_access_key}; for `local` (ours) a folder `path`. The connection is
tested before anything is saved, so a datastore that exists can be reached. Credentials go
to the vault (encrypted with the workspace's key) and are never returned.
"""

from __future__ import annotations

import logging
import re
from typing import IO, Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from studio.errors import Conflict, ValidationError

from .. import permissions, storage
from ..models import DATASTORE_NAME_RE, Datastore, SecretAccess, Workspace
from ..permissions import Action
from .workspaces import DEFAULT_DATASTORES, _clean_tags

log = logging.getLogger(__name__)

Kind = Datastore.CredentialKind
TYPES = tuple(Datastore.Type.values)
# The settings each type takes (non-secret; kept in `config`).
SETTINGS: dict[str, tuple[str, ...]] = {
    "azure_blob": ("account_name", "container_name", "endpoint", "protocol", "account_url"),
    "s3": ("bucket", "endpoint_url", "region"),
    "local": ("path",),
}
# The credential kinds of each type and the secret values each kind needs.
CREDENTIALS: dict[str, dict[str, tuple[str, ...]]] = {
    "azure_blob": {Kind.ACCOUNT_KEY: ("account_key",), Kind.SAS_TOKEN: ("sas_token",)},
    "s3": {Kind.ACCESS_KEY: ("access_key_id", "secret_access_key")},
    "local": {},
}
# Azure's identity-based credential kinds, which the studio cannot use.
IDENTITY_KEYS = ("tenant_id", "client_id", "client_secret", "certificate", "thumbprint")
BUILT_IN = frozenset(name for name, _ in DEFAULT_DATASTORES)

_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER_RE = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$")
_HOST_SUFFIX_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$", re.IGNORECASE)


def datastore_in_use(datastore: Datastore) -> list[str]:
    """What uses the datastore, as names to show when its deletion is refused: data and
    model versions ("data iris:3"), code snapshots and environment build contexts."""
    from apps.assets.models import CodeSnapshot, DataVersion, EnvironmentVersion, ModelVersion

    users: list[str] = []
    for label, model in (("data", DataVersion), ("model", ModelVersion)):
        rows = model.objects.filter(datastore=datastore).order_by("name", "version")
        users += [f"{label} {n}:{v}" for n, v in rows.values_list("name", "version")[:20]]
    envs = EnvironmentVersion.objects.filter(build_context__datastore=datastore)
    users += [
        f"environment {n}:{v}"
        for n, v in envs.order_by("name", "version").values_list("name", "version")[:20]
    ]
    snapshots = CodeSnapshot.objects.filter(datastore=datastore).values_list(
        "content_hash", flat=True
    )
    users += [f"code snapshot {h[:12]}" for h in snapshots[:20]]
    return users


# Checking input ----------------------------------------------------------------------------


def _clean_name(name: Any) -> str:
    text = str(name or "").strip()
    if not text:
        raise ValidationError.for_field("name", "Give the datastore a name.")
    if not re.match(DATASTORE_NAME_RE, text):
        raise ValidationError.for_field(
            "name", "Up to 255 letters, digits or '_', starting with a letter."
        )
    return text


def _text(fields: dict, key: str, *, required: bool = False) -> str:
    value = fields.get(key)
    if value is not None and not isinstance(value, str):
        raise ValidationError.for_field(key, "Must be a string.")
    value = (value or "").strip()
    if required and not value:
        raise ValidationError.for_field(key, "Required.")
    return value


def _url(fields: dict, key: str) -> str:
    value = _text(fields, key)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError.for_field(key, "Must be an http:// or https:// URL.")
    return value.rstrip("/")


def _azure_config(fields: dict) -> dict[str, str]:
    config = {
        "account_name": _text(fields, "account_name", required=True),
        "container_name": _text(fields, "container_name", required=True),
    }
    if not _ACCOUNT_RE.match(config["account_name"]):
        raise ValidationError.for_field(
            "account_name", "3 to 24 lowercase letters or digits (an Azure storage account)."
        )
    if not _CONTAINER_RE.match(config["container_name"]):
        raise ValidationError.for_field(
            "container_name",
            "3 to 63 lowercase letters, digits or single '-', starting with a letter or digit.",
        )
    endpoint = _text(fields, "endpoint") or "core.windows.net"
    if urlsplit(endpoint).scheme:
        endpoint = _url({"endpoint": endpoint}, "endpoint")
    elif not _HOST_SUFFIX_RE.match(endpoint):
        raise ValidationError.for_field(
            "endpoint", "A DNS suffix such as core.windows.net, or the account's full URL."
        )
    config["endpoint"] = endpoint
    protocol = _text(fields, "protocol") or "https"
    if protocol not in ("https", "wasbs"):
        raise ValidationError.for_field("protocol", "Either https or wasbs.")
    config["protocol"] = protocol
    account_url = _url(fields, "account_url")
    if account_url:
        config["account_url"] = account_url
    return config


def _s3_config(fields: dict) -> dict[str, str]:
    bucket = _text(fields, "bucket", required=True)
    if not _BUCKET_RE.match(bucket):
        raise ValidationError.for_field(
            "bucket", "3 to 63 lowercase letters, digits, '.', '-' or '_' (an S3 bucket name)."
        )
    region = _text(fields, "region") or "us-east-1"
    if not re.match(r"^[a-z0-9-]{1,40}$", region):
        raise ValidationError.for_field("region", "A region name such as us-east-1.")
    return {"bucket": bucket, "endpoint_url": _url(fields, "endpoint_url"), "region": region}


def _local_config(workspace: Workspace, fields: dict) -> dict[str, str]:
    raw = _text(fields, "path", required=True)
    if raw.startswith("/"):
        config = {"path": raw}
    else:
        relative = storage.clean_path(raw)
        if not relative:
            raise ValidationError.for_field("path", "Give a folder name.")
        config = {
            "path": f"workspaces/{workspace.id}/{relative}",
            "relative_to": "STUDIO_HOME",
        }
    storage.local_root(workspace, config)  # refuses a folder outside the allowed places
    return config


def _clean_config(workspace: Workspace, type_: str, fields: dict) -> dict[str, str]:
    allowed = SETTINGS[type_]
    for key, value in fields.items():
        if key not in allowed and value not in (None, ""):
            raise ValidationError.for_field(key, f"Not a setting of a {type_} datastore.")
    if type_ == "azure_blob":
        return _azure_config(fields)
    if type_ == "s3":
        return _s3_config(fields)
    return _local_config(workspace, fields)


def _clean_type(type_: Any) -> str:
    value = str(type_ or "").strip()
    aliases = {"azureblob": "azure_blob", "azure-blob": "azure_blob", "blob": "azure_blob"}
    value = aliases.get(value.lower(), value)
    if value not in TYPES:
        raise ValidationError.for_field(
            "type", f"Unknown type {type_!r}; choose one of {', '.join(TYPES)}."
        )
    return value


def _clean_credentials(type_: str, credentials: Any) -> tuple[str, dict[str, str]]:
    """(credential kind, secret values) from a `credentials` mapping."""
    if credentials in (None, {}):
        return Kind.NONE, {}
    if not isinstance(credentials, dict):
        raise ValidationError.for_field("credentials", "Must be a mapping.")
    given = {k: v for k, v in credentials.items() if v not in (None, "")}
    if not given:
        return Kind.NONE, {}
    if type_ == "local":
        raise ValidationError.for_field("credentials", "A local datastore takes no credentials.")
    for key, value in given.items():
        if not isinstance(value, str):
            raise ValidationError.for_field(f"credentials.{key}", "Must be a string.")
        if key in IDENTITY_KEYS:
            raise ValidationError.for_field(
                f"credentials.{key}",
                "Identity-based credentials (service principals) are not supported; "
                "give an account key or a SAS token.",
            )
    kinds = CREDENTIALS[type_]
    known = {key for keys in kinds.values() for key in keys}
    for key in given:
        if key not in known:
            raise ValidationError.for_field(
                f"credentials.{key}", f"Not a credential of a {type_} datastore."
            )
    matching = [kind for kind, keys in kinds.items() if any(k in given for k in keys)]
    if len(matching) > 1:
        names = " or ".join(keys[0] for keys in kinds.values())
        raise ValidationError.for_field("credentials", f"Give one of {names}, not both.")
    kind = matching[0]
    for key in kinds[kind]:
        if key not in given:
            raise ValidationError.for_field(f"credentials.{key}", "Required.")
    values = {key: given[key].strip() for key in kinds[kind]}
    if kind == Kind.ACCOUNT_KEY:
        _check_account_key(values["account_key"])
    return kind, values


def _check_account_key(key: str) -> None:
    import base64
    import binascii

    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError.for_field(
            "credentials.account_key", "Not an account key (expected base64 text)."
        ) from None


SECRET_KEYS = frozenset(
    {
        "credentials",
        "account_key",
        "sas_token",
        "access_key_id",
        "secret_access_key",
        "client_secret",
        "password",
    }
)


def _check_extra(extra: Any) -> dict:
    """Azure-only fields, kept as given; a secret is refused here (it would not be hidden)."""
    if extra is None:
        return {}
    if not isinstance(extra, dict):
        raise ValidationError.for_field("extra", "Must be a mapping.")
    for key in extra:
        if str(key).lower() in SECRET_KEYS:
            raise ValidationError.for_field(
                f"extra.{key}", "Secrets are not kept as extra fields; use credentials."
            )
    return extra


def _test_connection(store: storage.Store) -> None:
    """The datastore must be reachable with its credentials before it is saved."""
    store.check()


def _audit(workspace: Workspace, datastore_name: str, kind: str, actor, purpose: str) -> None:
    SecretAccess.objects.create(
        workspace=workspace,
        secret_name=f"datastore/{datastore_name}"[:127],
        kind=kind,
        actor_username=actor.get_username() if actor else "system",
        purpose=purpose,
    )


# Datastores --------------------------------------------------------------------------------


def datastore_create(
    *,
    actor,
    workspace: Workspace,
    name: str,
    type: str,
    description: str = "",
    tags: dict | None = None,
    credentials: dict | None = None,
    extra: dict | None = None,
    **settings: Any,
) -> Datastore:
    """Create a datastore after testing that its location answers with its credentials.
    Nothing is saved when the test fails."""
    permissions.require(actor, Action.DATASTORE_MANAGE, workspace)
    name = _clean_name(name)
    type_ = _clean_type(type)
    if Datastore.objects.filter(workspace=workspace, name__iexact=name).exists():
        raise Conflict(
            f"A datastore named '{name}' already exists in '{workspace.name}'.",
            fields={"name": ["This name is taken."]},
        )
    config = _clean_config(workspace, type_, settings)
    kind, secret_values = _clean_credentials(type_, credentials)
    clean_tags = _clean_tags(tags)
    clean_extra = _check_extra(extra)
    store = storage.build_store(
        workspace=workspace, name=name, type=type_, config=config, credentials=secret_values
    )
    _test_connection(store)
    datastore = Datastore(
        workspace=workspace,
        name=name,
        type=type_,
        description=str(description or ""),
        tags=clean_tags,
        config=config,
        credential_kind=kind,
        credentials=storage.encrypt_credentials(workspace, secret_values),
        extra=clean_extra,
        created_by=actor,
    )
    try:
        with transaction.atomic():
            datastore.save()
            if secret_values:
                _audit(workspace, name, SecretAccess.Kind.SET, actor, "datastore created")
    except IntegrityError:
        raise Conflict(
            f"A datastore named '{name}' already exists in '{workspace.name}'.",
            fields={"name": ["This name is taken."]},
        ) from None
    log.info("datastore %s/%s (%s) created by %s", workspace.name, name, type_, actor)
    return datastore


_UNSET: Any = object()


def datastore_update(
    *,
    actor,
    datastore: Datastore,
    description: str | None = None,
    tags: dict | None = None,
    credentials: dict | None = _UNSET,
) -> Datastore:
    """Change the description or tags, or rotate the credentials (tested before they are
    saved). `credentials={}` removes them (anonymous access)."""
    workspace = datastore.workspace
    permissions.require(actor, Action.DATASTORE_MANAGE, workspace)
    fields = []
    if description is not None:
        datastore.description = str(description)
        fields.append("description")
    if tags is not None:
        datastore.tags = _clean_tags(tags)
        fields.append("tags")
    if credentials is not _UNSET and credentials is not None:
        kind, values = _clean_credentials(datastore.type, credentials)
        store = storage.build_store(
            workspace=workspace,
            name=datastore.name,
            type=datastore.type,
            config=datastore.config,
            credentials=values,
        )
        _test_connection(store)
        datastore.credential_kind = kind
        datastore.credentials = storage.encrypt_credentials(workspace, values)
        fields += ["credential_kind", "credentials"]
    if not fields:
        return datastore
    with transaction.atomic():
        datastore.save(update_fields=[*fields, "updated_at"])
        if "credentials" in fields:
            kind = SecretAccess.Kind.SET if values else SecretAccess.Kind.DELETE
            _audit(workspace, datastore.name, kind, actor, "datastore credentials changed")
    log.info("datastore %s/%s updated by %s", workspace.name, datastore.name, actor)
    return datastore


@transaction.atomic
def datastore_set_default(*, actor, datastore: Datastore) -> Datastore:
    """Make this the workspace's default datastore (where outputs go when a job names none)."""
    permissions.require(actor, Action.DATASTORE_MANAGE, datastore.workspace)
    # One change of default at a time per workspace: two at once would both clear the old
    # default and then trip the one-default constraint.
    Workspace.objects.select_for_update().filter(pk=datastore.workspace_id).first()
    Datastore.objects.filter(workspace=datastore.workspace, is_default=True).exclude(
        pk=datastore.pk
    ).update(is_default=False)
    if not datastore.is_default:
        datastore.is_default = True
        datastore.save(update_fields=["is_default", "updated_at"])
    log.info("datastore %s is now the default, set by %s", datastore, actor)
    return datastore


@transaction.atomic
def datastore_delete(*, actor, datastore: Datastore) -> None:
    """Forget a datastore (its files stay where they are). Refused for the default one, the
    four built-in ones (the studio writes to them) and one that assets still use."""
    workspace = datastore.workspace
    permissions.require(actor, Action.DATASTORE_MANAGE, workspace)
    if datastore.is_default:
        raise Conflict(
            f"'{datastore.name}' is the default datastore; make another one the default first.",
            fields={"name": ["The default datastore cannot be deleted."]},
        )
    if datastore.name in BUILT_IN:
        raise Conflict(
            f"'{datastore.name}' is a built-in datastore of the workspace; it cannot be deleted.",
            fields={"name": ["Built-in datastores cannot be deleted."]},
        )
    users = datastore_in_use(datastore)
    if users:
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        raise Conflict(
            f"'{datastore.name}' is in use by {shown}.",
            fields={"name": ["In use by assets."]},
        )
    had_credentials = bool(datastore.credentials)
    name = datastore.name
    datastore.delete()
    if had_credentials:
        _audit(workspace, name, SecretAccess.Kind.DELETE, actor, "datastore deleted")
    log.info("datastore %s/%s deleted by %s", workspace.name, name, actor)


# Files -------------------------------------------------------------------------------------


def datastore_file_writer(
    *, actor, datastore: Datastore, path: str, size_hint: int | None = None
) -> storage.Upload:
    """Start a streamed upload to `path` (replacing a file there). Commit or abort it, or
    use it as a context manager."""
    permissions.require(actor, Action.DATASTORE_WRITE_FILES, datastore.workspace)
    upload = storage.open_store(datastore).open_write(path, size_hint=size_hint)
    log.info("upload to %s/%s started by %s", datastore, upload.path, actor)
    return upload


def datastore_file_upload(
    *, actor, datastore: Datastore, path: str, fileobj: IO[bytes], size_hint: int | None = None
) -> storage.Entry:
    """Stream a file object into the datastore at `path`."""
    permissions.require(actor, Action.DATASTORE_WRITE_FILES, datastore.workspace)
    entry = storage.open_store(datastore).write_stream(path, fileobj, size_hint=size_hint)
    log.info("uploaded %s/%s (%s bytes) by %s", datastore, entry.path, entry.size, actor)
    return entry


def datastore_file_delete(*, actor, datastore: Datastore, path: str) -> None:
    """Delete one file (folders are not deleted here)."""
    permissions.require(actor, Action.DATASTORE_WRITE_FILES, datastore.workspace)
    storage.open_store(datastore).delete(path)
    log.info("deleted %s/%s by %s", datastore, storage.clean_path(path), actor)


__all__ = [
    "datastore_create",
    "datastore_delete",
    "datastore_file_delete",
    "datastore_file_upload",
    "datastore_file_writer",
    "datastore_in_use",
    "datastore_set_default",
    "datastore_update",
]
