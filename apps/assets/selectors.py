"""Reads of assets, scoped by permissions: names of a kind (one row each, with the latest
version kept on the row, so a list costs the same at 10 versions or 10,000), the versions of
a name, one version, a reference resolved at the moment of use, and lineage."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from studio.errors import NotFound, ValidationError

from . import references
from .models import VERSION_MODELS, Asset, AssetUse, AssetVersion, EnvironmentVersion, Kind

# Sort keys a list accepts (the API's `?order=`, the page's column headers).
ASSET_ORDERINGS = {
    "name": ("name",),
    "-name": ("-name",),
    "updated": ("updated_at", "name"),
    "-updated": ("-updated_at", "name"),
    "created": ("created_at", "name"),
    "-created": ("-created_at", "name"),
}


# Environments come in three kinds, as in Azure ML: custom (made in the workspace), curated
# (added on first use from the studio's catalogue) and anonymous (inline in a job or
# component, one version per spec under the name CliV2AnonymousEnvironment).
ENVIRONMENT_KINDS = ("custom", "curated", "anonymous")


def asset_list(
    *,
    actor,
    workspace: Workspace,
    kind: str,
    search: str = "",
    include_archived: bool = False,
    environment_kind: str = "",
) -> QuerySet[Asset]:
    """The names of one kind in the workspace (archived ones only when asked); for
    environments, only those of `environment_kind` when given."""
    permissions.require(actor, Action.ASSET_VIEW, workspace)
    qs = Asset.objects.filter(workspace=workspace, kind=kind)
    if not include_archived:
        qs = qs.filter(archived=False).exclude(latest_version="")
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if environment_kind:
        qs = _of_environment_kind(qs, environment_kind)
    return qs.select_related("created_by")


def _of_environment_kind(qs: QuerySet[Asset], environment_kind: str) -> QuerySet[Asset]:
    if environment_kind not in ENVIRONMENT_KINDS:
        raise ValidationError.for_field("kind", f"one of: {', '.join(ENVIRONMENT_KINDS)}.")
    versions = EnvironmentVersion.objects.filter(asset=OuterRef("pk"))
    curated = Exists(versions.filter(is_curated=True))
    anonymous = Exists(versions.filter(is_anonymous=True))
    if environment_kind == "curated":
        return qs.filter(curated)
    if environment_kind == "anonymous":
        return qs.filter(anonymous)
    return qs.filter(~curated, ~anonymous)


def asset_get(*, actor, workspace: Workspace, kind: str, name: str) -> Asset:
    permissions.require(actor, Action.ASSET_VIEW, workspace)
    asset = Asset.objects.filter(workspace=workspace, kind=kind, name=name).first()
    if asset is None:
        raise NotFound(f"No {Kind(kind).label.lower()} named '{name}' in '{workspace.name}'.")
    asset.workspace = workspace
    return asset


def version_list(*, actor, asset: Asset, include_archived: bool = True) -> QuerySet[AssetVersion]:
    """The versions of a name, newest first."""
    permissions.require(actor, Action.ASSET_VIEW, asset.workspace)
    qs = VERSION_MODELS[asset.kind].objects.filter(asset=asset)
    if not include_archived:
        qs = qs.filter(archived=False)
    return qs.select_related("created_by", "created_by_job").order_by("-created_at", "-id")


def version_page(*, actor, asset: Asset, offset: int, limit: int) -> list[AssetVersion]:
    """One page of a name's versions, newest first. The page's ids are picked by a narrow
    subquery over the (asset, -created_at, -id) index and only those rows are fetched and
    joined: the cost stays that of one page at 10,000 versions, even when PostgreSQL has no
    statistics yet for a table that just grew (it would otherwise join every version before
    sorting)."""
    newest = version_list(actor=actor, asset=asset)
    ids = newest.values("pk")[offset : offset + limit]
    model = VERSION_MODELS[asset.kind]
    rows = list(
        model.objects.filter(pk__in=ids)
        .select_related("created_by", "created_by_job")
        .order_by("-created_at", "-id")
    )
    for row in rows:
        row.asset = asset
    return rows


def version_get(*, actor, workspace: Workspace, kind: str, name: str, version: str) -> AssetVersion:
    """One version by exact name and version (archived ones too: they stay usable)."""
    permissions.require(actor, Action.ASSET_VIEW, workspace)
    model = VERSION_MODELS[kind]
    # Through the name's unique keys, (workspace, kind, name) then (asset, version): filtering
    # on the version row's copy of the name would read every version of a busy name.
    row = (
        model.objects.filter(
            asset__workspace=workspace, asset__kind=kind, asset__name=name, version=version
        )
        .select_related("asset", "created_by", "created_by_job")
        .order_by("pk")
        .first()
    )
    if row is None:
        raise NotFound(
            f"No {Kind(kind).label.lower()} '{name}' version '{version}' in '{workspace.name}'."
        )
    row.workspace = workspace
    return row


def resolve(*, actor, workspace: Workspace, kind: str, ref: str, field: str = "") -> AssetVersion:
    """The version a reference names at this moment: `name:version` exactly, `name@latest`
    the newest version not archived, `name@<label>` the version the label points at.
    Errors name `field` (the YAML key the reference came from)."""
    try:
        parsed = references.parse(ref)
    except references.ReferenceError_ as exc:
        raise ValidationError.for_field(field or kind, str(exc)) from None
    return resolve_parsed(actor=actor, workspace=workspace, kind=kind, ref=parsed, field=field)


def resolve_parsed(
    *, actor, workspace: Workspace, kind: str, ref: references.AssetRef, field: str = ""
) -> AssetVersion:
    if actor is not None:
        permissions.require(actor, Action.ASSET_VIEW, workspace)
    label = Kind(kind).label.lower()
    where = field or kind
    asset = Asset.objects.filter(workspace=workspace, kind=kind, name=ref.name).first()
    if asset is None:
        raise ValidationError.for_field(where, f"no {label} named '{ref.name}' in this workspace.")
    version = ref.version
    if version is None:
        if ref.label == references.LATEST:
            version = asset.latest_version
            if not version:
                raise ValidationError.for_field(
                    where, f"every version of {label} '{ref.name}' is archived: name one exactly."
                )
        else:
            version = asset.labels.get(ref.label)
            if version is None:
                raise ValidationError.for_field(
                    where, f"{label} '{ref.name}' has no label '{ref.label}'."
                )
    row = VERSION_MODELS[kind].objects.filter(asset=asset, version=version).first()
    if row is None:
        raise ValidationError.for_field(where, f"{label} '{ref.name}' has no version '{version}'.")
    row.asset = asset
    row.workspace = workspace
    return row


def used_by(*, actor, row: AssetVersion, limit: int = 50) -> QuerySet[AssetUse]:
    """Lineage, "used by": the jobs that consumed this version, newest first."""
    permissions.require(actor, Action.ASSET_VIEW, row.workspace)
    return (
        AssetUse.objects.filter(asset_id=row.asset_id, version=row.version)
        .select_related("job")
        .order_by("-created_at")[:limit]
    )
