"""Writes to workspaces, members and tokens. Every public service checks permissions itself,
so the HTML views, the API, the CLI (through the API) and tasks share one check."""

from __future__ import annotations

import hashlib
import logging
import secrets
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from studio.errors import Conflict, ValidationError

from .. import permissions, vault
from ..models import ApiToken, Datastore, Membership, Role, RoleAuditEntry, Workspace
from ..permissions import Action

log = logging.getLogger(__name__)
User = get_user_model()

DEFAULT_DATASTORES = (
    ("workspaceblobstore", "Default datastore: job outputs, uploaded data and models."),
    ("workspaceartifactstore", "Artifacts that jobs log through MLflow."),
    ("workspacefilestore", "Shared files: code snapshots and notebooks."),
    ("workspaceworkingdirectory", "Working directories of compute instances."),
)
EDITABLE_FIELDS = ("display_name", "description", "tags")
ROLE_ALIASES = {
    "owner": Role.OWNER,
    "contributor": Role.CONTRIBUTOR,
    "reader": Role.READER,
    "azureml data scientist": Role.DATA_SCIENTIST,
    "data scientist": Role.DATA_SCIENTIST,
    "data_scientist": Role.DATA_SCIENTIST,
    "data-scientist": Role.DATA_SCIENTIST,
    "azureml compute operator": Role.COMPUTE_OPERATOR,
    "compute operator": Role.COMPUTE_OPERATOR,
    "compute_operator": Role.COMPUTE_OPERATOR,
    "compute-operator": Role.COMPUTE_OPERATOR,
}


def workspace_storage_root(workspace: Workspace) -> Path:
    return settings.STUDIO_HOME / "workspaces" / str(workspace.id)


def parse_role(value: Any, *, field: str = "role") -> Role:
    """A role from its exact name or a short alias ('owner', 'data-scientist')."""
    key = str(value or "").strip().lower()
    if key in ROLE_ALIASES:
        return ROLE_ALIASES[key]
    choices = ", ".join(f"'{r.value}'" for r in Role)
    raise ValidationError.for_field(field, f"Unknown role {value!r}; choose one of {choices}.")


def _clean_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise ValidationError.for_field("tags", "Must be a mapping of names to values.")
    clean: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 256:
            raise ValidationError.for_field(
                "tags", f"Tag name {key!r} must be 1 to 256 characters."
            )
        if isinstance(value, (dict, list)):
            raise ValidationError.for_field(f"tags.{key}", "A tag value must be a string.")
        clean[key.strip()] = "" if value is None else str(value)
    return clean


def _full_clean(
    instance, *, exclude: list[str] | None = None, validate_unique: bool = True
) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=validate_unique)
    except DjangoValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        raise ValidationError(message, fields=fields) from None


def _audit(workspace, actor, subject, action, old_role="", new_role="") -> None:
    RoleAuditEntry.objects.create(
        workspace=workspace,
        actor=actor,
        actor_username=actor.get_username() if actor else "system",
        subject_username=subject.get_username(),
        action=action,
        old_role=old_role or "",
        new_role=new_role or "",
    )


