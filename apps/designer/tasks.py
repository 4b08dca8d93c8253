"""Celery entrypoints of the Designer: thin adapters over apps/designer/builtins.py."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="designer.ensure_builtins",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=600,
    time_limit=660,
)
def ensure_builtins(workspace_id: str) -> None:
    """Register the built-in components and sample datasets in a (new) workspace."""
    from apps.workspaces.models import Workspace

    from .builtins import builtins_ensure

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        builtins_ensure(workspace=workspace)
