"""What people change on a job after it ran: its display name, description and tags, and
whether it is archived (hidden from lists, as in Azure ML). The job itself (spec, outputs,
logs, metrics) never changes here."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from apps.workspaces import permissions
from apps.workspaces.permissions import Action
from studio.errors import ValidationError

from ..models import Job

RUN_NAME_TAG = "mlflow.runName"
MAX_TAG_KEY = 250
MAX_TAG_VALUE = 5000


def _check_tags(tags: Mapping) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise ValidationError.for_field("tags", "Give an object of names to values.")
    out = {}
    for key, value in tags.items():
        key = str(key)
        if not key.strip() or len(key) > MAX_TAG_KEY:
            raise ValidationError.for_field(
                f"tags.{key}", f"A tag name has 1 to {MAX_TAG_KEY} characters."
            )
        if value is None:
            continue
        if len(str(value)) > MAX_TAG_VALUE:
            raise ValidationError.for_field(
                f"tags.{key}", f"A tag value has at most {MAX_TAG_VALUE} characters."
            )
        out[key] = str(value)
    return out


@transaction.atomic
def job_update(
    *,
    actor,
    job: Job,
    display_name: str | None = None,
    description: str | None = None,
    tags: Mapping | None = None,
) -> Job:
    """Change the display name, the description or the tags (the whole set: a tag missing
    from `tags` is removed; MLflow's system tags `mlflow.*` are kept)."""
    permissions.require(actor, Action.JOB_UPDATE, job.workspace)
    locked = Job.objects.select_for_update().get(pk=job.pk)
    fields = []
    if display_name is not None:
        name = display_name.strip()
        if not name or len(name) > 500:
            raise ValidationError.for_field("display_name", "Give 1 to 500 characters.")
        locked.display_name = name
        locked.tags = {**locked.tags, RUN_NAME_TAG: name}
        fields += ["display_name", "tags"]
    if description is not None:
        locked.description = description
        fields.append("description")
    if tags is not None:
        system = {k: v for k, v in locked.tags.items() if k.startswith("mlflow.")}
        locked.tags = {**_check_tags(tags), **system}
        if "tags" not in fields:
            fields.append("tags")
    if fields:
        locked.save(update_fields=fields)
    locked.workspace = job.workspace
    return locked


@transaction.atomic
def job_set_archived(*, actor, job: Job, archived: bool) -> Job:
    """Archive (hide from lists) or restore a job; it keeps everything it has."""
    permissions.require(actor, Action.JOB_UPDATE, job.workspace)
    Job.objects.filter(pk=job.pk).update(archived=archived)
    job.archived = archived
    return job