@transaction.atomic
def workspace_create(
    *,
    actor,
    name: str,
    display_name: str = "",
    description: str = "",
    tags: dict | None = None,
    extra: dict | None = None,
) -> Workspace:
    """Create a workspace with its creator as Owner, its vault key and its four default
    datastores (local folders under STUDIO_HOME), all or nothing."""
    if not actor or not actor.is_authenticated:
        raise ValidationError("Sign in to create a workspace.")
    workspace = Workspace(
        name=(name or "").strip(),
        display_name=(display_name or "").strip(),
        description=description or "",
        tags=_clean_tags(tags),
        extra=extra or {},
        vault_key=vault.new_wrapped_key(),
        created_by=actor,
    )
    # Uniqueness is checked below, case-insensitively, as a 409 Conflict.
    _full_clean(workspace, exclude=["vault_key"], validate_unique=False)
    if Workspace.objects.filter(name__iexact=workspace.name).exists():
        raise Conflict(
            f"A workspace named '{workspace.name}' already exists.",
            fields={"name": ["This name is taken."]},
        )
    try:
        with transaction.atomic():
            workspace.save()
    except IntegrityError:
        raise Conflict(
            f"A workspace named '{workspace.name}' already exists.",
            fields={"name": ["This name is taken."]},
        ) from None
    Membership.objects.create(workspace=workspace, user=actor, role=Role.OWNER)
    _audit(workspace, actor, actor, RoleAuditEntry.Action.ADDED, new_role=Role.OWNER)

    folders = []
    for index, (store_name, store_description) in enumerate(DEFAULT_DATASTORES):
        relative = Path("workspaces") / str(workspace.id) / store_name
        folders.append(settings.STUDIO_HOME / relative)
        Datastore.objects.create(
            workspace=workspace,
            name=store_name,
            type=Datastore.Type.LOCAL,
            description=store_description,
            is_default=index == 0,
            config={"path": str(relative), "relative_to": "STUDIO_HOME"},
        )

    from .compute import serverless_create  # compute imports this module's helpers

    serverless_create(workspace=workspace, actor=actor)

    # Folders are made only once the rows are committed, so a rolled-back creation leaves
    # nothing on disk. (The storage layer also makes a missing folder on first write.)
    def _make_folders() -> None:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)

    transaction.on_commit(_make_folders)
    transaction.on_commit(lambda: _ensure_builtins(workspace))
    return workspace


def _ensure_builtins(workspace: Workspace) -> None:
    """Queue the Designer's built-in components and sample datasets for the new workspace
    (apps/designer/builtins.py). A broker that does not answer must not fail the creation:
    `manage.py ensure_builtins` catches up."""
    from apps.designer.tasks import ensure_builtins as ensure_builtins_task

    try:
        ensure_builtins_task.delay(str(workspace.pk))
    except Exception as exc:
        log.warning("could not queue the built-ins of workspace %s: %s", workspace.name, exc)


@transaction.atomic
def workspace_update(*, actor, workspace: Workspace, **changes: Any) -> Workspace:
    """Change the friendly name, description or tags (the name is permanent)."""
    permissions.require(actor, Action.WORKSPACE_UPDATE, workspace)
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS) - {"extra"})
    if unknown:
        fields = {f: ["This field cannot be changed."] for f in unknown}
        raise ValidationError(f"Cannot change {', '.join(unknown)}.", fields=fields)
    workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
    if "tags" in changes:
        changes["tags"] = _clean_tags(changes["tags"])
    for field, value in changes.items():
        if field == "extra":
            workspace.extra = {**workspace.extra, **(value or {})}
        else:
            setattr(workspace, field, value if value is not None else "")
    _full_clean(workspace, exclude=["vault_key"])
    workspace.save()
    return workspace


def _running_job_names(workspace: Workspace) -> list[str]:
    """Names of the workspace's jobs that have not ended (MLflow runs from laptops included)."""
    from apps.jobs.models import Job  # jobs depend on workspaces, not the other way round

    return list(
        Job.objects.filter(workspace=workspace)
        .exclude(status__in=Job.TERMINAL)
        .order_by("created_at")
        .values_list("name", flat=True)
    )


def workspace_delete(*, actor, workspace: Workspace) -> None:
    """Delete a workspace. Its files are moved to STUDIO_HOME/trash, not destroyed, so an
    admin can still recover what its users uploaded."""
    permissions.require(actor, Action.WORKSPACE_DELETE, workspace)
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        running = _running_job_names(locked)
        if running:
            raise Conflict(
                f"Workspace '{locked.name}' has jobs that are still running: "
                f"{', '.join(running[:10])}{' …' if len(running) > 10 else ''}. Cancel them first.",
                fields={"jobs": running[:100]},
            )
        root = workspace_storage_root(locked)
        trash = settings.STUDIO_HOME / "trash" / f"{locked.name}-{locked.id}"
        locked.delete()

        def _move_files() -> None:
            if root.exists():
                trash.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(root), str(trash))

        transaction.on_commit(_move_files)


@transaction.atomic
def member_add(*, actor, workspace: Workspace, username: str, role: Any) -> Membership:
    permissions.require(actor, Action.MEMBERS_MANAGE, workspace)
    role = parse_role(role)
    user = User.objects.filter(username=(username or "").strip(), is_active=True).first()
    if user is None:
        raise ValidationError.for_field("user", f"No active user named {username!r}.")
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise Conflict(
            f"'{user.username}' is already a member of '{workspace.name}'.",
            fields={"user": ["Already a member; change the role instead."]},
        )
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    _audit(workspace, actor, user, RoleAuditEntry.Action.ADDED, new_role=role)
    return membership


