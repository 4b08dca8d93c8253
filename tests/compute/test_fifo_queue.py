# ruff: noqa: F811 - fixtures imported from tests/jobs/test_runner_support.py
"""A compute's queue is strict FIFO: the job shown "#1 in the queue" is the next to run,
whichever runner asks first. Real runners race for the nodes (threads running `runner.run`
as task deliveries on several worker processes would, the later jobs' runners started
first), with real containers; a job that ends sends the task of the head of the queue."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from apps.jobs import runner as job_runner
from apps.jobs.models import Job, JobStatusChange
from apps.jobs.services import lifecycle
from apps.workspaces import scheduling
from apps.workspaces.models import Compute
from tests.jobs.test_runner_support import (  # noqa: F401 - fixtures
    docker_runner,
    docker_status,
    job_dir,
    make_job,
)

S = Job.Status


def _race(runner, jobs) -> list[str]:
    """Run every job with its own retrying runner, the last queued started first; return
    the errors the threads met."""
    errors: list[str] = []

    def loop(job_id: str) -> None:
        try:
            while runner.run(job_id, worker=f"w-{job_id[:4]}") == runner.FULL:
                time.sleep(0.05)
        except Exception as exc:
            errors.append(repr(exc))
            raise
        finally:
            connection.close()

    threads = [
        threading.Thread(target=loop, args=(str(j.pk),), daemon=True) for j in reversed(jobs)
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # the later jobs' runners are already looping when #1's arrives
    for thread in threads:
        thread.join(timeout=180)
    return errors


def _start_order(jobs) -> list[str]:
    """Job names in the order they were claimed (Queued → Preparing)."""
    names = {j.pk: j.name for j in jobs}
    claims = JobStatusChange.objects.filter(job__in=jobs, status=S.PREPARING).order_by("id")
    return [names[c.job_id] for c in claims]


@pytest.mark.django_db(transaction=True)
def test_on_a_one_node_cluster_jobs_start_in_the_order_they_were_queued(
    docker_runner, cluster, workspace, owner
):
    Compute.objects.filter(pk=cluster.pk).update(max_instances=1)
    cluster.refresh_from_db()
    jobs = [
        make_job(workspace, owner, {"command": "sleep 0.3"}, compute=cluster, name=f"fifo-{n}")
        for n in range(1, 5)
    ]
    assert [lifecycle.queue_position(j) for j in jobs] == [1, 2, 3, 4]
    errors = _race(docker_runner, jobs)
    assert not errors
    assert (
        list(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True))
        == [S.COMPLETED] * 4
    )
    assert _start_order(jobs) == ["fifo-1", "fifo-2", "fifo-3", "fifo-4"]


@pytest.mark.django_db(transaction=True)
def test_on_a_two_node_cluster_no_job_overtakes_one_queued_two_places_before_it(
    docker_runner, cluster, workspace, owner
):
    """Two free nodes go to #1 and #2 (in either order); a later job never starts while a
    job queued two or more places before it still waits."""
    assert cluster.max_instances == 2
    jobs = [
        make_job(workspace, owner, {"command": "sleep 0.3"}, compute=cluster, name=f"fifo-{n}")
        for n in range(1, 7)
    ]
    errors = _race(docker_runner, jobs)
    assert not errors
    order = _start_order(jobs)
    assert sorted(order) == [j.name for j in jobs]
    for place, name in enumerate(order):
        queued = int(name.split("-")[1]) - 1
        assert abs(place - queued) <= 1, order
    assert set(order[:2]) == {"fifo-1", "fifo-2"}


# The queue's rules, one runner at a time -----------------------------------------------------


@pytest.fixture
def local_jobs(settings, job_dir):  # noqa: F811
    """Jobs of a cluster run by the local executor (a process, no container): fast."""
    settings.STUDIO_EXECUTOR = "local"


@pytest.fixture
def sent(monkeypatch):
    """The run tasks sent to Celery (the broker is the boundary: no worker in these tests)."""
    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(lifecycle, "_send", lambda job, kick=False: calls.append((job.name, kick)))
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_later_job_waits_while_the_head_of_the_queue_has_not_taken_the_free_node(
    cluster, workspace, owner, sent
):
    Compute.objects.filter(pk=cluster.pk).update(max_instances=1)
    cluster.refresh_from_db()
    first = make_job(workspace, owner, compute=cluster, name="first")
    second = make_job(workspace, owner, compute=cluster, name="second")
    assert job_runner.run(str(second.pk), worker="w2") == job_runner.FULL
    assert Job.objects.get(pk=second.pk).status == S.QUEUED
    assert scheduling.active_jobs_on(cluster) == []
    node = scheduling.node_acquire(compute=cluster, job_id=first.pk, worker="w1")
    assert node is not None and scheduling.queue_heads(cluster) == []


@pytest.mark.django_db(transaction=True)
def test_a_job_canceled_or_failed_while_queued_does_not_hold_the_queue_up(
    cluster, workspace, owner, sent
):
    Compute.objects.filter(pk=cluster.pk).update(max_instances=1)
    cluster.refresh_from_db()
    first = make_job(workspace, owner, compute=cluster, name="first")
    second = make_job(workspace, owner, compute=cluster, name="second")
    third = make_job(workspace, owner, compute=cluster, name="third")
    assert lifecycle.queue_position(third) == 3
    lifecycle.job_cancel(actor=owner, job=first)
    assert sent == [("second", True)]  # the new head is sent at once
    lifecycle.transition(second.pk, S.FAILED, from_=(S.QUEUED,), reason="bad input")
    third.refresh_from_db()
    assert lifecycle.queue_position(third) == 1
    node = scheduling.node_acquire(compute=cluster, job_id=third.pk, worker="w3")
    assert node is not None


@pytest.mark.django_db(transaction=True)
def test_a_job_that_ends_sends_the_task_of_the_head_of_the_queue_at_once(
    local_jobs, cluster, workspace, owner, sent
):
    Compute.objects.filter(pk=cluster.pk).update(max_instances=1)
    cluster.refresh_from_db()
    running = make_job(workspace, owner, {"command": "true"}, compute=cluster, name="running")
    waiting = make_job(workspace, owner, compute=cluster, name="waiting")
    later = make_job(workspace, owner, compute=cluster, name="later")
    assert job_runner.run(str(running.pk), worker="w1") == job_runner.DONE
    assert Job.objects.get(pk=running.pk).status == S.COMPLETED
    # One free node: the head only, as a kick (the job's own task keeps its retries).
    assert sent == [("waiting", True)]
    assert job_runner.run(str(later.pk), worker="w3") == job_runner.FULL
    assert job_runner.run(str(waiting.pk), worker="w2") == job_runner.DONE
    assert sent[-1] == ("later", True)


@pytest.mark.django_db(transaction=True)
def test_on_an_assigned_instance_other_users_jobs_do_not_hold_its_user_up(
    instance, workspace, owner, data_scientist, sent
):
    assert instance.state == Compute.State.RUNNING and instance.max_instances == 1
    stranger = make_job(workspace, owner, compute=instance, name="not-dana")
    dana = make_job(workspace, data_scientist, compute=instance, name="dana")
    assert lifecycle.queue_position(dana) == 1
    node = scheduling.node_acquire(
        compute=instance, job_id=dana.pk, worker="w", user=data_scientist
    )
    assert node is not None
    assert job_runner.run(str(stranger.pk), worker="w") == job_runner.DONE
    assert Job.objects.get(pk=stranger.pk).status == S.FAILED


def test_the_task_of_a_kick_does_not_retry_but_the_jobs_own_task_does(monkeypatch):
    from apps.jobs import tasks

    monkeypatch.setattr(job_runner, "run", lambda job_id, worker="": job_runner.FULL)
    retried = []

    def retry(**kwargs):
        retried.append(kwargs)
        return RuntimeError("retry")

    monkeypatch.setattr(tasks.run_job_task, "retry", retry)
    assert tasks.run_job_task.run("00000000-0000-0000-0000-000000000000", kick=True) == "full"
    with pytest.raises(RuntimeError):
        tasks.run_job_task.run("00000000-0000-0000-0000-000000000000")
    assert retried == [{"countdown": tasks.full_retry_seconds()}]
