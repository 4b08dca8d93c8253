# ruff: noqa: F811 - fixtures imported from test_runner_support
"""The reaper: a job whose worker died is re-queued (never started) or failed with 'worker
lost' (started; its container is stopped), and containers no live job owns are removed."""

from __future__ import annotations

import time

from apps.jobs import reaper
from apps.jobs.executors import RunSpec
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from tests.jobs.test_runner_support import (  # noqa: F401 - fixtures
    docker_runner,
    docker_status,
    job_dir,
    lines,
    make_job,
    statuses,
)

S = Job.Status


def test_a_job_lost_before_it_started_goes_back_to_the_queue(
    workspace, owner, django_capture_on_commit_callbacks, monkeypatch
):
    from apps.jobs import tasks

    job = make_job(workspace, owner, status=S.PREPARING)
    Job.objects.filter(pk=job.pk).update(handle={"beat": time.time() - 600}, worker="dead@host")
    sent = []
    monkeypatch.setattr(tasks.run_job_task, "apply_async", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        done = reaper.reap()
    job.refresh_from_db()
    assert done["requeued"] == 1 and job.status == S.QUEUED and job.handle == {}
    assert sent and sent[0]["args"] == [str(job.pk)]
    assert lifecycle.queue_position(job) == 1


def test_a_live_runner_is_left_alone(workspace, owner):
    job = make_job(workspace, owner, status=S.RUNNING)
    Job.objects.filter(pk=job.pk).update(handle={"beat": time.time()})
    assert reaper.reap()["failed"] == 0
    job.refresh_from_db()
    assert job.status == S.RUNNING


def test_a_running_job_whose_worker_died_is_failed_and_its_container_stopped(
    docker_runner, workspace, owner
):
    job = make_job(workspace, owner, status=S.RUNNING)
    executor = docker_runner.executor_for("docker")
    handle = executor.start(
        RunSpec(job_id=str(job.pk), image="studio-base:bookworm-py311-r2",
                command="echo before; sleep 60")
    )  # fmt: skip
    time.sleep(1.0)
    Job.objects.filter(pk=job.pk).update(
        handle={"encoded": handle.encode(), "beat": time.time() - 600, "seq_offset": 0},
        worker="dead@host",
    )
    assert reaper.reap()["failed"] == 1
    job.refresh_from_db()
    assert job.status == S.FAILED and job.error.startswith("worker lost (dead@host)")
    assert [text for _, _, text in lines(job)] == ["before"]
    assert executor.find_orphans() == []


def test_a_container_whose_job_has_ended_is_removed(docker_runner, workspace, owner, monkeypatch):
    job = make_job(workspace, owner, status=S.COMPLETED)
    executor = docker_runner.executor_for("docker")
    executor.start(
        RunSpec(job_id=str(job.pk), image="studio-base:bookworm-py311-r2", command="sleep 60")
    )
    monkeypatch.setattr(reaper, "ORPHAN_GRACE", reaper.dt.timedelta(0))
    assert reaper.reap()["orphans"] >= 1
    assert executor.find_orphans() == []
