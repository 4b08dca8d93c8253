"""Matrix rows: submitting a command job (Author > Jobs > New and POST .../jobs/).

Owner, Contributor and Data Scientist may submit; a Reader sees jobs but may not submit;
the Compute Operator sees no jobs."""

from __future__ import annotations

import pytest

from . import api_expect, expect

NEW = "/w/churn/jobs/-/new/"
API_JOBS = "/api/v1/workspaces/churn/jobs/"
DOC = {"command": "echo hello", "environment": "azureml:sklearn@latest"}
SUBMIT = expect(403, owner=302, contributor=302, data_scientist=302)

HTML = [
    (
        "jobs:job-create",
        "get",
        NEW,
        None,
        expect(403, owner=200, contributor=200, data_scientist=200),
    ),
    ("jobs:job-create", "post", NEW, DOC, SUBMIT),
]

API = [
    (
        "api:job-list",
        "post",
        API_JOBS,
        DOC,
        api_expect(403, owner=201, contributor=201, data_scientist=201),
    ),
    (
        "api:job-list",
        "post",
        f"{API_JOBS}?dry_run=true",
        DOC,
        api_expect(403, owner=200, contributor=200, data_scientist=200),
    ),
]


@pytest.fixture
def matrix_submit_environment(workspace, owner, monkeypatch):
    """An environment to name, and no queue: submitting is what the rows check."""
    from apps.assets.models import Kind
    from apps.assets.services import versions
    from apps.jobs.services import submit

    monkeypatch.setattr(submit, "_enqueue", lambda job: None)
    return versions.version_create(
        actor=owner,
        workspace=workspace,
        kind=Kind.ENVIRONMENT,
        name="sklearn",
        fields={"source": "image", "image": "studio-base:bookworm-py311-r2", "spec_hash": "1" * 64},
    )


FIXTURES = {
    NEW: ("matrix_submit_environment",),
    API_JOBS: ("matrix_submit_environment",),
    f"{API_JOBS}?dry_run=true": ("matrix_submit_environment",),
}
