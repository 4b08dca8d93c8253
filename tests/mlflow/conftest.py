"""Fixtures of the MLflow API tests: a client that speaks to the API with a real personal
token (Bearer or Basic), and `run_client`, which runs a stock-MLflow-client script in its own
process against the live server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from apps.workspaces import services

CLIENTS = Path(__file__).parent / "clients"
PREFIX = "/mlflow/churn/api/2.0/mlflow"
ARTIFACTS = "/mlflow/churn/api/2.0/mlflow-artifacts/artifacts"


def token_for(user) -> str:
    _, raw = services.token_create(actor=user, name=f"mlflow-{user.pk}-{os.urandom(3).hex()}")
    return raw


class MlflowApi:
    """Django's test client with an Authorization header; JSON in, JSON out."""

    def __init__(self, raw_token: str | None = None, *, header: str | None = None):
        auth = header or (f"Bearer {raw_token}" if raw_token else None)
        self.client = Client(**({"HTTP_AUTHORIZATION": auth} if auth else {}))

    def get(self, path: str, params: dict | None = None):
        return self.client.get(_url(path), params or {})

    def post(self, path: str, body: dict | None = None, method: str = "post"):
        return getattr(self.client, method)(
            _url(path), json.dumps(body or {}), content_type="application/json"
        )

    def patch(self, path: str, body: dict | None = None):
        return self.post(path, body, method="patch")

    def delete(self, path: str, body: dict | None = None):
        return self.post(path, body, method="delete")


def _url(path: str) -> str:
    return path if path.startswith("/mlflow/") else f"{PREFIX}/{path.lstrip('/')}"


@pytest.fixture
def api_as():
    """`api_as(user)`: an MlflowApi with a fresh personal token of that user."""
    return lambda user: MlflowApi(token_for(user) if user is not None else None)


@pytest.fixture
def api(owner, workspace):
    return MlflowApi(token_for(owner))


@pytest.fixture
def run_client(live_server, tmp_path):
    """Run tests/mlflow/clients/<script> with the stock client in a fresh process, pointed at
    the live studio; returns the JSON the script prints last."""

    def run(script: str, *, token: str, workspace: str = "churn", timeout: int = 600, env=None):
        target = tmp_path / script
        shutil.copy(CLIENTS / script, target)
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DJANGO_"))
        }
        environment.update(
            MLFLOW_TRACKING_URI=f"{live_server.url}/mlflow/{workspace}",
            MLFLOW_TRACKING_TOKEN=token,
            MLFLOW_DISABLE_TELEMETRY="true",
            MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
            MLFLOW_HTTP_REQUEST_TIMEOUT="60",
            HOME=str(tmp_path),
            **(env or {}),
        )
        result = subprocess.run(
            [sys.executable, str(target)],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture
def experiment(owner, workspace):
    from apps.jobs.services import tracking

    return tracking.experiment_create(actor=owner, workspace=workspace, name="exp")


@pytest.fixture
def run(owner, experiment):
    """A run (job of type `run`) of `experiment`, created by the owner."""
    from apps.jobs.services import tracking

    return tracking.run_create(actor=owner, experiment=experiment, run_name="r1", user_id="alice")


def error_of(response) -> tuple[int, str]:
    """(status, MLflow error_code) of an error response."""
    body = response.json()
    assert "error_code" in body, (response.status_code, body)
    return response.status_code, body["error_code"]
