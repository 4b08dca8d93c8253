"""Template context shared by every page: the current workspace and what the user may do."""

from __future__ import annotations

from . import permissions


def studio(request) -> dict:
    workspace = getattr(request, "workspace", None)
    actions = (
        permissions.actions_for(request.user, workspace) if workspace is not None else frozenset()
    )
    return {
        "workspace": workspace,
        "workspace_role": permissions.role_of(request.user, workspace) if workspace else None,
        "workspace_actions": actions,
    }
