"""The MLflow model registry with the stock 3.x client against a live studio: registered
models and versions are the workspace's Model assets."""

from __future__ import annotations

import pytest

from apps.assets.models import Asset, Kind, ModelVersion

from .conftest import error_of, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_stock_client_registers_reads_updates_and_deletes_models(run_client, owner, workspace):
    seen = run_client("registry_flow.py", token=token_for(owner))

    assert seen["registered_version"] == "1" and seen["v2"] == "2"
    assert seen["latest_versions"] == ["2"]
    assert seen["alias_version"] == "1" and seen["alias_loaded"] is True
    assert seen["prediction"] == [0, 1]
    assert seen["latest_staging"] == ["2"]
    assert seen["versions"] == ["1", "2"] and seen["by_run"] == ["1", "2"]
    assert seen["models"] == ["iris-clf"]
    assert seen["duplicate"] == "RESOURCE_ALREADY_EXISTS"
    assert seen["renamed"] == "scratch2" and seen["gone"] == "RESOURCE_DOES_NOT_EXIST"
    assert seen["v1_description"] == "first" and seen["v1_tags"] == {"validated": "yes"}
    assert seen["v1_aliases"] == ["champion"]
    assert seen["after_delete"] == ["1"]

    asset = Asset.objects.get(workspace=workspace, kind=Kind.MODEL, name="iris-clf")
    assert asset.description == "iris classifier" and asset.tags == {"team": "ml"}
    assert asset.labels == {} and asset.latest_version == "1"
    row = ModelVersion.objects.get(asset=asset, version="1")
    assert row.type == ModelVersion.Type.MLFLOW and "sklearn" in row.flavors
    assert row.run_id == seen["run_id"] and row.logged_model_id == seen["model_id"]
    assert row.created_by_job_id.hex == seen["run_id"]
    assert row.path.startswith("azureml://datastores/workspaceartifactstore/paths/")
    assert row.signature["inputs"][0]["type"] == "tensor"
    assert row.input_example is not None and row.file_count >= 3
    assert not Asset.objects.filter(workspace=workspace, name__startswith="scratch").exists()


def test_a_version_of_a_missing_registered_model_is_not_found(api):
    response = api.post(
        "model-versions/create", {"name": "nope", "source": "models:/m-" + "0" * 32}
    )
    assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_a_version_with_a_source_that_is_not_a_model_location_is_refused(api):
    api.post("registered-models/create", {"name": "m"})
    response = api.post("model-versions/create", {"name": "m", "source": "s3://bucket/x"})
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "source" in response.json()["message"]
    assert not ModelVersion.objects.exists()


def test_a_bad_search_filter_names_the_filter(api):
    response = api.get("registered-models/search", {"filter": "color = 'red'"})
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "filter" in response.json()["message"]


def test_a_reader_reads_the_registry_but_cannot_create(api_as, reader, owner, workspace):
    api_as(owner).post("registered-models/create", {"name": "m", "description": "d"})
    as_reader = api_as(reader)
    got = as_reader.get("registered-models/get", {"name": "m"})
    assert got.status_code == 200 and got.json()["registered_model"]["description"] == "d"
    denied = as_reader.post("registered-models/create", {"name": "m2"})
    assert error_of(denied) == (403, "PERMISSION_DENIED")
