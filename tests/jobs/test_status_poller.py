"""A job's Overview and Metrics tabs follow its status without a reload: the Overview polls
its badge, place in the queue and timeline while the job has not ended and reloads once when
it ends (so its error, duration and outputs show); the Metrics poller carries the badge."""

from __future__ import annotations

import pytest

from apps.jobs.models import Experiment, Job, JobStatusChange
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def running(workspace):
    experiment = Experiment.objects.create(workspace=workspace, name="exp")
    job = Job.objects.create(
        workspace=workspace, experiment=experiment, name="busy_job", type=Job.Type.COMMAND,
        status=Job.Status.RUNNING,
    )  # fmt: skip
    for status in (Job.Status.QUEUED, Job.Status.RUNNING):
        JobStatusChange.objects.create(job=job, status=status)
    return job


def test_the_overview_polls_the_status_until_the_job_ends_then_reloads(owner, running):
    client = client_for(owner)
    page = client.get("/w/churn/jobs/busy_job/").content.decode()
    assert 'hx-get="/w/churn/jobs/busy_job/status/" hx-trigger="every 3s"' in page
    polled = client.get("/w/churn/jobs/busy_job/status/", **HX)
    body = polled.content.decode()
    assert '<span id="job-status" hx-swap-oob="true"><span class="badge state-running"' in body
    assert '<ol class="timeline" id="timeline" hx-swap-oob="true">' in body
    assert body.count("<li>") == 2 and "so far" in body
    assert 'id="queue-position" hx-swap-oob="true"' in body
    assert 'id="status-poller" hx-get="/w/churn/jobs/busy_job/status/"' in body

    Job.objects.filter(pk=running.pk).update(status=Job.Status.FAILED, error="failed: boom")
    ended = client.get("/w/churn/jobs/busy_job/status/", **HX)
    assert ended.status_code == 200 and ended["HX-Refresh"] == "true"
    page = client.get("/w/churn/jobs/busy_job/").content.decode()
    assert "status-poller" not in page and "failed: boom" in page


def test_the_metrics_poller_carries_the_status_badge(owner, running):
    client = client_for(owner)
    tab = client.get("/w/churn/jobs/busy_job/?tab=metrics").content.decode()
    assert tab.count('id="job-status"') == 1  # the page's own, no out-of-band copy
    polled = client.get("/w/churn/jobs/busy_job/metrics/", **HX).content.decode()
    assert '<span id="job-status" hx-swap-oob="true"><span class="badge state-running"' in polled


def test_a_non_member_cannot_poll_a_job(outsider, running):
    assert client_for(outsider).get("/w/churn/jobs/busy_job/status/", **HX).status_code == 404
