# ruff: noqa: F811 - fixtures imported from test_runner_support
"""A pipeline on real containers: two independent branches run at the same time (their run
times overlap), a joining step reads both branches' outputs mounted as its inputs, and a
second submit of the same pipeline reuses every step without starting a container.

The Celery hand-off is the unit boundary: each queued step runs in a thread of this process
(as a worker would run `jobs.run`), with its own database connection."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from apps.jobs.services.submit import job_submit
from apps.workspaces import storage
from apps.workspaces.models import Compute, Datastore
from tests.jobs.test_runner_support import docker_runner, docker_status, job_dir  # noqa: F401
from tests.jobs.test_submit_fixtures import environment  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
S = Job.Status


@pytest.fixture
def workers(monkeypatch, docker_runner):
    """Run each queued job in a thread, as a Celery worker would (retrying while full)."""
    started: list[str] = []
    threads: list[threading.Thread] = []

    def work(job_id: str) -> None:
        try:
            while docker_runner.run(job_id, worker="test") == docker_runner.FULL:
                time.sleep(0.3)
        finally:
            connection.close()

    def send(job, kick: bool = False) -> None:
        if kick:  # a freed node's extra look: the job's own thread already retries it
            return
        started.append(job.name)
        thread = threading.Thread(target=work, args=(str(job.pk),), daemon=True)
        threads.append(thread)
        thread.start()

    monkeypatch.setattr(lifecycle, "_send", send)
    yield started
    for thread in threads:
        thread.join(timeout=60)


def branch(word: str) -> dict:
    return {
        "command": f"sleep 3 && echo {word} > ${{{{outputs.out}}}}/value.txt",
        "environment": "azureml:sklearn:1",
        "outputs": {"out": {"type": "uri_folder"}},
    }


def pipeline(name: str) -> dict:
    return {
        "type": "pipeline",
        "name": name,
        "jobs": {
            "left": branch("left"),
            "right": branch("right"),
            "join": {
                "command": "cat ${{inputs.a}}/value.txt ${{inputs.b}}/value.txt "
                "> ${{outputs.both}}/both.txt",
                "environment": "azureml:sklearn:1",
                "inputs": {
                    "a": "${{parent.jobs.left.outputs.out}}",
                    "b": {"path": "${{parent.jobs.right.outputs.out}}", "mode": "download"},
                },
                "outputs": {"both": {"type": "uri_folder"}},
            },
        },
    }


def wait_for_end(job: Job, seconds: float = 180) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            return job
        time.sleep(0.5)
    raise AssertionError(f"pipeline still {job.status}")


def test_two_independent_branches_run_at_the_same_time_and_a_second_submit_reuses_every_step(
    workers, workspace, owner, environment
):
    Compute.objects.filter(workspace=workspace, type=Compute.Type.SERVERLESS).update(
        max_instances=4
    )
    first = wait_for_end(job_submit(actor=owner, workspace=workspace, document=pipeline("p1")))
    steps = {c.spec["step"]: c for c in first.children.all()}
    assert first.status == S.COMPLETED, {k: (c.status, c.error) for k, c in steps.items()}
    left, right, join = steps["left"], steps["right"], steps["join"]
    # the branches overlap in time; the join starts after both ended
    assert left.start_time_ms < right.end_time_ms and right.start_time_ms < left.end_time_ms
    assert join.start_time_ms >= max(left.end_time_ms, right.end_time_ms)
    assert sorted(workers[:2]) == ["p1-left", "p1-right"] and workers[2] == "p1-join"
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    with store.open_read("azureml/p1-join/both/both.txt") as fh:
        assert fh.read().decode().split() == ["left", "right"]

    workers.clear()
    second = job_submit(actor=owner, workspace=workspace, document=pipeline("p2"))
    second = wait_for_end(second, seconds=10)
    assert second.status == S.COMPLETED and workers == []
    reused = {c.spec["step"]: c.tags.get("reused_from") for c in second.children.all()}
    assert reused == {"left": "p1-left", "right": "p1-right", "join": "p1-join"}
