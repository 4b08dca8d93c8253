# ruff: noqa: F811 - fixtures imported from tests/jobs/test_runner_support.py
"""With a real Celery worker: when a job ends on a one-node cluster, the next job in the
queue starts at once because its task is sent when the node is freed. The worker's retry
interval is set to a minute, so without that the test could not finish in time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection

from apps.jobs.models import Job, JobStatusChange
from apps.jobs.services import lifecycle
from apps.workspaces.services import compute as compute_services
from tests.factories import make_workspace
from tests.jobs.test_runner_support import docker_runner, docker_status, job_dir, make_job  # noqa

S = Job.Status
pytestmark = pytest.mark.docker


RETRY_SECONDS = 60  # the worker's safety-net retry: far longer than the test may take


@pytest.fixture
def one_node(owner, vm_sizes):
    """A one-node cluster in a workspace of its own name: its queue is its own, not a
    `churn.<compute>` queue that another test process's worker shares on the same broker."""
    workspace = make_workspace(owner=owner, name=f"kick-{uuid.uuid4().hex[:8]}")
    compute, _ = compute_services.compute_create(
        actor=owner,
        workspace=workspace,
        spec={"name": "one-node", "type": "amlcompute", "size": "Standard_DS3_v2",
              "min_instances": 0, "max_instances": 1},
    )  # fmt: skip
    return compute


@pytest.fixture
def worker(one_node, docker_runner, job_dir):
    """`celery -A studio worker -Q <the cluster's queue>` on the test database, two task
    threads (two worker processes' worth of runners), retrying a full compute only after
    RETRY_SECONDS."""
    env = dict(os.environ)
    db = connection.settings_dict
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env["STUDIO_JOB_DIR"] = job_dir
    env["STUDIO_QUEUE_RETRY_SECONDS"] = str(RETRY_SECONDS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "studio", "worker", "-Q", one_node.queue_name,
         "-P", "threads", "-c", "2", "--without-gossip", "--without-mingle", "-l", "WARNING",
         "-n", f"kick-{os.getpid()}@%h"],
        cwd=settings.BASE_DIR, env=env,
    )  # fmt: skip
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.django_db(transaction=True)
def test_a_freed_node_is_taken_by_the_next_job_at_once(worker, one_node, owner):
    jobs = [
        make_job(
            one_node.workspace, owner, {"command": "sleep 1"}, compute=one_node, name=f"kick-{n}"
        )
        for n in range(1, 4)
    ]
    for job in jobs:
        lifecycle._send(job)  # as job_enqueue does on commit
    # Jobs 2 and 3 find the node busy: their tasks retry only after RETRY_SECONDS. They can
    # all finish well before that only if each freed node sends the next job's task.
    deadline = time.monotonic() + RETRY_SECONDS - 10
    ids = [j.pk for j in jobs]
    while time.monotonic() < deadline:
        if Job.objects.filter(pk__in=ids, status__in=Job.TERMINAL).count() == len(jobs):
            break
        time.sleep(0.2)
    statuses = list(Job.objects.filter(pk__in=ids).order_by("queued_at", "pk"))
    assert [j.status for j in statuses] == [S.COMPLETED] * 3, [j.status for j in statuses]

    def at(job, status):
        return JobStatusChange.objects.get(job=job, status=status).at

    # in the queue's order, each after the one before it ended (one node)
    for prev, nxt in zip(jobs, jobs[1:], strict=False):
        assert at(nxt, S.PREPARING) >= at(prev, S.COMPLETED)
    gaps = [
        (at(nxt, S.PREPARING) - at(prev, S.COMPLETED)).total_seconds()
        for prev, nxt in zip(jobs, jobs[1:], strict=False)
    ]
    print(f"node freed -> next job claimed: {', '.join(f'{g:.3f} s' for g in gaps)}")
