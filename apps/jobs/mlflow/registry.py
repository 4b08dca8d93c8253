"""The MLflow model registry REST API (`ModelRegistryService`), on the workspace's models.

A registered model is the workspace's Model asset of that name (description, tags; aliases
are the asset's labels); a model version is a `ModelVersion`, whose files are where its
source points (`models:/m-...`, `runs:/<run>/<path>`, `mlflow-artifacts:/...`, on the
artifact datastore) and whose MLmodel is parsed as for any model. So `register_model` and
`log_model(registered_model_name=...)` make models the studio's pages show, and models made
in the studio are listed by `MlflowClient().search_registered_models()`.

Permissions are the assets' (asset.view to read, asset.create to create, asset.update to
change or delete). A run token (a job's container) may read, create a registered model, and
register a version from its own run's files.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from django.db.models import Q
from mlflow.protos import model_registry_pb2 as mr

from apps.assets import selectors as asset_selectors
from apps.assets.models import Asset, Kind, ModelVersion
from apps.assets.services import models as model_services
from apps.assets.services import versions as version_services
from apps.workspaces.permissions import Action
from studio.errors import NotFound, ValidationError

from .. import artifacts
from . import auth, protos
from .auth import Caller
from .views import error_response

VIEW, CREATE, UPDATE = Action.ASSET_VIEW, Action.ASSET_CREATE, Action.ASSET_UPDATE
MAX_MODELS, DEFAULT_MODELS = 1000, 100
MAX_VERSIONS, DEFAULT_VERSIONS = 200_000, 10_000


def dispatch(request, methods: dict[str, str], workspace_name: str, **kwargs):
    """As views.dispatch, for this module's views."""
    name = methods.get(request.method)
    if name is None:
        allowed = ", ".join(sorted(methods))
        return error_response(ValidationError(f"Use {allowed} on this endpoint."))
    try:
        return globals()[name](request, workspace_name, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every error becomes MLflow's JSON
        return error_response(exc)


def endpoint(action: Action, *, run_token: bool = False):
    def decorate(fn):
        @functools.wraps(fn)
        def handler(request, workspace_name, **kwargs):
            caller = auth.authenticate(request, workspace_name, action)
            if not run_token:
                caller.deny_run_token()
            return fn(request, caller, **kwargs)

        return handler

    return decorate


# Rows as messages ----------------------------------------------------------------------------


def _ms(dt) -> int:
    return int(dt.timestamp() * 1000)


def _aliases_of(asset: Asset, version: str) -> list[str]:
    return sorted(label for label, v in (asset.labels or {}).items() if v == version)


def version_message(row: ModelVersion, asset: Asset) -> mr.ModelVersion:
    msg = mr.ModelVersion(
        name=asset.name,
        version=row.version,
        creation_timestamp=_ms(row.created_at),
        last_updated_timestamp=_ms(row.updated_at),
        user_id=row.created_by.get_username() if row.created_by else "",
        current_stage=row.stage or "None",
        description=row.description,
        source=row.source or row.path,
        run_id=row.run_id,
        status=mr.ModelVersionStatus.Value(
            row.status if row.status in mr.ModelVersionStatus.keys() else "READY"
        ),
        tags=[mr.ModelVersionTag(key=k, value=str(v)) for k, v in sorted(row.tags.items())],
        run_link="",
        aliases=_aliases_of(asset, row.version),
    )
    if row.logged_model_id:
        msg.model_id = row.logged_model_id
    return msg


def _latest_by_stage(rows: Iterable[ModelVersion]) -> list[ModelVersion]:
    """The newest version of each stage (MLflow's `latest_versions`), rows newest first."""
    seen: dict[str, ModelVersion] = {}
    for row in rows:
        seen.setdefault(row.stage or "None", row)
    return sorted(seen.values(), key=lambda r: r.created_at)


def model_message(asset: Asset, rows: Iterable[ModelVersion] = ()) -> mr.RegisteredModel:
    return mr.RegisteredModel(
        name=asset.name,
        creation_timestamp=_ms(asset.created_at),
        last_updated_timestamp=_ms(asset.updated_at),
        user_id=asset.created_by.get_username() if asset.created_by else "",
        description=asset.description,
        latest_versions=[version_message(r, asset) for r in _latest_by_stage(rows)],
        tags=[mr.RegisteredModelTag(key=k, value=str(v)) for k, v in sorted(asset.tags.items())],
        aliases=[
            mr.RegisteredModelAlias(alias=a, version=v) for a, v in sorted(asset.labels.items())
        ],
    )


def _versions(asset: Asset):
    return (
        ModelVersion.objects.filter(asset=asset)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


# Lookups --------------------------------------------------------------------------------------


def _asset(caller: Caller, name: str) -> Asset:
    if not name:
        raise ValidationError.for_field("name", "Missing value for required parameter 'name'.")
    try:
        return asset_selectors.asset_get(
            actor=caller.user, workspace=caller.workspace, kind=Kind.MODEL, name=name
        )
    except NotFound:
        raise NotFound(f"Registered Model with name={name} not found") from None


def _row(caller: Caller, name: str, version: str) -> tuple[Asset, ModelVersion]:
    asset = _asset(caller, name)
    row = (
        ModelVersion.objects.filter(asset=asset, version=version)
        .select_related("created_by", "created_by_job")
        .first()
    )
    if row is None:
        raise NotFound(f"Model Version (name={name}, version={version}) not found")
    row.asset = asset
    row.workspace = caller.workspace
    return asset, row


def _respond_model(cls, asset: Asset):
    return protos.respond(cls.Response(registered_model=model_message(asset, _versions(asset))))


def _respond_version(cls, asset: Asset, row: ModelVersion):
    return protos.respond(cls.Response(model_version=version_message(row, asset)))


# Registered models ----------------------------------------------------------------------------


@endpoint(CREATE, run_token=True)
def registered_model_create(request, caller):
    msg = protos.parse(request, mr.CreateRegisteredModel)
    asset = model_services.registered_model_create(
        actor=caller.user,
        workspace=caller.workspace,
        name=protos.required(msg, "name"),
        description=msg.description,
        tags={t.key: t.value for t in msg.tags},
    )
    return protos.respond(mr.CreateRegisteredModel.Response(registered_model=model_message(asset)))


@endpoint(VIEW, run_token=True)
def registered_model_get(request, caller):
    msg = protos.parse(request, mr.GetRegisteredModel)
    return _respond_model(mr.GetRegisteredModel, _asset(caller, protos.required(msg, "name")))


@endpoint(UPDATE)
def registered_model_update(request, caller):
    msg = protos.parse(request, mr.UpdateRegisteredModel)
    asset = _asset(caller, protos.required(msg, "name"))
    if msg.HasField("description"):
        asset = version_services.asset_update(
            actor=caller.user, asset=asset, description=msg.description
        )
    return _respond_model(mr.UpdateRegisteredModel, asset)


@endpoint(UPDATE)
def registered_model_rename(request, caller):
    msg = protos.parse(request, mr.RenameRegisteredModel)
    asset = _asset(caller, protos.required(msg, "name"))
    asset = model_services.registered_model_rename(
        actor=caller.user, asset=asset, new_name=protos.required(msg, "new_name")
    )
    return _respond_model(mr.RenameRegisteredModel, asset)


@endpoint(UPDATE)
def registered_model_delete(request, caller):
    msg = protos.parse(request, mr.DeleteRegisteredModel)
    asset = _asset(caller, protos.required(msg, "name"))
    model_services.registered_model_delete(actor=caller.user, asset=asset)
    return protos.respond()


@endpoint(UPDATE)
def registered_model_set_tag(request, caller):
    msg = protos.parse(request, mr.SetRegisteredModelTag)
    asset = _asset(caller, protos.required(msg, "name"))
    key = protos.required(msg, "key")
    version_services.asset_update(
        actor=caller.user, asset=asset, tags={**asset.tags, key: msg.value}
    )
    return protos.respond()


@endpoint(UPDATE)
def registered_model_delete_tag(request, caller):
    msg = protos.parse(request, mr.DeleteRegisteredModelTag)
    asset = _asset(caller, protos.required(msg, "name"))
    key = protos.required(msg, "key")
    if key not in asset.tags:
        raise NotFound(f"No tag with name: {key} in registered model {asset.name}")
    tags = {k: v for k, v in asset.tags.items() if k != key}
    version_services.asset_update(actor=caller.user, asset=asset, tags=tags)
    return protos.respond()


@endpoint(VIEW, run_token=True)
def registered_model_latest_versions(request, caller):
    msg = protos.parse(request, mr.GetLatestVersions)
    asset = _asset(caller, protos.required(msg, "name"))
    latest = _latest_by_stage(_versions(asset))
    if msg.stages:
        wanted = {s.lower() for s in msg.stages}
        latest = [r for r in latest if (r.stage or "None").lower() in wanted]
    return protos.respond(
        mr.GetLatestVersions.Response(model_versions=[version_message(r, asset) for r in latest])
    )


def _page(qs, page_token: str, max_results: int, limit: int, default: int):
    if max_results < 0 or max_results > limit:
        raise ValidationError.for_field("max_results", f"Must be 1 to {limit}.")
    size = max_results or default
    try:
        offset = int(page_token or 0)
    except ValueError:
        raise ValidationError.for_field("page_token", "Invalid page token.") from None
    rows = list(qs[offset : offset + size + 1])
    token = str(offset + size) if len(rows) > size else ""
    return rows[:size], token


@endpoint(VIEW)
def registered_model_search(request, caller):
    msg = protos.parse(request, mr.SearchRegisteredModels)
    asset_selectors.asset_list(actor=caller.user, workspace=caller.workspace, kind=Kind.MODEL)
    qs = Asset.objects.filter(workspace=caller.workspace, kind=Kind.MODEL)
    qs = qs.filter(filter_q(msg.filter, MODEL_KEYS)).select_related("created_by")
    qs = qs.order_by(*order_by(list(msg.order_by), MODEL_ORDER), "name")
    assets, token = _page(qs, msg.page_token, msg.max_results, MAX_MODELS, DEFAULT_MODELS)
    rows: dict = {a.pk: [] for a in assets}
    for row in (
        ModelVersion.objects.filter(asset__in=assets)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    ):
        rows[row.asset_id].append(row)
    response = mr.SearchRegisteredModels.Response(
        registered_models=[model_message(a, rows[a.pk]) for a in assets]
    )
    if token:
        response.next_page_token = token
    return protos.respond(response)


# Aliases ----------------------------------------------------------------------------------------


@endpoint(UPDATE)
def alias_set(request, caller):
    msg = protos.parse(request, mr.SetRegisteredModelAlias)
    asset = _asset(caller, protos.required(msg, "name"))
    label = _clean_alias(protos.required(msg, "alias"))
    version_services.label_set(
        actor=caller.user, asset=asset, label=label, version=protos.required(msg, "version")
    )
    return protos.respond()


@endpoint(UPDATE)
def alias_delete(request, caller):
    msg = protos.parse(request, mr.DeleteRegisteredModelAlias)
    asset = _asset(caller, protos.required(msg, "name"))
    version_services.label_set(
        actor=caller.user, asset=asset, label=protos.required(msg, "alias"), version=None
    )
    return protos.respond()


def _clean_alias(label: str) -> str:
    if not re.fullmatch(r"[\w-]{1,255}", label) or re.fullmatch(r"v\d+", label, re.I):
        raise ValidationError.for_field(
            "alias", f"'{label}' is not a valid alias (letters, digits, '_' and '-'; not v<n>)."
        )
    return label


@endpoint(VIEW, run_token=True)
def alias_get(request, caller):
    msg = protos.parse(request, mr.GetModelVersionByAlias)
    asset = _asset(caller, protos.required(msg, "name"))
    label = protos.required(msg, "alias")
    version = asset.labels.get(label)
    if version is None:
        raise NotFound(f"Registered model alias {label} not found.")
    asset, row = _row(caller, asset.name, version)
    return _respond_version(mr.GetModelVersionByAlias, asset, row)


# Model versions -------------------------------------------------------------------------------


@endpoint(CREATE, run_token=True)
def model_version_create(request, caller):
    msg = protos.parse(request, mr.CreateModelVersion)
    asset = _asset(caller, protos.required(msg, "name"))
    source = protos.required(msg, "source")
    location = model_services.locate(
        actor=caller.user, workspace=caller.workspace, value=source, field_name="source"
    )
    if caller.is_run_token:
        caller.check_run(location.run_id or "-")
    found = model_services.inspect(location, field_name="source")
    is_mlflow = bool(model_services.read_mlflow(location, found, field_name="source"))
    row = model_services.model_create(
        actor=caller.user,
        workspace=caller.workspace,
        name=asset.name,
        path=source,
        type=ModelVersion.Type.MLFLOW if is_mlflow else ModelVersion.Type.CUSTOM,
        description=msg.description,
        tags={t.key: t.value for t in msg.tags},
        source=source,
        run_id=(msg.run_id or location.run_id).replace("-", "")[:32],
        logged_model_id=msg.model_id or location.logged_model_id,
        location=location,
    )
    asset.refresh_from_db()
    return _respond_version(mr.CreateModelVersion, asset, row)


@endpoint(VIEW, run_token=True)
def model_version_get(request, caller):
    msg = protos.parse(request, mr.GetModelVersion)
    asset, row = _row(caller, protos.required(msg, "name"), protos.required(msg, "version"))
    return _respond_version(mr.GetModelVersion, asset, row)


@endpoint(UPDATE)
def model_version_update(request, caller):
    msg = protos.parse(request, mr.UpdateModelVersion)
    asset, row = _row(caller, protos.required(msg, "name"), protos.required(msg, "version"))
    if msg.HasField("description"):
        row = version_services.version_update(
            actor=caller.user, row=row, description=msg.description
        )
    return _respond_version(mr.UpdateModelVersion, asset, row)


@endpoint(UPDATE)
def model_version_transition_stage(request, caller):
    msg = protos.parse(request, mr.TransitionModelVersionStage)
    asset, row = _row(caller, protos.required(msg, "name"), protos.required(msg, "version"))
    row = model_services.model_version_set_stage(
        actor=caller.user,
        row=row,
        stage=protos.required(msg, "stage"),
        archive_existing=msg.archive_existing_versions,
    )
    return _respond_version(mr.TransitionModelVersionStage, asset, row)


@endpoint(UPDATE)
def model_version_delete(request, caller):
    msg = protos.parse(request, mr.DeleteModelVersion)
    _asset_, row = _row(caller, protos.required(msg, "name"), protos.required(msg, "version"))
    model_services.model_version_delete(actor=caller.user, row=row)
    return protos.respond()


@endpoint(UPDATE)
def model_version_set_tag(request, caller):
    msg = protos.parse(request, mr.SetModelVersionTag)
    _asset_, row = _row(caller, protos.required(msg, "name"), protos.required(msg, "version"))
    key = protos.required(msg, "key")
    version_services.version_update(actor=caller.user, row=row, tags={**row.tags, key: msg.value})
    return protos.respond()


@endpoint(UPDATE)
def model_version_delete_tag(request, caller):
    msg = protos.parse(request, mr.DeleteModelVersionTag)
    _asset_, row = _row(caller, protos.required(msg, "name"), protos.required(msg, "version"))
    key = protos.required(msg, "key")
    if key not in row.tags:
        raise NotFound(f"No tag with name: {key} in model version {row.name}:{row.version}")
    tags = {k: v for k, v in row.tags.items() if k != key}
    version_services.version_update(actor=caller.user, row=row, tags=tags)
    return protos.respond()


@endpoint(VIEW, run_token=True)
def model_version_download_uri(request, caller):
    """Where the client downloads the version's files through the artifact proxy:
    mlflow-artifacts:/<path> for files on the artifact datastore, else the proxy's read-only
    model-versions/<name>/<version> folder (files on another datastore: a version registered
    from a job's named output on workspaceblobstore, say). A run token always gets the
    folder: the version's run folder is another run's, out of its reach."""
    msg = protos.parse(request, mr.GetModelVersionDownloadUri)
    _asset_, row = _row(caller, protos.required(msg, "name"), protos.required(msg, "version"))
    datastore, rel = model_services.storage.resolve_datastore_uri(caller.workspace, row.path)
    if datastore.name == model_services.ARTIFACT_DATASTORE and not caller.is_run_token:
        uri = f"mlflow-artifacts:/{rel}"
    else:
        uri = artifacts.model_version_uri(row.name, row.version)
    return protos.respond(mr.GetModelVersionDownloadUri.Response(artifact_uri=uri))


@endpoint(VIEW)
def model_version_search(request, caller):
    msg = protos.parse(request, mr.SearchModelVersions)
    asset_selectors.asset_list(actor=caller.user, workspace=caller.workspace, kind=Kind.MODEL)
    qs = ModelVersion.objects.filter(workspace=caller.workspace)
    qs = qs.filter(filter_q(msg.filter, VERSION_KEYS)).select_related("asset", "created_by")
    qs = qs.order_by(*order_by(list(msg.order_by), VERSION_ORDER), "name", "-created_at")
    rows, token = _page(qs, msg.page_token, msg.max_results, MAX_VERSIONS, DEFAULT_VERSIONS)
    response = mr.SearchModelVersions.Response(
        model_versions=[version_message(r, r.asset) for r in rows]
    )
    if token:
        response.next_page_token = token
    return protos.respond(response)


# Search filters (the subset of MLflow's registry search syntax the client uses) ---------------

MODEL_KEYS = {"name": "name", "description": "description"}
VERSION_KEYS = {
    "name": "name",
    "run_id": "run_id",
    "source_path": "source",
    "source": "source",
    "version_number": "version",
    "model_id": "logged_model_id",
}
MODEL_ORDER = {
    "name": "name",
    "timestamp": "updated_at",
    "last_updated_timestamp": "updated_at",
    "creation_timestamp": "created_at",
}
VERSION_ORDER = {
    "name": "name",
    "version_number": "created_at",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
    "timestamp": "updated_at",
}
_CLAUSE = re.compile(
    r"^\s*(?P<key>tags?\.`[^`]+`|tags?\.\"[^\"]+\"|tags?\.[\w.-]+|`[^`]+`|[\w.]+)\s*"
    r"(?P<op>!=|=|<>|not\s+like|not\s+ilike|ilike|like|in|not\s+in)\s*(?P<value>.+?)\s*$",
    re.I,
)
_STRING = re.compile(r"""^(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")$""")


def _string(text: str) -> str:
    m = _STRING.match(text.strip())
    if m is None:
        raise ValidationError.for_field("filter", f"Expected a quoted string, got {text!r}.")
    return (m[1] if m[1] is not None else m[2]).replace("\\'", "'").replace('\\"', '"')


def _like(pattern: str) -> str:
    out = ""
    for ch in pattern:
        out += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
    return f"^{out}$"


def filter_q(text: str, keys: dict[str, str]) -> Q:
    """MLflow's `key op value [AND ...]` as a Q (=, !=, LIKE, ILIKE, IN, on the given keys
    and `tags.<key>`); INVALID_PARAMETER_VALUE naming `filter` otherwise."""
    q = Q()
    if not text or not text.strip():
        return q
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.I):
        m = _CLAUSE.match(clause)
        if m is None:
            raise ValidationError.for_field("filter", f"Cannot parse {clause!r}.")
        key, op = m["key"], re.sub(r"\s+", " ", m["op"].lower())
        tag = None
        if key.startswith(("tags.", "tag.")):
            tag = key.split(".", 1)[1].strip('`"')
            column = f"tags__{tag}"
        elif key.strip('`"') in keys:
            column = keys[key.strip('`"')]
        else:
            raise ValidationError.for_field(
                "filter", f"Invalid attribute key '{key}': use {', '.join(keys)} or tags.<key>."
            )
        if op in ("in", "not in"):
            items = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", m["value"])
            values = [a or b for a, b in items]
            cond = Q(**{f"{column}__in": values})
            q &= ~cond if op == "not in" else cond
            continue
        value = _string(m["value"])
        if op in ("=",):
            q &= Q(**{column: value})
        elif op in ("!=", "<>"):
            # A row without the tag is "not equal" too (a bare negation would drop it).
            has = Q(tags__has_key=tag) if tag is not None else Q()
            q &= ~(has & Q(**{column: value}))
        else:
            lookup = "iregex" if "ilike" in op else "regex"
            cond = Q(**{f"{column}__{lookup}": _like(value)})
            q &= ~cond if op.startswith("not") else cond
    return q


def order_by(items: list[str], columns: dict[str, str]) -> list[str]:
    out = []
    for item in items:
        parts = item.strip().split()
        key = parts[0].strip("`") if parts else ""
        if key not in columns or len(parts) > 2:
            raise ValidationError.for_field("order_by", f"Invalid order_by clause '{item}'.")
        desc = len(parts) == 2 and parts[1].upper() == "DESC"
        if len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC"):
            raise ValidationError.for_field("order_by", f"Invalid order_by clause '{item}'.")
        out.append(("-" if desc else "") + columns[key])
    return out or ["name"]
