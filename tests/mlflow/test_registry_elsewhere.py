"""A registered model version whose files are not on the artifact datastore (registered from
a job's named output on workspaceblobstore, say) loads with the stock client through the
proxy's read-only model-versions/ folder; a run token cannot read it, and nothing writes
there."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from apps.assets.services import models as model_services
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
    seen = run_client("registry_elsewhere.py", token=token_for(owner))
    assert seen["prediction"] == blob_model.predict(X[:3]).tolist()
    assert "MLmodel" in seen["files"] and "model.pkl" in seen["files"]


def test_the_model_versions_folder_is_read_only_and_out_of_a_run_token_s_reach(
    api, run, blob_model
):
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
    scoped = MlflowApi(run_token_issue(job=run))
    denied = scoped.client.get(f"{ARTIFACTS}/model-versions/blob-clf/1/MLmodel")
    assert error_of(denied) == (403, "PERMISSION_DENIED")
