"""Helpers of the runner, reaper and queue tests: jobs made as the submit service freezes
them (a Job row with its spec), an isolated executor namespace, and a working-directory
root the job's user (uid 1000) can traverse."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest
from django.utils import timezone

from apps.jobs.models import Job, JobStatusChange
from apps.jobs.services import tracking
from tests.executors.conftest import docker_status  # noqa: F401 - a fixture for importers

HELLO = {"command": "echo hello", "inputs": {}, "outputs": {}, "environment_variables": {}}


def make_job(workspace, owner, spec=None, *, compute=None, name=None, status=Job.Status.QUEUED):
    """A Job row with a frozen spec, Queued (as job_enqueue leaves it) unless told."""
    experiment = tracking.experiment_default(workspace=workspace)
    job = Job.objects.create(
        workspace=workspace,
        experiment=experiment,
        name=name or f"job-{uuid.uuid4().hex[:10]}",
        spec={**HELLO, **(spec or {})},
        compute=compute,
        created_by=owner,
        status=status,
        queued_at=timezone.now() if status == Job.Status.QUEUED else None,
    )
    return job


def statuses(job) -> list[str]:
    return list(JobStatusChange.objects.filter(job=job).values_list("status", flat=True))


def lines(job) -> list[tuple[int, str, str]]:
    return list(job.log_lines.order_by("seq").values_list("seq", "stream", "text"))


@pytest.fixture
def job_dir(settings):
    """Working directories under /tmp (traversable by uid 1000, unlike pytest's tmp_path)."""
    root = tempfile.mkdtemp(prefix="studio-runner-", dir="/tmp")
    os.chmod(root, 0o755)
    settings.STUDIO_JOB_DIR = root
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def docker_runner(settings, docker_status, job_dir):  # noqa: F811
    """The runner on the real Docker engine, with containers in a namespace of their own."""
    from apps.jobs import runner
    from tests.conftest import require_service

    ready, why = docker_status
    require_service("Docker", ready, why)
    settings.STUDIO_EXECUTOR = "docker"
    settings.STUDIO_EXECUTOR_INSTANCE = f"runner-{uuid.uuid4().hex[:10]}"
    settings.STUDIO_EXECUTOR_OPTIONS = {
        "docker": {"heartbeat_seconds": 0.5, "metrics_interval_seconds": None}
    }
    yield runner
    executor = runner.executor_for("docker")
    for orphan in executor.find_orphans():
        executor.cleanup(orphan.handle)
