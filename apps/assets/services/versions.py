"""What every asset kind shares: creating a version (auto-numbered when no version is given,
refused when it exists), editing description and tags, archiving and restoring, labels.

Each kind's service validates its own fields, then calls `version_create()` inside its own
transaction, so a failed kind-specific step leaves neither the version nor a new name behind.
`actor=None` is the system (a job registering its output); every other call is checked.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from studio.errors import Conflict, ValidationError

from ..models import ASSET_NAME_RE, ASSET_VERSION_RE, VERSION_MODELS, Asset, AssetVersion

MAX_TAGS = 50


def clean_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError.for_field(field, "is required.")
    name = name.strip()
    if not re.match(ASSET_NAME_RE, name):
        raise ValidationError.for_field(
            field,
            f"'{name}' is not a valid name: up to 255 letters, digits, '-', '_' or '.', "
            "starting with a letter or a digit.",
        )
    return name


def clean_version(version: Any, field: str = "version") -> str | None:
    """A version as a string (YAML integers become strings, as the SDK does), or None."""
    if version is None or version == "":
        return None
    if isinstance(version, bool) or not isinstance(version, (str, int)):
        raise ValidationError.for_field(field, "must be a string or an integer.")
    version = str(version).strip()
    if not re.match(ASSET_VERSION_RE, version):
        raise ValidationError.for_field(
            field,
            f"'{version}' is not a valid version: up to 64 letters, digits, '-', '_' or '.', "
            "starting with a letter or a digit.",
        )
    return version


def clean_tags(tags: Any, field: str = "tags") -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise ValidationError.for_field(field, "must be a mapping of names to values.")
    if len(tags) > MAX_TAGS:
        raise ValidationError.for_field(field, f"at most {MAX_TAGS} tags.")
    out = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 255:
            raise ValidationError.for_field(f"{field}.{key}", "tag names are 1 to 255 characters.")
        if isinstance(value, (dict, list)):
            raise ValidationError.for_field(f"{field}.{key}", "a tag value must be a string.")
        out[key] = "" if value is None else str(value)
    return out


def clean_description(description: Any, field: str = "description") -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise ValidationError.for_field(field, "must be a string.")
    if len(description) > 5000:
        raise ValidationError.for_field(field, "at most 5000 characters.")
    return description


def _lock_asset(workspace: Workspace, kind: str, name: str, actor) -> Asset:
    """The name's row, created when new, locked for this transaction (versions of one name
    are numbered one at a time)."""
    try:
        with transaction.atomic():
            Asset.objects.get_or_create(
                workspace=workspace,
                kind=kind,
                name=name,
                defaults={"created_by": actor if actor and actor.is_authenticated else None},
            )
    except IntegrityError:  # created at the same moment by another request: use theirs
        pass
    return Asset.objects.select_for_update().get(workspace=workspace, kind=kind, name=name)


def _refresh_latest(asset: Asset) -> None:
    model = VERSION_MODELS[asset.kind]
    latest = (
        model.objects.filter(asset=asset, archived=False)
        .order_by("-created_at", "-id")
        .values_list("version", flat=True)
        .first()
    )
    asset.latest_version = latest or ""
    asset.version_count = model.objects.filter(asset=asset).count()
    asset.updated_at = timezone.now()
    asset.save(update_fields=["latest_version", "version_count", "updated_at"])


# As in Azure ML, environment names starting with these belong to curated environments: a
# user's `AzureML-sklearn-1.5` would take over `azureml:AzureML-sklearn-1.5@latest`.
RESERVED_ENVIRONMENT_PREFIXES = ("azureml", "microsoft")


def _reserved(kind: str, name: str) -> bool:
    return kind == "environment" and name.lower().startswith(RESERVED_ENVIRONMENT_PREFIXES)


def _refuse_reserved(kind: str, name: str) -> None:
    if _reserved(kind, name):
        raise ValidationError.for_field(
            "name",
            f"'{name}' starts with a prefix reserved for curated environments (AzureML, "
            "Microsoft), as in Azure ML: choose another name. To use a curated one, refer "
            "to it (azureml:AzureML-sklearn-1.5@latest).",
        )


def _refuse_curated(row: AssetVersion) -> None:
    if getattr(row, "is_curated", False):
        raise ValidationError(
            f"{row.name}:{row.version} is a curated environment, which the studio keeps as "
            "it is: make your own environment to change one.",
            code="curated",
        )


def _refuse_curated_name(asset: Asset) -> None:
    if _reserved(asset.kind, asset.name):
        raise ValidationError(
            f"{asset.name} is a curated environment, which the studio keeps as it is.",
            code="curated",
        )


@transaction.atomic
def version_create(
    *,
    actor,
    workspace: Workspace,
    kind: str,
    name: Any,
    version: Any = None,
    description: Any = "",
    tags: Any = None,
    properties: dict | None = None,
    created_by_job=None,
    fields: dict[str, Any] | None = None,
) -> AssetVersion:
    """Create a version of `kind` under `name`: the next integer when `version` is None;
    Conflict (naming the field) when that version exists."""
    if actor is not None:
        permissions.require(actor, Action.ASSET_CREATE, workspace)
    name = clean_name(name)
    if actor is not None:  # the studio itself makes the curated rows (actor None)
        _refuse_reserved(kind, name)
    version = clean_version(version)
    description = clean_description(description)
    tags = clean_tags(tags)
    model = VERSION_MODELS[kind]
    asset = _lock_asset(workspace, kind, name, actor)
    existing = set(model.objects.filter(asset=asset).values_list("version", flat=True))
    if version is None:
        number = asset.next_version
        while str(number) in existing:
            number += 1
        version = str(number)
    elif version in existing:
        raise Conflict(
            f"{kind} '{name}' already has version {version}; versions are immutable: "
            "give a new version or leave it out to get the next one.",
            fields={"version": [f"version {version} of '{name}' exists."]},
        )
    if version.isdigit():
        asset.next_version = max(asset.next_version, int(version) + 1)
    row = model(
        workspace=workspace,
        asset=asset,
        name=name,
        version=version,
        description=description,
        tags=tags,
        properties=properties or {},
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_by_job=created_by_job,
        **(fields or {}),
    )
    row.save()
    if not asset.description and description:
        asset.description = description
    asset.archived = False
    asset.save(update_fields=["next_version", "description", "archived"])
    _refresh_latest(asset)
    return row


@transaction.atomic
def version_update(
    *, actor, row: AssetVersion, description: Any = None, tags: Any = None
) -> AssetVersion:
    """Change what may change on a version: its description and tags (None: unchanged)."""
    permissions.require(actor, Action.ASSET_UPDATE, row.workspace)
    _refuse_curated(row)
    changed = []
    if description is not None:
        row.description = clean_description(description)
        changed.append("description")
    if tags is not None:
        row.tags = clean_tags(tags)
        changed.append("tags")
    if changed:
        row.updated_at = timezone.now()
        row.save(update_fields=[*changed, "updated_at"])
    return row


@transaction.atomic
def version_set_archived(*, actor, row: AssetVersion, archived: bool) -> AssetVersion:
    """Archive (hide from lists and from @latest; still usable by exact version) or restore."""
    permissions.require(actor, Action.ASSET_UPDATE, row.workspace)
    _refuse_curated(row)
    asset = Asset.objects.select_for_update().get(pk=row.asset_id)
    if row.archived != archived:
        row.archived = archived
        row.updated_at = timezone.now()
        row.save(update_fields=["archived", "updated_at"])
        _refresh_latest(asset)
    return row


@transaction.atomic
def asset_set_archived(*, actor, asset: Asset, archived: bool) -> Asset:
    """Archive or restore a name with all its versions."""
    permissions.require(actor, Action.ASSET_UPDATE, asset.workspace)
    _refuse_curated_name(asset)
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    VERSION_MODELS[asset.kind].objects.filter(asset=asset).update(
        archived=archived, updated_at=timezone.now()
    )
    asset.archived = archived
    asset.save(update_fields=["archived"])
    _refresh_latest(asset)
    return asset


@transaction.atomic
def asset_update(*, actor, asset: Asset, description: Any = None, tags: Any = None) -> Asset:
    permissions.require(actor, Action.ASSET_UPDATE, asset.workspace)
    _refuse_curated_name(asset)
    changed = []
    if description is not None:
        asset.description = clean_description(description)
        changed.append("description")
    if tags is not None:
        asset.tags = clean_tags(tags)
        changed.append("tags")
    if changed:
        asset.updated_at = timezone.now()
        asset.save(update_fields=[*changed, "updated_at"])
    return asset


@transaction.atomic
def label_set(*, actor, asset: Asset, label: str, version: str | None) -> Asset:
    """Point a label (an MLflow alias) at a version, or remove it (version None)."""
    permissions.require(actor, Action.ASSET_UPDATE, asset.workspace)
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    if label == "latest":
        raise ValidationError.for_field("label", "'latest' is kept by the studio itself.")
    labels = dict(asset.labels)
    if version is None:
        labels.pop(label, None)
    else:
        if not VERSION_MODELS[asset.kind].objects.filter(asset=asset, version=version).exists():
            raise ValidationError.for_field("version", f"'{asset.name}' has no version {version}.")
        labels[label] = version
    asset.labels = labels
    asset.save(update_fields=["labels"])
    return asset


def record_use(*, job, row: AssetVersion, role: str, input_name: str = "") -> None:
    """Lineage: the job used this version (called by the job services at submit)."""
    from ..models import AssetUse

    AssetUse.objects.create(
        job=job, asset_id=row.asset_id, version=row.version, role=role, input_name=input_name
    )
