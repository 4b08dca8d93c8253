"""Reads of workspaces, members and tokens, always scoped by permissions."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, F, QuerySet

from studio.errors import NotFound

from .. import permissions
from ..models import ApiToken, Membership, RoleAuditEntry, Workspace
from ..permissions import Action

User = get_user_model()


def workspace_list(*, actor, search: str = "") -> QuerySet[Workspace]:
    qs = permissions.visible(Workspace.objects.all(), actor)
    if search:
        qs = qs.filter(name__icontains=search) | qs.filter(display_name__icontains=search)
    return qs.order_by("name")


def workspace_get(*, actor, name: str, action: Action = Action.WORKSPACE_VIEW) -> Workspace:
    """The workspace by name, if the actor is a member (else NotFound, as if absent) and
    their role allows the action (else PermissionDenied)."""
    workspace = permissions.visible(Workspace.objects.all(), actor).filter(name=name).first()
    if workspace is None:
        raise NotFound(f"Workspace '{name}' not found.")
    permissions.require(actor, action, workspace)
    return workspace


def member_list(*, actor, workspace: Workspace) -> QuerySet[Membership]:
    permissions.require(actor, Action.MEMBERS_VIEW, workspace)
    return (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .annotate(username=F("user__username"))
        .order_by("username")
    )


def member_get(*, actor, workspace: Workspace, username: str) -> Membership:
    membership = (
        member_list(actor=actor, workspace=workspace).filter(user__username=username).first()
    )
    if membership is None:
        raise NotFound(f"'{username}' is not a member of workspace '{workspace.name}'.")
    return membership


def role_audit_list(*, actor, workspace: Workspace) -> QuerySet[RoleAuditEntry]:
    permissions.require(actor, Action.MEMBERS_VIEW, workspace)
    return RoleAuditEntry.objects.filter(workspace=workspace).order_by("-created_at", "-id")


def workspace_counts(*, workspace: Workspace) -> dict[str, int]:
    """Small figures for the workspace home page."""
    agg = Workspace.objects.filter(pk=workspace.pk).aggregate(
        members=Count("memberships", distinct=True),
        datastores=Count("datastores", distinct=True),
    )
    return agg


def token_list(*, actor) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=actor, revoked_at__isnull=True).order_by("-created_at")


def token_get(*, actor, token_id) -> ApiToken:
    token = token_list(actor=actor).filter(pk=token_id).first()
    if token is None:
        raise NotFound("Token not found.")
    return token


def user_search(*, actor, workspace: Workspace, query: str, limit: int = 10) -> QuerySet:
    """Users an Owner may add: active accounts that are not members yet."""
    permissions.require(actor, Action.MEMBERS_MANAGE, workspace)
    qs = User.objects.filter(is_active=True).exclude(memberships__workspace=workspace)
    if query:
        qs = qs.filter(username__icontains=query)
    return qs.order_by("username")[:limit]


__all__ = [
    "member_get",
    "member_list",
    "role_audit_list",
    "token_get",
    "token_list",
    "user_search",
    "workspace_counts",
    "workspace_get",
    "workspace_list",
]
