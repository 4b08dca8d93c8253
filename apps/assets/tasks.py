"""Celery entrypoints of the assets app: thin adapters over the services (ids in, one service
call). The environments' image build task belongs here too."""

from __future__ import annotations

from celery import shared_task

# Data -----------------------------------------------------------------------------------------


@shared_task(
    name="assets.profile_data",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3600,
    time_limit=3700,
)
def profile_data(version_id: str) -> None:
    """Compute and cache a data version's profile (row count, missing, min, max, mean)."""
    from .services.data import data_profile_compute

    data_profile_compute(version_id)


# Environments ---------------------------------------------------------------------------------


@shared_task(
    name="assets.build_environment",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=3 * 3600,
)
def build_environment(build_id: str) -> None:
    """Build an environment's image on this worker's Docker engine (a queued ImageBuild).
    The build beats from the claim on, also while it waits for another build of the same
    spec, and stops past STUDIO_BUILD_TIMEOUT_SECONDS (`run_build`): the task's own time
    limit is only a last resort."""
    from .services.environments import build_claim_and_run

    build_claim_and_run(build_id)
