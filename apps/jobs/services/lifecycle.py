"""A job's lifecycle: queue it, cancel it, and move it from one status to the next.

Every status change is a conditional UPDATE (`WHERE status IN (...)`) plus a
`JobStatusChange` row with its time, so two processes (a runner, the reaper, a cancel from
the UI) can never both win the same transition. The runner (apps/jobs/runner.py) and the
reaper (apps/jobs/reaper.py) are system-internal and call `transition()` directly; people
come through `job_enqueue` (the submit service) and `job_cancel`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from apps.workspaces import permissions
from apps.workspaces.permissions import Action
from studio.errors import Conflict

from ..models import Job, JobStatusChange

log = logging.getLogger(__name__)
S = Job.Status
# Statuses in which a runner holds the job (and the reaper watches its heartbeat).
ACTIVE = (S.PREPARING, S.RUNNING, S.FINALIZING, S.CANCEL_REQUESTED)
NOT_ENDED = (S.NOT_STARTED, S.QUEUED, *ACTIVE)


def now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


def transition(job_id, to: str, *, from_: Iterable[str], reason: str = "", **fields) -> bool:
    """Move the job to `to` if its status is one of `from_`, setting `fields` in the same
    UPDATE, and record the change. False (and nothing written) when another process moved
    it first. A terminal status also sets end_time_ms."""
    if to in Job.TERMINAL:
        fields.setdefault("end_time_ms", now_ms())
    with transaction.atomic():
        moved = Job.objects.filter(pk=job_id, status__in=list(from_)).update(status=to, **fields)
        if moved:
            JobStatusChange.objects.create(job_id=job_id, status=to, reason=reason[:1000])
            if to in Job.TERMINAL:  # a pipeline step ended: move its pipeline on
                transaction.on_commit(lambda: _step_ended(job_id))
    return bool(moved)


def _step_ended(job_id) -> None:
    from .pipelines import step_ended

    step_ended(job_id)


def _send(job: Job, *, kick: bool = False) -> None:
    """Send the job's run task to its compute's queue. A kick is one extra look (it does not
    retry when the compute is full: the job's own task keeps retrying)."""
    from ..tasks import run_job_task

    queue = job.compute.queue_name if job.compute_id else None
    options: dict = {"queue": queue} if queue else {}
    if kick:
        options["kwargs"] = {"kick": True}
    run_job_task.apply_async(args=[str(job.pk)], **options)


def queue_kick(compute) -> int:
    """Send the run task of the jobs at the head of the compute's queue that may take its
    free nodes now (on commit), so a freed node does not idle until a retry fires. Returns
    how many were sent."""
    from apps.workspaces import scheduling

    heads = scheduling.queue_heads(compute)
    for job in heads:
        job.compute = compute
        transaction.on_commit(lambda job=job: _send(job, kick=True))
    return len(heads)


def node_release(job: Job) -> None:
    """The job is done with its compute's node (if it held one): free it and kick the head
    of the queue. Also after a Queued job is canceled or failed: the queue moves on."""
    if not job.compute_id:
        return
    from apps.workspaces import scheduling

    with transaction.atomic():
        scheduling.node_release(compute=job.compute, job_id=job.pk)
        queue_kick(job.compute)


_release = node_release  # the pipelines service's name for it


def job_enqueue(job: Job) -> Job:
    """Queue a NotStarted (or re-queued) job: status Queued with `queued_at`, and the Celery
    task `jobs.run` sent on commit to its compute's queue. System-internal: the submit
    service has checked the actor."""
    with transaction.atomic():
        queued_at = timezone.now()
        moved = transition(job.pk, S.QUEUED, from_=(S.NOT_STARTED,), queued_at=queued_at)
        if not moved:
            raise Conflict(f"Job '{job.name}' is {job.status}; only a new job can be queued.")
        job.status, job.queued_at = S.QUEUED, queued_at
        transaction.on_commit(lambda: _send(job))
    return job


def job_requeue(job: Job, reason: str) -> bool:
    """Put a job whose worker was lost before it started back in its queue (the reaper)."""
    with transaction.atomic():
        moved = transition(
            job.pk,
            S.QUEUED,
            from_=(S.PREPARING,),
            reason=reason,
            queued_at=job.queued_at or timezone.now(),
            handle={},
            worker="",
        )
        if moved:
            transaction.on_commit(lambda: _send(job))
    return moved


def job_cancel(*, actor, job: Job) -> Job:
    """Cancel a job. One that has not started yet is Canceled at once; a running one gets
    CancelRequested and its container is stopped now (when this process can reach its
    executor; else its runner stops it within a second). Cancelling an ended job is a
    Conflict; cancelling twice is harmless."""
    permissions.require(actor, Action.JOB_CANCEL, job.workspace)
    if job.type == Job.Type.RUN:
        raise Conflict("An MLflow run logged from outside the studio has nothing to cancel.")
    if job.type == Job.Type.PIPELINE:
        from .pipelines import pipeline_cancel

        return pipeline_cancel(actor=actor, job=job)
    who = getattr(actor, "username", "") or "system"
    if transition(job.pk, S.CANCELED, from_=(S.NOT_STARTED, S.QUEUED), reason=f"by {who}"):
        node_release(job)
    elif transition(job.pk, S.CANCEL_REQUESTED, from_=(S.PREPARING, S.RUNNING), reason=f"by {who}"):
        transaction.on_commit(lambda: _stop_now(job.pk))
    else:
        job.refresh_from_db(fields=["status"])
        if job.status != S.CANCEL_REQUESTED and job.status != S.FINALIZING:
            raise Conflict(f"Job '{job.name}' has already ended ({job.status}).")
    job.refresh_from_db()
    return job


def _stop_now(job_id) -> None:
    """Stop the job's container right away, so a cancel takes effect within 2 s rather
    than at the runner's next look. Best effort: the runner checks the flag anyway."""
    from .. import runner

    job = Job.objects.filter(pk=job_id).only("handle").first()
    if job is None or not job.handle.get("encoded"):
        return
    try:
        runner.cancel_handle(job.handle["encoded"])
    except Exception:  # another machine's engine, a gone container: the runner handles it
        log.warning("could not stop job %s from here; its runner will", job_id, exc_info=True)


def queue_position(job: Job) -> int | None:
    """The job's place (1 = next) among its compute's waiting jobs, in the order they were
    queued (the order in which they take nodes: `scheduling.node_acquire` is strict FIFO);
    None when it is not Queued."""
    if job.status != S.QUEUED or job.queued_at is None:
        return None
    if job.compute_id:
        from apps.workspaces import scheduling

        return scheduling.jobs_ahead(job.compute, job.pk) + 1
    ahead = Job.objects.filter(compute_id=job.compute_id, status=S.QUEUED).filter(
        queued_at__lt=job.queued_at
    ) | Job.objects.filter(
        compute_id=job.compute_id, status=S.QUEUED, queued_at=job.queued_at, pk__lt=job.pk
    )
    return ahead.count() + 1
