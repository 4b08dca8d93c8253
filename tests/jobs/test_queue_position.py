"""A queued job's page says its place in its compute's queue, which moves as jobs ahead of
it start."""

from __future__ import annotations

import pytest

from apps.jobs.models import Job
from apps.workspaces.models import Compute
from tests.conftest import client_for
from tests.jobs.test_runner_support import make_job

pytestmark = pytest.mark.django_db


def test_a_queued_job_shows_its_place_in_the_queue_until_it_starts(owner, workspace):
    compute = Compute.objects.filter(workspace=workspace).first()
    first = make_job(workspace, owner, compute=compute, name="first")
    second = make_job(workspace, owner, compute=compute, name="second")
    client = client_for(owner)
    page = client.get(f"/w/churn/jobs/{second.name}/").content.decode()
    assert f"#2 in the queue of {compute.name}" in page
    Job.objects.filter(pk=first.pk).update(status=Job.Status.RUNNING)
    page = client.get(f"/w/churn/jobs/{second.name}/").content.decode()
    assert f"#1 in the queue of {compute.name}" in page
    Job.objects.filter(pk=second.pk).update(status=Job.Status.RUNNING)
    assert "in the queue of" not in client.get(f"/w/churn/jobs/{second.name}/").content.decode()
