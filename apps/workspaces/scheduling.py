"""Node slots of compute targets, and the cron side of compute instance schedules.

System-internal code: no actor, no HTTP, no Celery. The Jobs runner calls `node_acquire` before
it starts a job and `node_release` when the job ends; the periodic task `compute.scale_down`
calls `scale_down_idle`. A node is one job slot: a compute never holds more than
`max_instances` non-leaving nodes, because every acquisition counts them while holding a row
lock on the compute (`select_for_update`), so concurrent workers queue up on that lock.

The queue of a compute is strict FIFO: under the same lock, a Queued job takes a node only
while fewer waiting jobs are ahead of it (by `queued_at`, then id) than there are free nodes,
so "#1 in the queue" is really the next to run whichever runner asks first. `waiting_jobs`
is that queue; `queue_heads` the jobs that may take the free nodes now (the jobs app sends
their run tasks when a node is freed).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from collections.abc import Iterable

from croniter import croniter
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from studio.errors import Conflict, PermissionDenied

from .models import Compute, ComputeEvent, ComputeNode

log = logging.getLogger(__name__)
BUSY = ComputeNode.State.BUSY

# Compute types whose nodes come and go with the load (an instance keeps its one node while
# it runs, and has none while stopped).
ELASTIC_TYPES = (
    Compute.Type.AMLCOMPUTE,
    Compute.Type.SERVERLESS,
    Compute.Type.LOCAL,
    Compute.Type.ATTACHED,
)


def record_event(compute: Compute, kind: str, message: str, actor_username: str = "") -> None:
    ComputeEvent.objects.create(
        compute=compute, kind=kind, message=message[:500], actor_username=actor_username
    )


def _free_index(compute: Compute) -> int:
    used = set(ComputeNode.objects.filter(compute=compute).values_list("index", flat=True))
    index = 0
    while index in used:
        index += 1
    return index


def _active_count(compute: Compute) -> int:
    return (
        ComputeNode.objects.filter(compute=compute).exclude(state=ComputeNode.State.LEAVING).count()
    )


def _check_instance(compute: Compute, user) -> None:
    """A compute instance runs only its assigned user's jobs, and none while it is not
    running."""
    if compute.type != Compute.Type.COMPUTEINSTANCE:
        return
    if (
        compute.assigned_user_id is not None
        and getattr(user, "pk", None) != compute.assigned_user_id
    ):
        owner = compute.assigned_user.get_username() if compute.assigned_user else "another user"
        raise PermissionDenied(
            f"Compute instance '{compute.name}' is assigned to {owner}; only their jobs run on it.",
            fields={"compute": [f"Assigned to {owner}."]},
        )
    if compute.state != Compute.State.RUNNING:
        raise Conflict(
            f"Compute instance '{compute.name}' is {compute.state}; start it to run jobs.",
            fields={"compute": [f"The instance is {compute.state}."]},
        )


def waiting_jobs(compute: Compute):
    """The compute's queue, first first: its Queued jobs that hold no node yet, by
    `queued_at` then id. On an instance assigned to a user, only that user's jobs (the
    others fail as soon as their runner looks, so they never hold the queue up)."""
    from apps.jobs.models import Job

    holding = ComputeNode.objects.filter(compute_id=compute.pk, job_id__isnull=False)
    jobs = (
        Job.objects.filter(compute_id=compute.pk, status=Job.Status.QUEUED)
        .exclude(type=Job.Type.PIPELINE)
        .exclude(queued_at__isnull=True)
        .exclude(pk__in=holding.values("job_id"))
    )
    if compute.type == Compute.Type.COMPUTEINSTANCE and compute.assigned_user_id is not None:
        jobs = jobs.filter(created_by_id=compute.assigned_user_id)
    return jobs.order_by("queued_at", "pk")


def jobs_ahead(compute: Compute, job_id: uuid.UUID) -> int:
    """How many waiting jobs are ahead of this one in its compute's queue (0 for a job that
    is not waiting in it)."""
    from apps.jobs.models import Job

    row = (
        Job.objects.filter(pk=job_id, compute_id=compute.pk, status=Job.Status.QUEUED)
        .values("queued_at")
        .first()
    )
    if row is None or row["queued_at"] is None:
        return 0
    at = row["queued_at"]
    return (
        waiting_jobs(compute).filter(Q(queued_at__lt=at) | Q(queued_at=at, pk__lt=job_id)).count()
    )


def free_nodes(compute: Compute) -> int:
    """Job slots free right now: idle nodes plus the nodes it may still add."""
    idle = ComputeNode.objects.filter(compute=compute, state=ComputeNode.State.IDLE).count()
    if compute.type == Compute.Type.COMPUTEINSTANCE and compute.state != Compute.State.RUNNING:
        return 0
    return idle + max(0, compute.max_instances - _active_count(compute))


def queue_heads(compute: Compute) -> list:
    """The waiting jobs that may take a node now: as many from the head of the queue as
    there are free nodes (a hint read without the lock; node_acquire decides)."""
    free = free_nodes(compute)
    if free <= 0:
        return []
    return list(waiting_jobs(compute).only("pk", "compute_id")[:free])


def node_acquire(
    *, compute: Compute, job_id: uuid.UUID, worker: str, user=None
) -> ComputeNode | None:
    """Give the job a node of the compute: an idle one, else a new one (a scale-up) while
    fewer than `max_instances` nodes exist. None when the compute is full, or when the jobs
    queued before this one take every free node (strict FIFO, checked under the compute's
    row lock so two runners cannot both pass): the caller leaves the job Queued.

    Acquiring again for a job that already holds a node returns that node (a redelivered
    task must not take a second slot).
    """
    with transaction.atomic():
        locked = (
            Compute.objects.select_for_update(of=("self",))
            .select_related("assigned_user")
            .get(pk=compute.pk)
        )
        _check_instance(locked, user)
        held = ComputeNode.objects.filter(compute=locked, job_id=job_id).first()
        if held is not None:
            return held
        if jobs_ahead(locked, job_id) >= free_nodes(locked):
            return None
        now = timezone.now()
        node = (
            ComputeNode.objects.filter(compute=locked, state=ComputeNode.State.IDLE)
            .order_by("index")
            .first()
        )
        if node is None:
            active = _active_count(locked)
            if active >= locked.max_instances:
                return None
            node = ComputeNode(compute=locked, index=_free_index(locked))
            node.state, node.job_id, node.worker, node.state_since = BUSY, job_id, worker, now
            node.save()
            record_event(
                locked,
                ComputeEvent.Kind.SCALE_UP,
                f"Node {node.index} added for job {job_id} "
                f"({active + 1} of at most {locked.max_instances}).",
            )
            return node
        node.state, node.job_id, node.worker, node.state_since = BUSY, job_id, worker, now
        node.save(update_fields=["state", "job_id", "worker", "state_since"])
        return node


def node_release(*, compute: Compute, job_id: uuid.UUID) -> ComputeNode | None:
    """The job is done with its node: the node becomes idle (and may be released after
    `idle_time_before_scale_down`). None when the job held no node of this compute."""
    with transaction.atomic():
        node = (
            ComputeNode.objects.select_for_update()
            .filter(compute_id=compute.pk, job_id=job_id)
            .first()
        )
        if node is None:
            return None
        node.state, node.job_id, node.state_since = ComputeNode.State.IDLE, None, timezone.now()
        node.save(update_fields=["state", "job_id", "state_since"])
        return node


def active_jobs_on(compute: Compute) -> list[str]:
    """The names of the jobs holding busy nodes of the compute (a node whose job row is
    gone is named by the job's id)."""
    from apps.jobs.models import Job

    ids = ComputeNode.objects.filter(compute=compute, state=ComputeNode.State.BUSY).values_list(
        "job_id", flat=True
    )
    ids = [job_id for job_id in ids if job_id is not None]
    names = dict(Job.objects.filter(pk__in=ids).values_list("pk", "name"))
    return [names.get(job_id, str(job_id)) for job_id in ids]


def ensure_min_nodes(compute: Compute) -> int:
    """Add idle nodes until the compute has `min_instances` of them (Azure keeps that many
    nodes allocated even with no job). A stopped instance keeps none. Returns nodes added."""
    with transaction.atomic():
        locked = Compute.objects.select_for_update().get(pk=compute.pk)
        if locked.type == Compute.Type.COMPUTEINSTANCE and locked.state != Compute.State.RUNNING:
            return 0
        active = _active_count(locked)
        added = 0
        while active + added < locked.min_instances:
            index = _free_index(locked)
            ComputeNode.objects.create(compute=locked, index=index)
            added += 1
            if locked.type != Compute.Type.COMPUTEINSTANCE:  # its started event says it
                record_event(
                    locked,
                    ComputeEvent.Kind.SCALE_UP,
                    f"Node {index} added to keep min_instances={locked.min_instances}.",
                )
        return added


def remove_all_nodes(compute: Compute) -> int:
    """Drop every node (a stopped instance has none). The caller has checked that none is
    busy, holding the compute's row lock."""
    deleted, _ = ComputeNode.objects.filter(compute=compute).delete()
    return deleted


def scale_down_idle(now: dt.datetime | None = None) -> int:
    """Release the nodes that idled longer than their compute's
    `idle_time_before_scale_down`, keeping `min_instances`: each becomes `leaving` (in its own
    committed step, so the nodes table can show it), then is deleted with a scale-down event.
    Returns how many nodes were released."""
    now = now or timezone.now()
    compute_ids = (
        ComputeNode.objects.filter(
            state__in=[ComputeNode.State.IDLE, ComputeNode.State.LEAVING],
            compute__type__in=ELASTIC_TYPES,
        )
        .values_list("compute_id", flat=True)
        .distinct()
    )
    released = 0
    for compute_id in list(compute_ids):
        _mark_leaving(compute_id, now)
        released += _delete_leaving(compute_id, now)
    return released


def _mark_leaving(compute_id, now: dt.datetime) -> None:
    with transaction.atomic():
        compute = Compute.objects.select_for_update().filter(pk=compute_id).first()
        if compute is None:
            return
        cutoff = now - dt.timedelta(seconds=compute.idle_time_before_scale_down)
        spare = _active_count(compute) - compute.min_instances
        if spare <= 0:
            return
        idle = ComputeNode.objects.filter(
            compute=compute, state=ComputeNode.State.IDLE, state_since__lte=cutoff
        ).order_by("-index")[:spare]
        ComputeNode.objects.filter(pk__in=[n.pk for n in idle]).update(
            state=ComputeNode.State.LEAVING, state_since=now
        )


def _delete_leaving(compute_id, now: dt.datetime) -> int:
    with transaction.atomic():
        compute = Compute.objects.select_for_update().filter(pk=compute_id).first()
        if compute is None:
            return 0
        leaving = list(ComputeNode.objects.filter(compute=compute, state=ComputeNode.State.LEAVING))
        for node in leaving:
            node.delete()
            record_event(
                compute,
                ComputeEvent.Kind.SCALE_DOWN,
                f"Node {node.index} released: idle for more than "
                f"{compute.idle_time_before_scale_down} s.",
            )
        return len(leaving)


# Cron schedules ---------------------------------------------------------------------------

# Azure's schedules name time zones the Windows way ("Pacific Standard Time"); the common
# ones map to IANA names. Any IANA name ("Europe/Paris", "UTC") works as well.
WINDOWS_ZONES = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
}
# A fire time older than this is not acted on (the studio was down then): a compute is not
# started hours late, when its users no longer expect it.
SCHEDULE_LOOKBACK = dt.timedelta(minutes=10)


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone of a schedule: an IANA name or one of the Windows names Azure uses. Raises
    ValueError for an unknown one."""
    key = WINDOWS_ZONES.get(name, name)
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def cron_valid(expression: str) -> bool:
    return isinstance(expression, str) and croniter.is_valid(expression)


def last_fire(expression: str, zone: str, now: dt.datetime) -> dt.datetime:
    """The latest time at or before `now` at which the cron expression fires, in UTC."""
    local_now = now.astimezone(time_zone(zone))
    # croniter's get_prev is strictly before its start: step a second past `now`.
    fired = croniter(expression, local_now + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    return fired.astimezone(dt.UTC)


def next_fire(expression: str, zone: str, now: dt.datetime) -> dt.datetime:
    local_now = now.astimezone(time_zone(zone))
    return croniter(expression, local_now).get_next(dt.datetime).astimezone(dt.UTC)


def due_schedules(
    compute: Compute, now: dt.datetime, handled: Iterable[tuple[str, dt.datetime]]
) -> list[tuple[str, dt.datetime]]:
    """The (action, fire time) pairs of the compute's schedules that fired since the last
    check and are not handled yet. `handled` lists (action, time) of the schedule events
    already written; an event at or after a fire time means that fire was carried out."""
    handled = list(handled)
    floor = max(compute.created_at, now - SCHEDULE_LOOKBACK)
    due = []
    for schedule in compute.schedules or []:
        action, expression = schedule.get("action"), schedule.get("cron")
        if action not in ("start", "stop") or not cron_valid(expression):
            continue
        try:
            fired = last_fire(expression, schedule.get("time_zone") or "UTC", now)
        except ValueError:
            continue
        if fired < floor:
            continue
        if any(a == action and at >= fired for a, at in handled):
            continue
        due.append((action, fired))
    # When a start and a stop fire at once, the later-listed wins; order by fire time.
    return sorted(due, key=lambda pair: pair[1])
