"""Designer drafts: a pipeline being drawn, its graph kept as JSON, every change kept as a
revision (who, what, when, and the graph after it), so undo and redo are server-side and a
draft is never lost to a failed save.

The graph:
    {"nodes": {"<node id>": {"kind": "component" | "data", "ref": "azureml:<name>:<version>",
                             "label": "...", "x": 120, "y": 80, "params": {"<input>": value},
                             "compute": "" }},
     "edges": [{"id": "<edge id>", "source": ["<node id>", "<output>"],
                "target": ["<node id>", "<input>"]}],
     "settings": {"default_compute": "", "experiment_name": "",
                  "continue_on_step_failure": false, "force_rerun": false}}
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.workspaces.models import Workspace


def empty_graph() -> dict:
    return {"nodes": {}, "edges": [], "settings": {}}


class Draft(models.Model):
    """A pipeline draft of the Designer. `revision` is the revision shown (undo moves it
    back, redo forward); `head_revision` the newest one kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="drafts")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    graph = models.JSONField(default=empty_graph)
    revision = models.IntegerField(default=0)
    head_revision = models.IntegerField(default=0)
    # The newest pipeline job submitted from this draft (the canvas's run view).
    last_job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_draft_name"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace.name}/{self.name}"


class DraftChange(models.Model):
    """One change to a draft: the gesture, who made it, when, and the graph after it."""

    id = models.BigAutoField(primary_key=True)
    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="changes")
    revision = models.IntegerField()
    action = models.CharField(max_length=40)  # add-node, move-node, connect, set-param, ...
    summary = models.CharField(max_length=500, blank=True)  # "connected Split Data → Train"
    graph = models.JSONField(default=empty_graph)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["draft", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "revision"], name="unique_draft_revision"),
        ]

    def __str__(self) -> str:
        return f"{self.draft_id}@{self.revision}: {self.action}"
