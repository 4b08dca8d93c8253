"""Run tokens: the MLFLOW_TRACKING_TOKEN of a job's container reaches that job only."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.jobs.services import tracking
from apps.jobs.services.tokens import run_token_issue, run_token_revoke
from apps.workspaces.models import ApiToken

from .conftest import ARTIFACTS, MlflowApi, error_of

pytestmark = pytest.mark.django_db

DENIED = (403, "PERMISSION_DENIED")


@pytest.fixture
def other_run(owner, experiment):
    return tracking.run_create(actor=owner, experiment=experiment, run_name="other")


@pytest.fixture
def scoped(run):
    return MlflowApi(run_token_issue(job=run))


def test_issuing_makes_one_active_scoped_token_named_after_the_job(run, owner):
    first = run_token_issue(job=run)
    second = run_token_issue(job=run)
    active = ApiToken.objects.get(scope_job_id=run.pk, revoked_at__isnull=True)
    assert active.name == f"run-{run.name}" and active.user == owner
    assert first != second and first.startswith("stu_")
    assert run_token_revoke(job=run) == 1
    assert error_of(MlflowApi(second).get("runs/get", {"run_id": run.run_id}))[0] == 401


def test_a_run_token_logs_to_its_own_run(scoped, run):
    body = {"run_id": run.run_id, "metrics": [{"key": "loss", "value": 0.1, "timestamp": 1}],
            "params": [{"key": "lr", "value": "1"}], "tags": [{"key": "t", "value": "v"}]}  # fmt: skip
    assert scoped.post("runs/log-batch", body).status_code == 200
    assert (
        scoped.post("runs/set-tag", {"run_id": run.run_id, "key": "a", "value": "b"}).status_code
        == 200
    )
    assert scoped.get("runs/get", {"run_id": run.run_id}).status_code == 200
    history = scoped.get("metrics/get-history", {"run_id": run.run_id, "metric_key": "loss"})
    assert len(history.json()["metrics"]) == 1
    assert (
        scoped.post("runs/update", {"run_id": run.run_id, "status": "FINISHED"}).status_code == 200
    )
    assert (
        scoped.get("experiments/get", {"experiment_id": str(run.experiment_id)}).status_code == 200
    )
    by_name = scoped.get("experiments/get-by-name", {"experiment_name": "exp"})
    assert by_name.status_code == 200


def test_a_run_token_cannot_touch_another_run_or_the_rest_of_the_workspace(
    scoped, run, other_run, owner, workspace
):
    metric = {"key": "loss", "value": 0.1, "timestamp": 1, "step": 0}
    assert error_of(scoped.post("runs/log-metric", metric | {"run_id": other_run.run_id})) == DENIED
    assert error_of(scoped.get("runs/get", {"run_id": other_run.run_id})) == DENIED
    assert error_of(scoped.post("runs/create", {"experiment_id": str(run.experiment_id)})) == DENIED
    assert error_of(scoped.post("experiments/create", {"name": "x"})) == DENIED
    assert error_of(scoped.post("runs/search", {"experiment_ids": [str(run.experiment_id)]})) == (
        DENIED
    )
    assert error_of(scoped.post("runs/delete", {"run_id": run.run_id})) == DENIED
    elsewhere = tracking.experiment_create(actor=owner, workspace=workspace, name="elsewhere")
    assert error_of(scoped.get("experiments/get", {"experiment_id": str(elsewhere.pk)})) == DENIED
    assert error_of(scoped.get("experiments/get-by-name", {"experiment_name": "elsewhere"})) == (
        DENIED
    )
    path = f"{ARTIFACTS}/{other_run.experiment_id}/{other_run.run_id}/artifacts/x.txt"
    assert error_of(scoped.client.put(path, b"1", content_type="text/plain")) == DENIED
    assert other_run.metric_samples.count() == 0


def test_a_run_token_makes_logged_models_of_its_run_and_writes_their_files(scoped, run, other_run):
    exp = str(run.experiment_id)
    created = scoped.post("logged-models", {"experiment_id": exp, "name": "model",
                                            "source_run_id": run.run_id})  # fmt: skip
    model_id = created.json()["model"]["info"]["model_id"]
    files = f"{ARTIFACTS}/{exp}/models/{model_id}/artifacts/MLmodel"
    assert scoped.client.put(files, b"x", content_type="text/plain").status_code == 200
    assert scoped.client.get(files).status_code == 200
    ready = {"model_id": model_id, "status": "LOGGED_MODEL_READY"}
    assert scoped.patch(f"logged-models/{model_id}", ready).status_code == 200
    found = scoped.post("logged-models/search", {"experiment_ids": [exp]}).json()["models"]
    assert [m["info"]["model_id"] for m in found] == [model_id]
    own = f"{ARTIFACTS}/{exp}/{run.run_id}/artifacts/notes.txt"
    assert scoped.client.put(own, b"hi", content_type="text/plain").status_code == 200
    foreign = {"experiment_id": exp, "name": "m2", "source_run_id": other_run.run_id}
    assert error_of(scoped.post("logged-models", foreign)) == DENIED
    assert error_of(scoped.post("logged-models", {"experiment_id": exp, "name": "m3"})) == DENIED


def test_the_studios_own_api_refuses_a_run_token(run):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token_issue(job=run)}")
    assert client.get("/api/v1/workspaces/").status_code == 401
    assert client.get("/api/v1/workspaces/churn/").status_code == 401


def test_a_run_token_stops_working_when_its_user_loses_the_role(scoped, run, owner, workspace):
    from apps.workspaces.models import Membership, Role

    Membership.objects.filter(user=owner, workspace=workspace).update(role=Role.READER)
    metric = {"run_id": run.run_id, "key": "loss", "value": 0.1, "timestamp": 1}
    assert error_of(scoped.post("runs/log-metric", metric)) == DENIED
