"""Reads of user accounts, for staff only: to anyone else they raise NotFound, as if the
pages and endpoints did not exist (permissions.require_staff)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import CharField, Count, Q, QuerySet, Value
from django.db.models.functions import Concat, Trim

from studio.errors import NotFound

from .. import permissions
from ..models import Membership, UserAuditEntry

User = get_user_model()


def user_list(*, actor, search: str = "") -> QuerySet:
    """Every account, with `full_name` and `workspace_count`, filtered by a case-insensitive
    match on user name, full name or email; ordered by user name."""
    permissions.require_staff(actor)
    qs = User.objects.annotate(
        full_name=Trim(
            Concat("first_name", Value(" "), "last_name", output_field=CharField()),
        ),
        workspace_count=Count("memberships", distinct=True),
    )
    search = (search or "").strip()
    if search:
        qs = qs.filter(
            Q(username__icontains=search)
            | Q(email__icontains=search)
            | Q(full_name__icontains=search)
        )
    return qs.order_by("username")


def user_get(*, actor, username: str):
    """One account by its exact user name (NotFound when absent, or for non-staff)."""
    user = user_list(actor=actor).filter(username=username).first()
    if user is None:
        raise NotFound(f"User '{username}' not found.")
    return user


def user_memberships(*, actor, user) -> QuerySet[Membership]:
    """The account's roles, one per workspace, by workspace name."""
    permissions.require_staff(actor)
    return (
        Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name")
    )


def user_audit_list(*, actor, user) -> QuerySet[UserAuditEntry]:
    """The account's history: every change made to it, newest first."""
    permissions.require_staff(actor)
    return UserAuditEntry.objects.filter(user=user).order_by("-created_at", "-id")


__all__ = ["user_audit_list", "user_get", "user_list", "user_memberships"]
