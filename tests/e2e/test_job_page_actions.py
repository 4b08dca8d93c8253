"""The job page's Cancel button comes back to the job's page (not the job list)."""

from __future__ import annotations

import pytest

from apps.jobs.models import Job
from tests.conftest import client_for
from tests.jobs.test_runner_support import make_job

pytestmark = pytest.mark.django_db


def test_cancelling_a_queued_job_from_its_page_returns_to_that_page(workspace, owner):
    job = make_job(workspace, owner, name="waiting-job")
    response = client_for(owner).post(f"/w/churn/jobs/{job.name}/cancel/")
    assert response.status_code == 302
    assert response["Location"] == f"/w/churn/jobs/{job.name}/"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED
