# ruff: noqa: F811 - fixtures imported from tests/jobs/test_runner_support.py
"""A cluster with max_instances: 2 never runs a third job at once: six queued jobs, six
runners racing for nodes (as six task deliveries on six worker processes would), real
containers counted on the engine while they run."""

from __future__ import annotations

import threading
import time

import docker
import pytest
from django.db import connection

from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from tests.jobs.test_runner_support import (  # noqa: F401 - fixtures
    docker_runner,
    docker_status,
    job_dir,
    make_job,
)

S = Job.Status
ERRORS: list[str] = []


def _runner_loop(runner, job_id):
    """What the jobs.run task does: run, and retry while the compute is full."""
    try:
        while runner.run(job_id, worker=f"w-{job_id[:4]}") == runner.FULL:
            time.sleep(0.2)
    except Exception as exc:
        ERRORS.append(repr(exc))
        raise
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_cluster_of_two_nodes_never_runs_a_third_job_at_once(
    docker_runner, cluster, workspace, owner, settings
):
    assert cluster.max_instances == 2
    jobs = [make_job(workspace, owner, {"command": "sleep 1.5"}, compute=cluster) for _ in range(6)]
    assert [lifecycle.queue_position(j) for j in jobs] == [1, 2, 3, 4, 5, 6]
    client = docker.from_env()
    label = f"studio.instance={settings.STUDIO_EXECUTOR_INSTANCE}"
    threads = [
        threading.Thread(target=_runner_loop, args=(docker_runner, str(j.pk)), daemon=True)
        for j in jobs
    ]
    for thread in threads:
        thread.start()
    most_containers = most_active = 0
    while any(t.is_alive() for t in threads):
        # The low-level list: one request, no per-container inspect that races a container
        # removed between the list and the inspect.
        running = client.api.containers(filters={"label": label, "status": "running"})
        active = Job.objects.filter(pk__in=[j.pk for j in jobs], status__in=[S.RUNNING]).count()
        most_containers, most_active = max(most_containers, len(running)), max(most_active, active)
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    done = list(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True))
    assert not ERRORS
    assert done == [S.COMPLETED] * 6
    assert most_containers == 2 and most_active == 2
    client.close()
