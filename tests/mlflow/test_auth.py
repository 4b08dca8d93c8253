"""Who may call the MLflow API: personal tokens carry the user's role in the workspace."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.workspaces import services

from .conftest import MlflowApi, error_of, token_for

pytestmark = pytest.mark.django_db


def log_metric(api, run):
    body = {"run_id": run.run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
    return api.post("runs/log-metric", body)


def test_a_call_without_a_token_is_unauthenticated(run):
    response = MlflowApi().get("runs/get", {"run_id": run.run_id})
    assert error_of(response) == (401, "UNAUTHENTICATED")
    assert "MLFLOW_TRACKING_TOKEN" in response.json()["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_or_revoked_token_is_unauthenticated(owner, run):
    assert error_of(MlflowApi("stu_not-a-token").get("runs/get", {"run_id": run.run_id})) == (
        401,
        "UNAUTHENTICATED",
    )
    token, raw = services.token_create(actor=owner, name="soon-revoked")
    services.token_revoke(actor=owner, token=token)
    assert error_of(log_metric(MlflowApi(raw), run)) == (401, "UNAUTHENTICATED")


def test_an_expired_token_or_a_deactivated_user_is_unauthenticated(owner, run):
    token, raw = services.token_create(actor=owner, name="expiring", expires_in_days=1)
    assert log_metric(MlflowApi(raw), run).status_code == 200
    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save(update_fields=["expires_at"])
    assert error_of(log_metric(MlflowApi(raw), run)) == (401, "UNAUTHENTICATED")
    live = token_for(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert error_of(log_metric(MlflowApi(live), run)) == (401, "UNAUTHENTICATED")
    assert run.metric_samples.count() == 1


def test_an_unknown_workspace_is_not_found_after_the_token_is_checked(owner, run):
    api = MlflowApi(token_for(owner))
    response = api.get("/mlflow/nowhere/api/2.0/mlflow/runs/get", {"run_id": run.run_id})
    assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert "nowhere" in response.json()["message"]
    response = MlflowApi("stu_bad").get("/mlflow/nowhere/api/2.0/mlflow/runs/get")
    assert error_of(response) == (401, "UNAUTHENTICATED")


def test_an_outsider_gets_not_found_for_everything_in_the_workspace(outsider, run):
    api = MlflowApi(token_for(outsider))
    assert error_of(api.get("runs/get", {"run_id": run.run_id})) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error_of(api.get("experiments/get-by-name", {"experiment_name": "exp"}))[0] == 404
    assert error_of(log_metric(api, run)) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert run.metric_samples.count() == 0


def test_a_reader_reads_but_may_not_log(reader, run):
    api = MlflowApi(token_for(reader))
    assert api.get("runs/get", {"run_id": run.run_id}).status_code == 200
    assert api.post("runs/search", {"experiment_ids": [str(run.experiment_id)]}).status_code == 200
    assert error_of(log_metric(api, run)) == (403, "PERMISSION_DENIED")
    assert error_of(api.post("experiments/create", {"name": "new"})) == (403, "PERMISSION_DENIED")
    assert run.metric_samples.count() == 0


def test_a_compute_operator_may_not_even_read_runs(compute_operator, run):
    api = MlflowApi(token_for(compute_operator))
    assert error_of(api.get("runs/get", {"run_id": run.run_id})) == (403, "PERMISSION_DENIED")
    assert error_of(log_metric(api, run)) == (403, "PERMISSION_DENIED")


def test_data_scientists_and_contributors_log(data_scientist, contributor, run):
    for user in (data_scientist, contributor):
        assert log_metric(MlflowApi(token_for(user)), run).status_code == 200
    assert run.metric_samples.count() == 2


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_basic_auth_takes_a_personal_token_as_password_for_its_own_user(owner, reader, run):
    raw = token_for(owner)
    assert log_metric(MlflowApi(header=basic("alice", raw)), run).status_code == 200
    assert error_of(log_metric(MlflowApi(header=basic("rita", raw)), run)) == (
        401,
        "UNAUTHENTICATED",
    )
    assert error_of(log_metric(MlflowApi(header="Basic !!!"), run)) == (401, "UNAUTHENTICATED")
