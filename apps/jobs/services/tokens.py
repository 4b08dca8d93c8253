"""Run tokens: the MLFLOW_TRACKING_TOKEN a job's container gets.

A run token is an ApiToken scoped to one job (`scope_job_id`). The MLflow API lets it read
and write that job only (see apps/jobs/mlflow/auth.py); the studio's own API never accepts it
(`token_authenticate` skips scoped tokens). It acts as the job's creator, so it loses its
power with the creator's role; and the runner revokes it when the job ends.
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from apps.workspaces.models import ApiToken
from apps.workspaces.services.workspaces import _hash_token
from studio.errors import ValidationError

from ..models import Job


def _name(job: Job) -> str:
    return f"run-{job.name}"[:100]


@transaction.atomic
def run_token_issue(*, job: Job) -> str:
    """A new run token for the job (revoking any earlier one); returns the token itself,
    which is stored only as a hash. System-internal: called by the job runner, not routed."""
    if job.created_by_id is None:
        raise ValidationError.for_field("job", "A run token needs the job's creator.")
    run_token_revoke(job=job)
    raw = ApiToken.PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user_id=job.created_by_id,
        name=_name(job),
        token_hash=_hash_token(raw),
        hint=raw[: len(ApiToken.PREFIX) + 6],
        scope_job_id=job.pk,
    )
    return raw


def run_token_revoke(*, job: Job) -> int:
    """Revoke every active run token of the job; returns how many were revoked."""
    return ApiToken.objects.filter(scope_job_id=job.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
