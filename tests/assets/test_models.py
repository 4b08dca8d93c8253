"""Model assets: create from uploads, datastore paths, job outputs and runs; MLmodel parsed;
mlflow_model without MLmodel refused; the create page and panel; zip downloads streamed."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from apps.assets.models import Asset, Kind, ModelVersion
from apps.assets.services import models as services
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from studio.errors import ValidationError
from tests.conftest import api_client_for, client_for

pytestmark = pytest.mark.django_db

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn:
    pickled_model: model.pkl
    sklearn_version: 1.5.0
saved_input_example_info:
  artifact_path: input_example.json
  type: ndarray
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
"""


def _store(workspace, name="workspaceblobstore"):
    return storage.open_store(Datastore.objects.get(workspace=workspace, name=name))


def _mlflow_folder(store, folder: str) -> str:
    store.write_stream(f"{folder}/MLmodel", io.BytesIO(MLMODEL.encode()))
    store.write_stream(f"{folder}/model.pkl", io.BytesIO(b"x" * 100))
    store.write_stream(f"{folder}/input_example.json", io.BytesIO(b"[[1, 2, 3, 4]]"))
    return storage.uri(store.name, folder)


def _zip(files: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def test_an_mlflow_folder_on_a_datastore_is_parsed(owner, workspace):
    uri = _mlflow_folder(_store(workspace), "models/clf")
    row = services.model_create(
        actor=owner, workspace=workspace, name="clf", type="mlflow_model", path=uri
    )
    assert row.version == "1" and row.path == uri and row.file_count == 3
    assert set(row.flavors) == {"python_function", "sklearn"}
    assert row.signature["inputs"][0]["tensor-spec"]["shape"] == [-1, 4]
    assert row.input_example == [[1, 2, 3, 4]] and "flavors:" in row.mlmodel
    assert row.datastore.name == "workspaceblobstore"


def test_an_mlflow_model_without_mlmodel_is_refused_naming_path(owner, workspace):
    store = _store(workspace)
    store.write_stream("plain/model.pkl", io.BytesIO(b"x"))
    with pytest.raises(ValidationError) as exc:
        services.model_create(
            actor=owner,
            workspace=workspace,
            name="clf",
            type="mlflow_model",
            path=storage.uri(store.name, "plain"),
        )
    assert "path" in exc.value.fields and "MLmodel" in exc.value.message
    assert not Asset.objects.filter(kind=Kind.MODEL).exists()


def test_a_missing_path_and_an_unknown_type_are_refused(owner, workspace):
    with pytest.raises(ValidationError) as missing:
        services.model_create(
            actor=owner,
            workspace=workspace,
            name="m",
            path="azureml://datastores/workspaceblobstore/paths/nothing/here",
        )
    assert "path" in missing.value.fields
    with pytest.raises(ValidationError) as bad_type:
        services.model_create(
            actor=owner, workspace=workspace, name="m", type="onnx", path="azureml://x"
        )
    assert "type" in bad_type.value.fields


def test_a_zipped_folder_upload_is_stored_by_content_and_removed_when_create_fails(
    owner, workspace
):
    files = {"MLmodel": MLMODEL.encode(), "model.pkl": b"abc", "input_example.json": b"[1]"}
    row = services.model_create_from_upload(
        actor=owner,
        workspace=workspace,
        fileobj=_zip(files),
        filename="clf.zip",
        folder=True,
        name="clf",
        type="mlflow_model",
    )
    assert row.path.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/models/")
    assert row.path.endswith("/clf") and row.file_count == 3 and row.source == "local:clf.zip"
    # the same files again: the same place, not a second copy
    again = services.model_create_from_upload(
        actor=owner,
        workspace=workspace,
        fileobj=_zip(files),
        filename="clf.zip",
        folder=True,
        name="clf",
    )
    assert again.path == row.path and again.version == "2"
    # a failing create (mlflow_model without MLmodel) leaves no files behind
    with pytest.raises(ValidationError):
        services.model_create_from_upload(
            actor=owner,
            workspace=workspace,
            fileobj=_zip({"w.bin": b"zz"}),
            filename="w.zip",
            folder=True,
            name="other",
            type="mlflow_model",
        )
    store = _store(workspace)
    listed, _ = store.ls("LocalUpload/models")
    assert len(listed) == 1


def test_a_job_output_becomes_a_model_with_the_job_as_lineage(owner, workspace):
    from apps.jobs.models import Experiment, Job

    experiment = Experiment.objects.create(workspace=workspace, name="e")
    job = Job.objects.create(
        workspace=workspace,
        experiment=experiment,
        name="train_1",
        created_by=owner,
        spec={"outputs": {"model": {"uri": "azureml://datastores/workspaceblobstore/paths/out/m"}}},
    )
    _mlflow_folder(_store(workspace), "out/m")
    row = services.model_register_from_job(
        actor=owner, job=job, output_or_path="model", name="from-job"
    )
    assert row.created_by_job == job and row.type == "mlflow_model"
    assert row.source == "azureml://jobs/train_1/outputs/model" and row.run_id == job.run_id
    # the job's MLflow artifacts, by path
    art = _store(workspace, "workspaceartifactstore")
    art.write_stream(f"{experiment.pk}/{job.run_id}/artifacts/w/weights.bin", io.BytesIO(b"w"))
    row2 = services.model_register_from_job(
        actor=owner, job=job, output_or_path="w", name="weights"
    )
    assert row2.type == "custom_model" and row2.created_by_job == job and row2.file_count == 1
    with pytest.raises(ValidationError) as exc:
        services.model_create(
            actor=owner,
            workspace=workspace,
            name="x",
            path="azureml://jobs/train_1/outputs/missing",
        )
    assert "path" in exc.value.fields and "model" in exc.value.message


def test_api_creates_from_a_uri_and_from_a_streamed_upload(owner, workspace):
    uri = _mlflow_folder(_store(workspace), "models/api")
    client = api_client_for(owner)
    created = client.post(
        "/api/v1/workspaces/churn/models/",
        {"name": "api-clf", "path": uri, "type": "mlflow_model", "tags": {"a": "b"}},
        format="json",
    )
    assert created.status_code == 201, created.data
    assert created.data["type"] == "mlflow_model" and "sklearn" in created.data["flavors"]
    spec = json.dumps({"name": "single", "version": "7"})
    uploaded = client.generic(
        "POST",
        f"/api/v1/workspaces/churn/models/?spec={spec}&filename=model.onnx",
        b"onnx-bytes",
        content_type="application/octet-stream",
    )
    assert uploaded.status_code == 201, uploaded.content
    assert uploaded.json()["path"].endswith("/model.onnx") and uploaded.json()["version"] == "7"
    bad = client.post(
        "/api/v1/workspaces/churn/models/", {"name": "x", "path": "ftp://nope"}, format="json"
    )
    assert bad.status_code == 400 and "path" in bad.json()["fields"]


def test_download_streams_a_zip_of_the_files(owner, workspace):
    uri = _mlflow_folder(_store(workspace), "models/dl")
    services.model_create(actor=owner, workspace=workspace, name="dl", path=uri)
    response = api_client_for(owner).get("/api/v1/workspaces/churn/models/dl/versions/1/download/")
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert sorted(zf.namelist()) == ["MLmodel", "input_example.json", "model.pkl"]
        assert zf.read("model.pkl") == b"x" * 100


def test_the_panel_shows_flavors_signature_and_example(owner, workspace):
    uri = _mlflow_folder(_store(workspace), "models/page")
    services.model_create(actor=owner, workspace=workspace, name="page", path=uri)
    html = client_for(owner).get("/w/churn/models/page/versions/1/").content.decode()
    assert "sklearn" in html and 'id="signature-inputs"' in html and "float64" in html
    assert "(-1, 4)" in html and 'id="input-example"' in html and "Download as zip" in html


def test_the_create_page_uploads_a_file_and_refuses_both_or_neither(owner, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(owner)
    empty = client.post("/w/churn/models/-/new/", {"name": "m", "type": "custom_model"})
    assert empty.status_code == 422 and b"one of the two" in empty.content
    done = client.post(
        "/w/churn/models/-/new/",
        {"name": "m", "type": "custom_model", "file": SimpleUploadedFile("w.bin", b"123")},
    )
    assert done.status_code == 302 and done["Location"].endswith("/models/m/versions/1/")
    assert ModelVersion.objects.get(name="m").file_count == 1
    refused = client.post(
        "/w/churn/models/-/new/",
        {"name": "n", "type": "mlflow_model", "file": SimpleUploadedFile("w.bin", b"1")},
    )
    assert refused.status_code == 422 and b"MLmodel" in refused.content
