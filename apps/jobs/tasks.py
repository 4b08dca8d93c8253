"""Celery entrypoints of jobs: thin adapters over the runner and the reaper.

`jobs.run` is sent by `services.lifecycle.job_enqueue` to the job's compute's queue. State
lives in the database, not in results: acks_late with reject_on_worker_lost, so a worker
that dies before it claims the job leaves the message to another worker, and the reaper
(`jobs.reap_orphans`, every 30 s from the beat schedule) ends what a dead worker held.
"""

from __future__ import annotations

from celery import shared_task


def full_retry_seconds() -> int:
    """A full compute: look again this often (the job stays Queued, in its place). A safety
    net: a job that frees a node sends the task of the head of the queue at once (a "kick")."""
    from django.conf import settings

    return max(1, settings.STUDIO_QUEUE_RETRY_SECONDS)


@shared_task(
    name="jobs.run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
)
def run_job_task(self, job_id: str, kick: bool = False) -> str:
    """Run one job to its end (or retry while its compute has no free node for it). A kick
    (sent when a node was freed) is one extra look: the job's own task does the retrying."""
    from . import runner

    result = runner.run(job_id, worker=self.request.hostname or "")
    if result == runner.FULL and not kick:
        raise self.retry(countdown=full_retry_seconds())
    return result


@shared_task(name="jobs.reap_orphans", ignore_result=True)
def reap_orphans_task() -> dict:
    """Every 30 s: end jobs whose worker died, remove containers no job owns."""
    from . import reaper

    return reaper.reap()


@shared_task(name="jobs.advance_pipelines", ignore_result=True)
def advance_pipelines_task() -> int:
    """Every 30 s: move Running pipelines on (a safety net for a lost step-ended hook)."""
    from .services.pipelines import advance_running

    return advance_running()
