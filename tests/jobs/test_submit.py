"""Submitting a command job through the API: everything resolved and frozen into the spec."""

from __future__ import annotations

import pytest

from apps.assets.models import AssetUse, CodeSnapshot
from apps.jobs.models import Experiment, Job
from apps.workspaces.services import secrets as secret_services
from tests.conftest import api_client_for
from tests.jobs.test_submit_fixtures import *  # noqa: F403 (fixtures)
from tests.jobs.test_submit_fixtures import zip_bytes

pytestmark = pytest.mark.django_db

URL = "/api/v1/workspaces/churn/jobs/"


def _post(client, doc, **params):
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return client.post(URL + query, doc, format="json")


def test_a_full_command_job_is_resolved_and_frozen_into_the_spec(
    api,
    workspace,
    owner,
    environment,
    cluster,
    data_asset,
    snapshot,
    enqueued,
    django_capture_on_commit_callbacks,
):
    secret_services.secret_set(actor=owner, workspace=workspace, name="db-password", value="s3")
    doc = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
        "command": "python train.py --data ${{inputs.iris}} --epochs ${{inputs.epochs}} "
        "--out ${{outputs.model}} $[[--lr ${{inputs.lr}}]]",
        "code": str(snapshot.pk),
        "environment": "azureml:sklearn@latest",
        "compute": "azureml:cpu-cluster",
        "inputs": {
            "iris": {"type": "uri_file", "path": "azureml:iris:3", "mode": "download"},
            "raw": {"path": "azureml://datastores/workspaceblobstore/paths/raw/"},
            "url": "https://example.test/iris.csv",
            "epochs": 10,
            "shrinking": False,
            "lr": {"type": "uri_file", "optional": True},
        },
        "outputs": {
            "model": {"type": "mlflow_model", "name": "iris-model", "version": 2},
            "report": None,
        },
        "environment_variables": {"SEED": 7},
        "secrets": {"DB_PASSWORD": "db-password"},
        "limits": {"timeout": 600},
        "display_name": "first try",
        "experiment_name": "iris",
        "tags": {"team": "ml", "n": 1},
        "description": "Train **iris**.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api, doc)
    assert response.status_code == 201, response.content
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert enqueued == [job]
    assert (job.type, job.status, job.display_name) == ("command", "NotStarted", "first try")
    assert job.experiment.name == "iris" and job.compute.name == "cpu-cluster"
    assert job.code == snapshot and job.created_by == owner
    assert job.tags == {"team": "ml", "n": "1"} and job.description == "Train **iris**."
    spec = job.spec
    assert spec["command"] == doc["command"]
    assert spec["environment"] == {"id": str(environment.pk), "name": "sklearn", "version": "1"}
    assert spec["inputs"]["iris"] == {
        "kind": "data",
        "type": "uri_file",
        "mode": "download",
        "uri": "azureml://datastores/workspaceblobstore/paths/iris.csv",
        "asset": "azureml:iris:3",
    }
    assert spec["inputs"]["raw"]["uri"] == "azureml://datastores/workspaceblobstore/paths/raw"
    assert spec["inputs"]["raw"]["mode"] == "ro_mount"
    assert spec["inputs"]["url"] == {"kind": "literal", "value": "https://example.test/iris.csv"}
    assert spec["inputs"]["epochs"] == {"kind": "literal", "value": "10"}
    assert spec["inputs"]["shrinking"] == {"kind": "literal", "value": "False"}
    assert "lr" not in spec["inputs"]  # optional, no value: its $[[...]] part is dropped
    assert spec["outputs"]["model"] == {
        "type": "mlflow_model",
        "mode": "rw_mount",
        "uri": f"azureml://datastores/workspaceblobstore/paths/azureml/{job.name}/model/",
        "register": {"name": "iris-model", "version": "2"},
    }
    assert spec["outputs"]["report"]["register"] is None
    assert spec["environment_variables"] == {"SEED": "7"}
    assert spec["secrets"] == {"DB_PASSWORD": "db-password"}
    assert "s3" not in str(spec)
    assert spec["timeout_s"] == 600 and spec["resources"] == {"instance_count": 1}
    assert spec["yaml"]["name"] == job.name and spec["yaml"]["type"] == "command"
    uses = {(u.asset.name, u.version, u.role, u.input_name) for u in AssetUse.objects.all()}
    assert uses == {("iris", "3", "input", "iris"), ("sklearn", "1", "environment", "")}


