"""Reads of the vault: secret names and metadata, and the audit trail. Never a value, and
never the ciphertext (it is deferred, so it does not even leave the database)."""

from __future__ import annotations

from django.db.models import QuerySet

from studio.errors import NotFound

from .. import permissions
from ..models import Secret, SecretAccess, Workspace
from ..permissions import Action


def secret_list(*, actor, workspace: Workspace) -> QuerySet[Secret]:
    """The workspace's secrets (names, descriptions, who changed them when)."""
    permissions.require(actor, Action.SECRET_VIEW, workspace)
    return (
        Secret.objects.filter(workspace=workspace)
        .defer("ciphertext")
        .select_related("created_by", "updated_by")
        .order_by("name")
    )


def secret_get(*, actor, workspace: Workspace, name: str) -> Secret:
    secret = secret_list(actor=actor, workspace=workspace).filter(name=name).first()
    if secret is None:
        raise NotFound(f"Secret '{name}' not found in workspace '{workspace.name}'.")
    return secret


def secret_audit_list(
    *, actor, workspace: Workspace, secret_name: str = ""
) -> QuerySet[SecretAccess]:
    """Who set, deleted or (the system) read which secret, when, and what for; newest first."""
    permissions.require(actor, Action.SECRET_VIEW, workspace)
    qs = SecretAccess.objects.filter(workspace=workspace)
    if secret_name:
        qs = qs.filter(secret_name=secret_name)
    return qs.order_by("-created_at", "-id")


__all__ = ["secret_audit_list", "secret_get", "secret_list"]
