"""The reaper: no job stays Running forever because its worker died.

System-internal; `tasks.reap_orphans_task` calls `reap()` every 30 s. A runner proves it is
alive by writing `handle["beat"]` every few seconds. For a job in Preparing, Running,
Finalizing or CancelRequested whose beat is older than STALE_SECONDS:

* it never started (no executor handle): it goes back to Queued, in its old place, and its
  task is sent again;
* it started: its container is stopped if it still runs, the lines it printed meanwhile are
  stored, and it ends Failed with "worker lost" (Canceled if a cancel was asked for).

Then, the executors' orphans (containers and local jobs of this studio) whose job has ended
or does not exist are removed, compute nodes held by ended jobs are freed, and the heads of
the computes' queues that may take a free node get their run task again (a lost message
would otherwise hold a strict-FIFO queue up).

Environment image builds get the same treatment: a build beats `heartbeat_at` while it waits
for the build lock of its spec and while it runs (apps/assets/builder.py); a Running build
silent for STALE_SECONDS, or a Queued one that beat (a worker owned it) and went silent as
long, ends Failed with "worker lost during the build", its log kept, so its page offers to
build again. A Queued build that never beat waits for a worker to take its task: left alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.utils import timezone

from apps.workspaces import scheduling
from apps.workspaces.models import ComputeNode

from .executors import Handle, Outcome, OutcomeKind
from .models import Job
from .services.lifecycle import ACTIVE, S, job_requeue, node_release, queue_kick

log = logging.getLogger(__name__)

STALE_SECONDS = 60.0  # a runner beats every 5 s; this many seconds of silence is death
ORPHAN_GRACE = dt.timedelta(seconds=60)  # a container younger than this may be starting


def reap(*, stale_seconds: float | None = None) -> dict:
    """One pass; returns what it did ({"requeued": n, "failed": n, "orphans": n, ...})."""
    stale = STALE_SECONDS if stale_seconds is None else stale_seconds
    done = {"requeued": 0, "failed": 0, "orphans": 0, "nodes": 0, "kicked": 0, "builds": 0}
    cutoff = time.time() - stale
    jobs = Job.objects.filter(status__in=ACTIVE).exclude(type=Job.Type.PIPELINE)  # no runner
    for job in jobs.select_related("compute", "workspace"):
        beat = (job.handle or {}).get("beat")
        if beat is not None and beat > cutoff:
            continue
        try:
            done[_lost(job)] += 1
        except Exception:
            log.exception("the reaper could not end job %s", job.pk)
    done["orphans"] = _remove_orphans()
    done["nodes"] = _free_nodes()
    done["kicked"] = _kick_queues()
    done["builds"] = _lost_builds(stale)
    return done


def _lost(job: Job) -> str:
    from . import runner

    encoded = (job.handle or {}).get("encoded")
    if not encoded:
        if job.compute_id:
            node_release(job)
        if job.status == S.CANCEL_REQUESTED:
            _end(job, S.CANCELED, "canceled; its worker was lost before it started")
            return "failed"
        return "requeued" if job_requeue(job, "worker lost before the job started") else "failed"
    handle = Handle.decode(encoded)
    work = runner.JobRunner(job, job.worker or "reaper")
    work.handle = handle
    work.executor = runner.executor_for(handle.executor, runner.handle_compute(handle))
    try:
        return _stop_and_end(job, work, handle)
    finally:
        runner._close(work.executor)


def _stop_and_end(job: Job, work, handle: Handle) -> str:
    from . import runner
    from .services.tokens import run_token_revoke

    outcome = work.executor.poll(handle)
    if outcome is None:
        work.executor.cancel(handle)
        outcome = work.executor.poll(handle) or Outcome(None, "lost: stopped", OutcomeKind.LOST)
    work.state.setdefault("seq_offset", 0)
    try:
        work.drain()
    except Exception:  # the log may be gone with the container: keep what is stored
        log.warning("could not read the rest of job %s's log", job.pk, exc_info=True)
    canceled = job.status == S.CANCEL_REQUESTED
    reason = (
        "canceled" if canceled else f"worker lost ({job.worker or 'unknown'}): {outcome.reason}"
    )
    tail = "\n".join(outcome.tail)
    work.end(
        S.CANCELED if canceled else S.FAILED, reason,
        error="" if canceled else reason + (f"\n{tail}" if tail else ""),
        exit_code=outcome.exit_code,
    )  # fmt: skip
    run_token_revoke(job=job)
    runner._quietly(work.executor.cleanup, handle)
    node_release(job)
    return "failed"


def _end(job: Job, status: str, reason: str) -> None:
    from .services.lifecycle import transition

    transition(job.pk, status, from_=ACTIVE, reason=reason, error=reason)


def _executor_names() -> list[str]:
    from django.conf import settings

    return sorted({getattr(settings, "STUDIO_EXECUTOR", "docker"), "local"})


def _engines() -> list[tuple[str, object]]:
    """(executor name, compute or None): the default executors, then each attached
    compute's Docker engine (once per URL)."""
    from apps.workspaces.models import Compute

    engines: list[tuple[str, object]] = [(name, None) for name in _executor_names()]
    if "docker" not in _executor_names():
        return engines
    seen = set()
    attached = Compute.objects.filter(type="attached").select_related("workspace").order_by("pk")
    for compute in attached:
        url = (compute.config or {}).get("url")
        if url and url not in seen:
            seen.add(url)
            engines.append(("docker", compute))
    return engines


