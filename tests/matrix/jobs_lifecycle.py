"""Matrix rows: cancelling a job (HTML button and API). Owner, Contributor and Data
Scientist may cancel; a Reader gets 403, the Compute Operator sees no jobs (403)."""

from __future__ import annotations

import pytest

from . import api_expect, expect

JOB = "matrix-cancel-job"


def cancel(ok, **kw):
    return expect(403, owner=ok, contributor=ok, data_scientist=ok, **kw)


HTML = [
    ("jobs:job-cancel", "post", f"/w/churn/jobs/{JOB}/cancel/", None, cancel(302)),
    (
        "jobs:job-bulk",
        "post",
        "/w/churn/jobs/-/bulk/",
        {"action": "cancel", "job": JOB},
        cancel(302),
    ),
]

API = [
    (
        "api:job-cancel",
        "post",
        f"/api/v1/workspaces/churn/jobs/{JOB}/cancel/",
        None,
        api_expect(403, owner=200, contributor=200, data_scientist=200),
    ),
]

FIXTURES = {
    f"/w/churn/jobs/{JOB}/cancel/": ("matrix_cancel_job",),
    "/w/churn/jobs/-/bulk/": ("matrix_cancel_job",),
    f"/api/v1/workspaces/churn/jobs/{JOB}/cancel/": ("matrix_cancel_job",),
}


@pytest.fixture
def matrix_cancel_job(workspace):
    """A Queued job of `churn` (cancelling it needs no executor)."""
    from tests.jobs.test_runner_support import make_job

    return make_job(workspace, workspace.created_by, name=JOB)
