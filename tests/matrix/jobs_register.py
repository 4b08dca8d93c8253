"""Matrix rows: a job page's "Register model" form (GET) and its POST. Registering creates a
model asset: Owner, Contributor and Data Scientist may; a Reader gets 403, the Compute
Operator sees no jobs or assets (403). An empty POST re-renders the form with 422."""

from __future__ import annotations

import pytest

from . import expect

JOB = "matrix-register-job"
URL = f"/w/churn/jobs/{JOB}/register-model/"


def create(ok):
    return expect(403, owner=ok, contributor=ok, data_scientist=ok)


HTML = [
    ("jobs:job-register-model", "get", URL, None, create(200)),
    ("jobs:job-register-model", "post", URL, {"name": ""}, create(422)),
]

FIXTURES = {URL: ("matrix_register_job",)}


@pytest.fixture
def matrix_register_job(workspace):
    """A Completed job of `churn` (no files: the form still opens)."""
    from apps.jobs.models import Job
    from tests.jobs.test_runner_support import make_job

    return make_job(workspace, workspace.created_by, name=JOB, status=Job.Status.COMPLETED)
