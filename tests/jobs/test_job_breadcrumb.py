"""A job page's breadcrumb is Experiments / <experiment> / <job>: it ends with the job itself,
not a stray "/"."""

from __future__ import annotations

import re

import pytest

from tests.conftest import client_for
from tests.jobs.test_runner_support import make_job

pytestmark = pytest.mark.django_db


def test_the_breadcrumb_ends_with_the_job_not_a_slash(owner, workspace):
    job = make_job(workspace, owner)
    body = client_for(owner).get(f"/w/churn/jobs/{job.name}/").content.decode()
    crumbs = re.search(r'<nav class="crumbs" aria-label="Breadcrumb">(.*?)</nav>', body).group(1)
    assert crumbs.endswith(f'/ <span aria-current="page">{job.name}</span>')
    text = re.sub(r"<[^>]+>", "", crumbs).strip()
    assert text == f"Experiments / {job.experiment.name} / {job.name}"
