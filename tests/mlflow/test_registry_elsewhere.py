"""A registered model version whose files are not on the artifact datastore (registered from
a job's named output on workspaceblobstore, say) loads with the stock client through the
proxy's read-only model-versions/ folder, where nothing writes. A job's run token reads every
version there, also one whose files are another run's artifacts, and that run's folder stays
out of its reach."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from apps.assets.services import models as model_services
from apps.jobs import artifacts
from apps.jobs.services import tracking
from apps.jobs.services.tokens import run_token_issue
from apps.workspaces import storage
from apps.workspaces.models import Datastore

from .conftest import ARTIFACTS, MlflowApi, error_of, token_for

pytestmark = pytest.mark.django_db(transaction=True)

X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]] * 5)
Y = np.array([0, 1, 0, 1] * 5)
WHERE = "models/blob-clf"


@pytest.fixture
def blob_model(owner, workspace, tmp_path):
    """An MLflow model saved to workspaceblobstore and registered as blob-clf:1."""
    model = LogisticRegression().fit(X, Y)
    mlflow.sklearn.save_model(model, tmp_path / "m", serialization_format="cloudpickle")
    store = storage.open_store(
        Datastore.objects.get(workspace=workspace, name="workspaceblobstore")
    )
    for path in (tmp_path / "m").rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                store.write_stream(f"{WHERE}/{path.relative_to(tmp_path / 'm')}", handle)
    model_services.model_create(
        actor=owner, workspace=workspace, name="blob-clf",
        path=f"azureml://datastores/workspaceblobstore/paths/{WHERE}",
    )  # fmt: skip
    return model


def test_the_stock_client_loads_a_version_kept_on_another_datastore(run_client, owner, blob_model):
    seen = run_client("registry_elsewhere.py", token=token_for(owner))["blob-clf"]
    assert seen["prediction"] == blob_model.predict(X[:3]).tolist()
    assert "MLmodel" in seen["files"] and "model.pkl" in seen["files"]


def test_the_model_versions_folder_is_read_only(api, blob_model):
    uri = api.get("model-versions/get-download-uri", {"name": "blob-clf", "version": "1"})
    assert uri.json()["artifact_uri"] == "mlflow-artifacts:/model-versions/blob-clf/1"
    listed = api.get(ARTIFACTS, {"path": "model-versions/blob-clf/1"}).json()["files"]
    assert "MLmodel" in [f["path"] for f in listed]
    mlmodel = api.client.get(f"{ARTIFACTS}/model-versions/blob-clf/1/MLmodel")
    assert mlmodel.status_code == 200 and b"sklearn" in b"".join(mlmodel.streaming_content)
    assert error_of(api.client.get(f"{ARTIFACTS}/model-versions/blob-clf/9/MLmodel"))[0] == 404
    put = api.client.put(
        f"{ARTIFACTS}/model-versions/blob-clf/1/x.txt", b"1", content_type="text/plain"
    )
    assert error_of(put)[0] == 400
    assert error_of(api.client.delete(f"{ARTIFACTS}/model-versions/blob-clf/1"))[0] == 400


@pytest.fixture
def run_model(owner, experiment, workspace, tmp_path):
    """An MLflow model in another run's artifacts on the artifact datastore, registered as
    run-clf:1 (as a training job's `mlflow.register_model` leaves it)."""
    model = LogisticRegression(C=0.5).fit(X, 1 - Y)
    mlflow.sklearn.save_model(model, tmp_path / "r", serialization_format="cloudpickle")
    trained = tracking.run_create(actor=owner, experiment=experiment, run_name="train")
    folder = f"{trained.experiment_id}/{trained.run_id}/artifacts/model"
    for path in (tmp_path / "r").rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                artifacts.put_stream(
                    workspace, f"{folder}/{path.relative_to(tmp_path / 'r')}", handle
                )
    model_services.model_create(
        actor=owner, workspace=workspace, name="run-clf",
        path=f"azureml://datastores/{model_services.ARTIFACT_DATASTORE}/paths/{folder}",
    )  # fmt: skip
    return model, folder


def test_a_job_loads_registered_versions_with_its_run_token(
    run_client, api, run, blob_model, run_model
):
    """A scoring job's `mlflow.sklearn.load_model("models:/run-clf/1")` with its container's
    token: the registry sends a run token to the model-versions/ folder for every version."""
    model, folder = run_model
    token = run_token_issue(job=run)
    scoped = MlflowApi(token)
    for name in ("blob-clf", "run-clf"):
        uri = scoped.get("model-versions/get-download-uri", {"name": name, "version": "1"})
        assert uri.json()["artifact_uri"] == f"mlflow-artifacts:/model-versions/{name}/1"
    assert (
        api.get("model-versions/get-download-uri", {"name": "run-clf", "version": "1"}).json()[
            "artifact_uri"
        ]
        == f"mlflow-artifacts:/{folder}"
    )  # a user is sent to the run's folder, as before
    seen = run_client("registry_elsewhere.py", token=token, env={"MODELS": "blob-clf,run-clf"})
    assert seen["blob-clf"]["prediction"] == blob_model.predict(X[:3]).tolist()
    assert seen["run-clf"]["prediction"] == model.predict(X[:3]).tolist()
    assert "MLmodel" in seen["run-clf"]["files"]
    denied = scoped.client.get(f"{ARTIFACTS}/{folder}/MLmodel")
    assert error_of(denied) == (403, "PERMISSION_DENIED")
    put = scoped.client.put(
        f"{ARTIFACTS}/model-versions/run-clf/1/x.txt", b"1", content_type="text/plain"
    )
    assert error_of(put)[0] == 400
