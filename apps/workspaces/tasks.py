"""Celery entrypoints of the workspaces app: thin adapters over scheduling and services.

Besides the periodic tasks, this module holds the worker side of "each compute is a queue":
a worker started with STUDIO_WORKER_SERVES_ALL=true (as `make run` starts it) consumes every
compute's queue. At start-up it subscribes to the queues of the computes that exist
(`subscribe_compute_queues`, from the worker_ready signal in studio/celery.py); later, the
services announce each created or deleted compute by a broadcast control command
(`studio_compute_queue`) that such workers act on. A `local` compute runs jobs as processes
on the studio's own machine, so only a serves-all worker on that host takes its queue.
"""

from __future__ import annotations

import logging
import os
import socket

from celery import shared_task
from celery.worker.control import control_command, ok

log = logging.getLogger(__name__)
SERVES_ALL_ENV = "STUDIO_WORKER_SERVES_ALL"


@shared_task(name="compute.scale_down", ignore_result=True)
def scale_down() -> int:
    """Every 30 s: add nodes up to min_instances, release nodes idle for too long."""
    from . import scheduling
    from .models import Compute

    for compute in Compute.objects.filter(min_instances__gt=0):
        scheduling.ensure_min_nodes(compute)
    return scheduling.scale_down_idle()


@shared_task(name="compute.run_schedules", ignore_result=True)
def run_schedules() -> int:
    """Every minute: start or stop the compute instances whose schedule fired."""
    from .services import compute as compute_services

    return compute_services.schedules_run()


# Queues -------------------------------------------------------------------------------------


def worker_serves_all() -> bool:
    """Whether this worker consumes every compute's queue (STUDIO_WORKER_SERVES_ALL)."""
    value = os.environ.get(SERVES_ALL_ENV, "").strip().lower()
    if value not in ("", "true", "false"):
        log.warning("%s must be true or false, not %r: taken as false", SERVES_ALL_ENV, value)
    return value == "true"


def serves(compute_type: str, host: str) -> bool:
    """Whether a serves-all worker on this machine takes a compute's queue."""
    return compute_type != "local" or not host or host == socket.gethostname()


def compute_queues() -> list[str]:
    """The queues a serves-all worker on this machine consumes, from the database."""
    from .models import Compute

    rows = Compute.objects.select_related("workspace").order_by("workspace__name", "name")
    return [c.queue_name for c in rows if serves(c.type, c.config.get("host", ""))]


def subscribe_compute_queues(consumer) -> list[str]:
    """At worker start-up: consume every compute's queue when this worker serves all."""
    if not worker_serves_all():
        return []
    try:
        queues = compute_queues()
    except Exception:  # a worker that cannot read the database still serves its -Q queues
        log.exception("could not list the compute queues; serving only the -Q queues")
        return []
    for queue in queues:
        consumer.call_soon(consumer.add_task_queue, queue, None, "direct", None)
    log.info("serving the queues of %d computes: %s", len(queues), ", ".join(queues))
    return queues


@control_command(
    args=[("queue", str), ("added", bool), ("compute_type", str), ("host", str)],
    signature="<queue> <added> <compute_type> <host>",
)
def studio_compute_queue(state, queue, added=True, compute_type="", host="", **_):
    """A compute was created (added) or deleted: serves-all workers consume its queue or
    stop consuming it."""
    if not worker_serves_all():
        return ok("not serving every compute")
    consumer = state.consumer
    if not added:
        consumer.call_soon(consumer.cancel_task_queue, queue)
        return ok(f"no longer consuming from {queue}")
    if not serves(compute_type, host):
        return ok(f"{queue} is served on {host}")
    consumer.call_soon(consumer.add_task_queue, queue, None, "direct", None)
    return ok(f"add consumer {queue}")


def announce_queue(queue: str, *, added: bool, compute_type: str, host: str = "") -> None:
    """Broadcast a compute's queue to the workers (from services, after commit). A broker
    that does not answer only delays it: workers also subscribe when they start."""
    from studio.celery import app

    arguments = {"queue": queue, "added": added, "compute_type": compute_type, "host": host}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            app.control.broadcast("studio_compute_queue", arguments=arguments, connection=conn)
    except Exception as exc:  # the compute is saved; workers catch up when they restart
        log.warning("could not announce queue %s to the workers: %s", queue, exc)
