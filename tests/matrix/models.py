"""Matrix rows: the models kind's own routes (create page and API, zip download) and the
MLflow model registry (/mlflow/<ws>/api/2.0/mlflow/registered-models|model-versions/...),
which follows the assets' permissions: Readers read, only Owner, Contributor and Data
Scientist write, Compute Operators get 403, outsiders 404."""

import io

import pytest

from . import api_expect, expect

V2 = "/mlflow/churn/api/2.0/mlflow"
RM, MV = f"{V2}/registered-models", f"{V2}/model-versions"
API_BASE = "/api/v1/workspaces/churn/models/"
SOURCE = "azureml://datastores/workspaceblobstore/paths/matrix-model/"

VIEW = expect(200, compute_operator=403)
CREATE_PAGE = expect(403, owner=200, contributor=200, data_scientist=200)
API_VIEW = api_expect(200, compute_operator=403)
API_WRITE = api_expect(403, owner=200, contributor=200, data_scientist=200)
API_CREATED = api_expect(403, owner=201, contributor=201, data_scientist=201)
NAME = {"name": "mm"}
VERSION = {"name": "mm", "version": "1"}

HTML = [
    ("assets:model-create", "get", "/w/churn/models/-/new/", None, CREATE_PAGE),
    ("assets:model-download", "get", "/w/churn/models/mm/versions/1/download/", None, VIEW),
]

REGISTRY = [
    ("registered-model-create", "post", f"{RM}/create", {"name": "new"}, API_WRITE),
    ("registered-model-get", "get", f"{RM}/get", NAME, API_VIEW),
    ("registered-model-update", "patch", f"{RM}/update", {**NAME, "description": "d"}, API_WRITE),
    ("registered-model-rename", "post", f"{RM}/rename", {**NAME, "new_name": "mm2"}, API_WRITE),
    ("registered-model-delete", "delete", f"{RM}/delete", NAME, API_WRITE),
    ("registered-model-search", "get", f"{RM}/search", None, API_VIEW),
    ("registered-model-set-tag", "post", f"{RM}/set-tag", {**NAME, "key": "a", "value": "b"},
     API_WRITE),
    ("registered-model-delete-tag", "delete", f"{RM}/delete-tag", {**NAME, "key": "k"},
     API_WRITE),
    ("registered-model-latest-versions", "get", f"{RM}/get-latest-versions", NAME, API_VIEW),
    ("registered-model-latest-versions", "post", f"{RM}/get-latest-versions", NAME, API_VIEW),
    ("registered-model-alias", "post", f"{RM}/alias", {**VERSION, "alias": "champ"}, API_WRITE),
    ("registered-model-alias", "get", f"{RM}/alias", {**NAME, "alias": "best"}, API_VIEW),
    ("registered-model-alias", "delete", f"{RM}/alias", {**NAME, "alias": "best"}, API_WRITE),
    ("model-version-create", "post", f"{MV}/create", {**NAME, "source": SOURCE}, API_WRITE),
    ("model-version-get", "get", f"{MV}/get", VERSION, API_VIEW),
    ("model-version-update", "patch", f"{MV}/update", {**VERSION, "description": "d"},
     API_WRITE),
    ("model-version-transition-stage", "post", f"{MV}/transition-stage",
     {**VERSION, "stage": "Staging"}, API_WRITE),
    ("model-version-delete", "delete", f"{MV}/delete", VERSION, API_WRITE),
    ("model-version-search", "get", f"{MV}/search", {"filter": "name='mm'"}, API_VIEW),
    ("model-version-download-uri", "get", f"{MV}/get-download-uri", VERSION, API_VIEW),
    ("model-version-set-tag", "post", f"{MV}/set-tag", {**VERSION, "key": "a", "value": "b"},
     API_WRITE),
    ("model-version-delete-tag", "delete", f"{MV}/delete-tag", {**VERSION, "key": "k"},
     API_WRITE),
]  # fmt: skip

API = [
    ("api:model-list", "post", API_BASE, {"name": "new", "path": SOURCE}, API_CREATED),
    ("api:model-download", "get", f"{API_BASE}mm/versions/1/download/", None, API_VIEW),
    *[(f"mlflow:{name}", method, path, data, exp) for name, method, path, data, exp in REGISTRY],
]

FIXTURES = {row[2]: ("matrix_model",) for row in HTML + API}


@pytest.fixture
def matrix_model(workspace):
    """Model `mm` version 1 (tag k, alias best) on files in workspaceblobstore/matrix-model/."""
    from apps.assets.models import Asset, Kind
    from apps.assets.services import models
    from apps.workspaces import storage
    from apps.workspaces.models import Datastore

    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    store.write_stream("matrix-model/model.pkl", io.BytesIO(b"pickle"))
    models.model_create(
        actor=None, workspace=workspace, name="mm", version="1", path=SOURCE, tags={"k": "v"}
    )
    Asset.objects.filter(workspace=workspace, kind=Kind.MODEL, name="mm").update(
        labels={"best": "1"}, tags={"k": "v"}
    )