def test_a_generated_name_looks_like_azures_and_the_default_experiment_and_pool_are_used(
    api, workspace, environment, enqueued
):
    response = _post(api, {"command": "echo hi", "environment": "azureml:sklearn:1"})
    assert response.status_code == 201, response.content
    job = Job.objects.get()
    adjective, noun, suffix = job.name.split("_")
    assert adjective.isalpha() and noun.isalpha() and len(suffix) == 8
    assert job.display_name == job.name
    assert job.experiment.name == "Default"
    assert job.compute.type == "serverless"
    assert job.code is None and job.spec["timeout_s"] is None


@pytest.mark.parametrize("compute", ["local", "cpu-cluster", "azureml:serverless", "serverless"])
def test_each_way_of_naming_a_compute_resolves_to_its_row(
    api, workspace, environment, cluster, enqueued, compute
):
    from apps.workspaces.models import Compute

    Compute.objects.get_or_create(workspace=workspace, name="local", defaults={"type": "local"})
    doc = {"command": "echo", "environment": "azureml:sklearn:1", "compute": compute}
    assert _post(api, doc).status_code == 201
    expected = compute.removeprefix("azureml:")
    assert Job.objects.get().compute.name == expected


def test_output_paths_may_use_the_server_expressions(api, workspace, environment, enqueued):
    doc = {
        "command": "echo ${{outputs.out}}",
        "environment": "azureml:sklearn:1",
        "name": "job-one",
        "outputs": {
            "out": {
                "path": "azureml://datastores/${{default_datastore}}/paths/runs/${{name}}/${{output_name}}",
                "mode": "upload",
            }
        },
    }
    assert _post(api, doc).status_code == 201
    out = Job.objects.get().spec["outputs"]["out"]
    assert out["uri"] == "azureml://datastores/workspaceblobstore/paths/runs/job-one/out/"
    assert out["mode"] == "upload"


def test_an_input_may_name_an_earlier_jobs_output(api, workspace, environment, enqueued):
    first = {
        "command": "echo ${{outputs.model}}",
        "environment": "azureml:sklearn:1",
        "name": "first",
        "outputs": {"model": None},
    }
    assert _post(api, first).status_code == 201
    second = {
        "command": "ls ${{inputs.m}}",
        "environment": "azureml:sklearn:1",
        "inputs": {
            "m": {"path": "azureml://jobs/first/outputs/model/paths/MLmodel", "type": "uri_file"}
        },
    }
    assert _post(api, second).status_code == 201, _post(api, second).content
    job = Job.objects.exclude(name="first").get()
    assert job.spec["inputs"]["m"]["uri"] == (
        "azureml://datastores/workspaceblobstore/paths/azureml/first/model/MLmodel"
    )


def test_a_dry_run_checks_a_document_with_local_paths_and_creates_nothing(
    api, workspace, environment
):
    doc = {
        "command": "python train.py --data ${{inputs.d}}",
        "code": "./src",
        "environment": "azureml:sklearn:1",
        "inputs": {"d": {"path": "./data/iris.csv", "type": "uri_file"}},
        "experiment_name": "fresh",
    }
    response = _post(api, doc, dry_run="true")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["default_datastore"] == "workspaceblobstore"
    assert body["compute"] == "serverless"
    assert not Job.objects.exists() and not Experiment.objects.filter(name="fresh").exists()


def test_a_reader_may_not_submit_and_a_compute_operator_is_refused_too(
    workspace, reader, compute_operator, environment
):
    doc = {"command": "echo", "environment": "azureml:sklearn:1"}
    assert _post(api_client_for(reader), doc).status_code == 403
    assert _post(api_client_for(compute_operator), doc).status_code == 403
    assert not Job.objects.exists()


def test_an_outsider_gets_404_as_for_a_missing_workspace(workspace, outsider, environment):
    doc = {"command": "echo", "environment": "azureml:sklearn:1"}
    assert _post(api_client_for(outsider), doc).status_code == 404


def test_a_data_scientist_may_submit(workspace, data_scientist, environment, enqueued):
    doc = {"command": "echo", "environment": "azureml:sklearn:1"}
    response = _post(api_client_for(data_scientist), doc)
    assert response.status_code == 201
    assert Job.objects.get().created_by == data_scientist


def test_a_code_archive_leaving_its_folder_or_with_an_absolute_path_is_refused(api, workspace):
    for bad in ("../evil.py", "/etc/evil.py"):
        response = api.generic(
            "POST",
            "/api/v1/workspaces/churn/code/",
            zip_bytes({bad: b"x"}),
            content_type="application/zip",
        )
        assert response.status_code == 400, response.content
        assert "code" in response.json()["fields"]
    assert not CodeSnapshot.objects.exists()