def _lock_memberships(workspace: Workspace) -> list[Membership]:
    """Lock every membership row of the workspace: concurrent changes that could remove the
    last Owner queue up here instead of both passing the check."""
    return list(Membership.objects.select_for_update().filter(workspace=workspace).order_by("pk"))


def _require_other_owner(rows: list[Membership], membership: Membership, what: str) -> None:
    if membership.role != Role.OWNER:
        return
    if not any(m.role == Role.OWNER and m.pk != membership.pk for m in rows):
        raise Conflict(
            f"Cannot {what} the last Owner of the workspace; make someone else Owner first.",
            fields={"role": ["A workspace keeps at least one Owner."]},
        )


@transaction.atomic
def member_update(*, actor, workspace: Workspace, username: str, role: Any) -> Membership:
    permissions.require(actor, Action.MEMBERS_MANAGE, workspace)
    role = parse_role(role)
    rows = _lock_memberships(workspace)
    membership = next((m for m in rows if m.user.username == username), None)
    if membership is None:
        raise ValidationError.for_field("user", f"'{username}' is not a member.")
    if membership.role == role:
        return membership
    if role != Role.OWNER:
        _require_other_owner(rows, membership, "demote")
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _audit(workspace, actor, membership.user, RoleAuditEntry.Action.CHANGED, old, role)
    return membership


@transaction.atomic
def member_remove(*, actor, workspace: Workspace, username: str) -> None:
    permissions.require(actor, Action.MEMBERS_MANAGE, workspace)
    rows = _lock_memberships(workspace)
    membership = next((m for m in rows if m.user.username == username), None)
    if membership is None:
        raise ValidationError.for_field("user", f"'{username}' is not a member.")
    _require_other_owner(rows, membership, "remove")
    membership.delete()
    _audit(
        workspace, actor, membership.user, RoleAuditEntry.Action.REMOVED, old_role=membership.role
    )


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_create(*, actor, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new personal token. Returns the row and the token itself, which is never stored
    and cannot be shown again."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError.for_field("name", "Give the token a name of 1 to 100 characters.")
    if expires_in_days is not None and not (1 <= int(expires_in_days) <= 3650):
        raise ValidationError.for_field("expires_in_days", "Must be between 1 and 3650 days.")
    if ApiToken.objects.filter(user=actor, name=name, revoked_at__isnull=True).exists():
        raise Conflict(
            f"You already have a token named '{name}'.",
            fields={"name": ["Choose another name or revoke the old token."]},
        )
    raw = ApiToken.PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor,
        name=name,
        token_hash=_hash_token(raw),
        hint=raw[: len(ApiToken.PREFIX) + 6],
        expires_at=timezone.now() + timedelta(days=int(expires_in_days))
        if expires_in_days
        else None,
    )
    return token, raw


def token_revoke(*, actor, token: ApiToken) -> None:
    if token.user_id != actor.pk:
        raise ValidationError("You can revoke only your own tokens.")
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_lookup(*, raw: str) -> ApiToken | None:
    """The active token a client presented, personal or run-scoped, or None. Records last
    use at most once a minute, so a busy client costs no write per request."""
    if not raw or not raw.startswith(ApiToken.PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=_hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_authenticate(*, raw: str):
    """The user a presented personal token stands for, or None. A run token (scoped to one
    job) never authenticates here: it is good only for that job's MLflow calls."""
    token = token_lookup(raw=raw)
    if token is None or token.scope_job_id is not None:
        return None
    return token.user


__all__ = [
    "DEFAULT_DATASTORES",
    "EDITABLE_FIELDS",
    "LAST_USED_RESOLUTION",
    "ROLE_ALIASES",
    "member_add",
    "member_remove",
    "member_update",
    "parse_role",
    "token_authenticate",
    "token_create",
    "token_lookup",
    "token_revoke",
    "workspace_create",
    "workspace_delete",
    "workspace_storage_root",
    "workspace_update",
]