def _remove_orphans() -> int:
    """Containers (and local jobs) of this studio whose job has ended or is gone, on the
    local engine and on the attached computes' engines."""
    from . import runner

    removed = 0
    for name, compute in _engines():
        executor = None
        try:
            executor = runner.executor_for(name, compute)
            orphans = executor.find_orphans()
        except Exception:  # no Docker engine here (or it is down): nothing of it to reap
            log.debug("no orphans from %s (%s)", name, compute, exc_info=True)
            if executor is not None:
                runner._close(executor)
            continue
        ids = [o.job_id for o in orphans]
        live = set(
            str(pk)
            for pk in Job.objects.filter(pk__in=_uuids(ids))
            .exclude(status__in=Job.TERMINAL)
            .values_list("pk", flat=True)
        )
        young = timezone.now() - ORPHAN_GRACE
        for orphan in orphans:
            if orphan.job_id in live or (orphan.created and orphan.created > young):
                continue
            runner._quietly(executor.cleanup, orphan.handle)
            removed += 1
        runner._close(executor)
    return removed


def _uuids(ids: list[str]) -> list[str]:
    import uuid

    good = []
    for value in ids:
        try:
            good.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return good


def _free_nodes() -> int:
    """Compute nodes still held by a job that has ended (a runner killed mid-release)."""
    freed = 0
    busy = ComputeNode.objects.filter(state=ComputeNode.State.BUSY).select_related("compute")
    for node in busy:
        job = Job.objects.filter(pk=node.job_id).only("status").first()
        if job is None or job.is_terminal:
            scheduling.node_release(compute=node.compute, job_id=node.job_id)
            freed += 1
    return freed


def _kick_queues() -> int:
    """Send the run task of the jobs at the head of each compute's queue that may take a
    free node now: a safety net for a lost task message (the queue is strict FIFO, so a
    head whose task is gone would hold everyone up) and a lost kick."""
    from apps.workspaces.models import Compute

    waiting = Job.objects.filter(status=S.QUEUED, compute__isnull=False).values("compute_id")
    kicked = 0
    for compute in Compute.objects.filter(pk__in=waiting).select_related("workspace"):
        try:
            kicked += queue_kick(compute)
        except Exception:
            log.exception("the reaper could not kick the queue of %s", compute)
    return kicked


LOST_BUILD = "worker lost during the build"


def _lost_builds(stale: float) -> int:
    """Fail the image builds whose worker stopped beating (`heartbeat_at`): Running ones (by
    `started_at` for one that never beat) and Queued ones that beat once (a worker created or
    took them and waited for the build lock of their spec), keeping their log and saying why
    at its end. A Queued build that never beat is waiting for a worker: not touched."""
    from django.db import IntegrityError, transaction
    from django.db.models import F, Q

    from apps.assets.models import ImageBuild, ImageBuildLogLine

    B = ImageBuild.Status
    cutoff = timezone.now() - dt.timedelta(seconds=stale)
    silent = Q(status=B.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    ) | Q(status=B.QUEUED, heartbeat_at__lt=cutoff)
    failed = 0
    for build in ImageBuild.objects.filter(silent):
        last = build.heartbeat_at or build.started_at
        with transaction.atomic():
            moved = ImageBuild.objects.filter(silent, pk=build.pk).update(
                status=B.FAILED, error=LOST_BUILD, finished_at=timezone.now(),
                log_seq=F("log_seq") + 1,
            )  # fmt: skip
            if not moved:
                continue
            seq = ImageBuild.objects.values_list("log_seq", flat=True).get(pk=build.pk)
            worker = build.engine or "unknown worker"
            if build.status == B.QUEUED:
                worker = "its worker was waiting for another build of the same image"
            text = f"{LOST_BUILD} ({worker}, silent since {last:%H:%M:%S} UTC)"
            try:
                with transaction.atomic():
                    ImageBuildLogLine.objects.create(build_id=build.pk, seq=seq, text=text)
            except IntegrityError:  # a line written at that very moment took the number
                log.warning("could not add the lost-worker line to build %s", build.pk)
        failed += 1
    return failed
