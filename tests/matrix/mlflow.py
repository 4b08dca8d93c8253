"""Matrix rows: the MLflow tracking REST API (/mlflow/<workspace>/...). Reads need job.view,
writes job.run: Readers read, Compute Operators get 403, outsiders 404, anonymous 401."""

import io
import uuid

import pytest

from . import api_expect, expect

EXP = "9001"
RUN_ID = uuid.UUID(int=0xC0FFEE).hex
MODEL_ID = "m-" + "ab" * 16
V2 = "/mlflow/churn/api/2.0/mlflow"
ART = "/mlflow/churn/api/2.0/mlflow-artifacts/artifacts"
FILE = f"{ART}/{EXP}/{RUN_ID}/artifacts/a.txt"
MODEL = f"{V2}/logged-models/{MODEL_ID}"
RUN = {"run_id": RUN_ID}
METRIC = {**RUN, "key": "loss", "value": 0.5, "timestamp": 1, "step": 1}

READ = api_expect(200, compute_operator=403)
WRITE = api_expect(200, reader=403, compute_operator=403)

ROWS = [
    ("experiment-get-by-name", "get", f"{V2}/experiments/get-by-name",
     {"experiment_name": "matrix"}, READ),
    ("experiment-create", "post", f"{V2}/experiments/create", {"name": "new"}, WRITE),
    ("experiment-get", "get", f"{V2}/experiments/get", {"experiment_id": EXP}, READ),
    ("experiment-search", "get", f"{V2}/experiments/search", None, READ),
    ("experiment-search", "post", f"{V2}/experiments/search", {"max_results": 5}, READ),
    ("experiment-update", "post", f"{V2}/experiments/update",
     {"experiment_id": EXP, "new_name": "renamed"}, WRITE),
    ("experiment-delete", "post", f"{V2}/experiments/delete", {"experiment_id": EXP}, WRITE),
    ("experiment-restore", "post", f"{V2}/experiments/restore", {"experiment_id": EXP}, WRITE),
    ("experiment-set-tag", "post", f"{V2}/experiments/set-experiment-tag",
     {"experiment_id": EXP, "key": "a", "value": "b"}, WRITE),
    ("experiment-delete-tag", "post", f"{V2}/experiments/delete-experiment-tag",
     {"experiment_id": EXP, "key": "k"}, WRITE),
    ("run-create", "post", f"{V2}/runs/create", {"experiment_id": EXP}, WRITE),
    ("run-update", "post", f"{V2}/runs/update", {**RUN, "status": "FINISHED"}, WRITE),
    ("run-get", "get", f"{V2}/runs/get", RUN, READ),
    ("run-delete", "post", f"{V2}/runs/delete", RUN, WRITE),
    ("run-restore", "post", f"{V2}/runs/restore", RUN, WRITE),
    ("run-log-metric", "post", f"{V2}/runs/log-metric", METRIC, WRITE),
    ("run-log-parameter", "post", f"{V2}/runs/log-parameter",
     {**RUN, "key": "lr", "value": "1"}, WRITE),
    ("run-set-tag", "post", f"{V2}/runs/set-tag", {**RUN, "key": "a", "value": "b"}, WRITE),
    ("run-delete-tag", "post", f"{V2}/runs/delete-tag", {**RUN, "key": "k"}, WRITE),
    ("run-log-batch", "post", f"{V2}/runs/log-batch",
     {**RUN, "metrics": [{"key": "loss", "value": 1.0, "timestamp": 1}]}, WRITE),
    ("run-search", "post", f"{V2}/runs/search", {"experiment_ids": [EXP]}, READ),
    ("run-log-inputs", "post", f"{V2}/runs/log-inputs",
     {**RUN, "datasets": [{"dataset": {"name": "d", "digest": "abc"}}]}, WRITE),
    ("run-outputs", "post", f"{V2}/runs/outputs",
     {**RUN, "models": [{"model_id": MODEL_ID, "step": 1}]}, WRITE),
    ("metric-get-history", "get", f"{V2}/metrics/get-history",
     {**RUN, "metric_key": "loss"}, READ),
    ("metric-get-history-bulk-interval", "get", f"{V2}/metrics/get-history-bulk-interval",
     {"run_ids": RUN_ID, "metric_key": "loss"}, READ),
    ("logged-model-create", "post", f"{V2}/logged-models",
     {"experiment_id": EXP, "name": "m", "source_run_id": RUN_ID}, WRITE),
    ("logged-model-search", "post", f"{V2}/logged-models/search",
     {"experiment_ids": [EXP]}, READ),
    ("logged-model", "get", MODEL, None, READ),
    ("logged-model", "patch", MODEL, {"status": "LOGGED_MODEL_READY"}, WRITE),
    ("logged-model", "delete", MODEL, None, WRITE),
    ("logged-model-tags", "patch", f"{MODEL}/tags", {"tags": [{"key": "a", "value": "b"}]},
     WRITE),
    ("logged-model-tag", "delete", f"{MODEL}/tags/k", None, WRITE),
    ("logged-model-params", "post", f"{MODEL}/params",
     {"params": [{"key": "a", "value": "b"}]}, WRITE),
    ("logged-model-artifacts", "get", f"{MODEL}/artifacts/directories", None, READ),
    ("artifact-list", "get", ART, {"path": f"{EXP}/{RUN_ID}/artifacts"}, READ),
    ("artifact", "get", FILE, None, READ),
    ("artifact", "put", FILE, {"any": "bytes"}, WRITE),
    ("artifact", "delete", FILE, None, WRITE),
    ("legacy-artifact-list", "get", f"{V2}/artifacts/list", RUN, READ),
    ("server-info", "get", "/mlflow/churn/api/3.0/mlflow/server-info", None, READ),
]  # fmt: skip

HTML = [
    # MLflow's printed UI link: a page that forwards to the studio's own pages
    ("mlflow:ui-link", "get", "/mlflow/churn/", None, expect(200, compute_operator=403)),
]

API = [
    (f"mlflow:{name}", method, path, data, statuses) for name, method, path, data, statuses in ROWS
]

FIXTURES = {path: ("matrix_mlflow_run",) for _name, _method, path, _data, _statuses in ROWS}


@pytest.fixture
def matrix_mlflow_run(workspace, owner):
    """Experiment 9001 "matrix" (tag k), its run RUN_ID (tag k), a logged model MODEL_ID of
    that run (tag k) and the run's artifact a.txt."""
    from apps.jobs import artifacts
    from apps.jobs.models import Experiment, Job, LoggedModel

    experiment = Experiment.objects.create(
        pk=int(EXP), workspace=workspace, name="matrix", tags={"k": "v"}
    )
    job = Job.objects.create(
        id=uuid.UUID(RUN_ID),
        workspace=workspace,
        experiment=experiment,
        name="matrix_run_00000000",
        type=Job.Type.RUN,
        status=Job.Status.RUNNING,
        tags={"k": "v"},
        created_by=owner,
    )
    LoggedModel.objects.create(
        model_id=MODEL_ID, experiment=experiment, source_job=job, name="m", tags={"k": "v"}
    )
    artifacts.put_stream(workspace, f"{EXP}/{RUN_ID}/artifacts/a.txt", io.BytesIO(b"a"))
    return job
