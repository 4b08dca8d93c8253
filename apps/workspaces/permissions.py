"""The only module that knows what each role may do.

Roles are sets of actions, not ranks: a Compute Operator manages compute that a Data
Scientist may only use, and a Data Scientist runs jobs that a Compute Operator may not even
see. Every entry point (HTML views, the API, the CLI through the API, Celery tasks) goes
through `can()`, `require()` and `visible()` here, by way of the selectors and services.

The table follows Azure's built-in roles:
- Owner: everything, and grants access.
- Contributor: everything but granting access.
- Reader: view only.
- AzureML Data Scientist: everything in the workspace except creating, changing or deleting
  compute (Azure's NotActions `computes/*/write` and `computes/*/delete`; starting and
  stopping stay allowed, as `computes/*/action` is) and editing or deleting the workspace.
- AzureML Compute Operator: sees the workspace and creates, changes and manages compute;
  nothing else (no data, jobs or models).
"""

from __future__ import annotations

import enum

from django.db.models import Exists, OuterRef, QuerySet

from studio.errors import NotFound, PermissionDenied

from .models import Membership, Role, Workspace


class Action(enum.StrEnum):
    WORKSPACE_VIEW = "workspace.view"
    WORKSPACE_UPDATE = "workspace.update"
    WORKSPACE_DELETE = "workspace.delete"
    MEMBERS_VIEW = "workspace.view_members"
    MEMBERS_MANAGE = "workspace.manage_members"

    COMPUTE_VIEW = "compute.view"
    COMPUTE_CREATE = "compute.create"
    COMPUTE_UPDATE = "compute.update"
    COMPUTE_DELETE = "compute.delete"
    COMPUTE_OPERATE = "compute.operate"  # start, stop, restart

    DATASTORE_VIEW = "datastore.view"
    DATASTORE_MANAGE = "datastore.manage"
    DATASTORE_READ_FILES = "datastore.read_files"
    DATASTORE_WRITE_FILES = "datastore.write_files"

    SECRET_VIEW = "secret.view"  # names only: no role ever reads a value back
    SECRET_MANAGE = "secret.manage"

    ASSET_VIEW = "asset.view"
    ASSET_CREATE = "asset.create"
    ASSET_UPDATE = "asset.update"

    JOB_VIEW = "job.view"
    JOB_RUN = "job.run"
    JOB_CANCEL = "job.cancel"
    JOB_UPDATE = "job.update"

    PIPELINE_VIEW = "pipeline.view"
    PIPELINE_EDIT = "pipeline.edit"


ALL_ACTIONS = frozenset(Action)
VIEW_ACTIONS = frozenset(
    {
        Action.WORKSPACE_VIEW,
        Action.MEMBERS_VIEW,
        Action.COMPUTE_VIEW,
        Action.DATASTORE_VIEW,
        Action.DATASTORE_READ_FILES,
        Action.SECRET_VIEW,
        Action.ASSET_VIEW,
        Action.JOB_VIEW,
        Action.PIPELINE_VIEW,
    }
)
COMPUTE_WRITE = frozenset({Action.COMPUTE_CREATE, Action.COMPUTE_UPDATE, Action.COMPUTE_DELETE})

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: ALL_ACTIONS,
    Role.CONTRIBUTOR: ALL_ACTIONS - {Action.MEMBERS_MANAGE},
    Role.READER: VIEW_ACTIONS,
    Role.DATA_SCIENTIST: ALL_ACTIONS
    - COMPUTE_WRITE
    - {Action.WORKSPACE_UPDATE, Action.WORKSPACE_DELETE, Action.MEMBERS_MANAGE},
    Role.COMPUTE_OPERATOR: frozenset(
        {
            Action.WORKSPACE_VIEW,
            Action.MEMBERS_VIEW,
            Action.COMPUTE_VIEW,
            Action.COMPUTE_OPERATE,
        }
    )
    | COMPUTE_WRITE,
}


def roles_allowing(action: Action | str) -> list[str]:
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def role_of(user, workspace: Workspace) -> str | None:
    """The user's role in the workspace, or None. Cached on the workspace object per user."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cache = workspace.__dict__.setdefault("_role_cache", {})
    if user.pk not in cache:
        cache[user.pk] = (
            Membership.objects.filter(workspace=workspace, user=user)
            .values_list("role", flat=True)
            .first()
        )
    return cache[user.pk]


def can(user, action: Action | str, workspace: Workspace) -> bool:
    role = role_of(user, workspace)
    return role is not None and Action(action) in ROLE_ACTIONS[role]


def require(user, action: Action | str, workspace: Workspace) -> None:
    """Raise unless the user may do the action. A non-member gets NotFound, as if the
    workspace did not exist; a member whose role lacks the action gets PermissionDenied."""
    role = role_of(user, workspace)
    if role is None:
        raise NotFound("Workspace not found.")
    if Action(action) not in ROLE_ACTIONS[role]:
        raise PermissionDenied(f"Your role ({role}) does not allow {Action(action).value}.")


def visible(queryset: QuerySet, user, action: Action | str = Action.WORKSPACE_VIEW) -> QuerySet:
    """Only the rows of workspaces where the user holds a role that allows the action.

    Works on Workspace itself and on any model with a `workspace` foreign key.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    roles = roles_allowing(action)
    ws_field = "pk" if queryset.model is Workspace else "workspace_id"
    membership = Membership.objects.filter(
        workspace_id=OuterRef(ws_field), user_id=user.pk, role__in=roles
    )
    return queryset.filter(Exists(membership))


def actions_for(user, workspace: Workspace) -> frozenset[Action]:
    role = role_of(user, workspace)
    return ROLE_ACTIONS[role] if role else frozenset()


def is_staff(user) -> bool:
    """Staff manage the studio's user accounts; this is a flag of the account, not a role
    in any workspace."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def require_staff(user) -> None:
    """Raise NotFound unless the user is active staff: to everyone else, the user
    management pages and endpoints do not exist."""
    if not is_staff(user):
        raise NotFound("Not found.")
