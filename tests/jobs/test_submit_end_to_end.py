# ruff: noqa: F811 - fixtures imported from the support modules
"""Submit → queue → run, for real up to the executor (the scripted FakeExecutor) and the
broker (the task message is captured instead of sent)."""

from __future__ import annotations

import pytest

from apps.jobs import executors, runner, tasks
from apps.jobs.models import Job
from apps.workspaces.services import secrets as secret_services
from tests.fake_executor import FakeExecutor
from tests.jobs.test_runner_support import job_dir  # noqa: F401
from tests.jobs.test_submit_fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings, job_dir, monkeypatch):
    executor = FakeExecutor(script=["training", "done"])
    # Restored after the test: other tests' get_executor("fake") must build their own.
    monkeypatch.setitem(executors._REGISTRY, "fake", lambda **_: executor)
    settings.STUDIO_EXECUTOR = "fake"
    return executor


def test_a_submitted_job_is_queued_and_runs_with_its_inputs_and_secrets(
    api, workspace, owner, environment, fake, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.run_job_task, "apply_async", lambda *a, **kw: sent.append((a, kw)))
    secret_services.secret_set(actor=owner, workspace=workspace, name="db-password", value="s3cr3t")
    doc = {
        "command": "echo epochs=${{inputs.epochs}} $[[--lr ${{inputs.lr}}]]",
        "environment": "azureml:sklearn:1",
        "inputs": {"epochs": 5, "lr": {"type": "uri_file", "optional": True}},
        "secrets": {"DB_PASSWORD": "db-password"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/workspaces/churn/jobs/", doc, format="json")
    assert response.status_code == 201, response.content
    job = Job.objects.get()
    assert job.status == Job.Status.QUEUED and len(sent) == 1
    assert runner.run(str(job.pk), worker="w1") == runner.DONE
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error
    spec = fake.jobs[str(job.pk)].spec
    assert "epochs=5" in str(spec.command)
    assert "--lr" not in str(spec.command)
    assert spec.env["DB_PASSWORD"] == "s3cr3t"
