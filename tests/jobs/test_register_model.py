"""A job page's "Register model": the form lists what the job produced (MLflow models in its
artifacts, its logged models, its named outputs), POST registers a model version with the
job as lineage and goes to the version's page; bad choices re-render with the field named
and nothing registered."""

from __future__ import annotations

import io
import uuid

import pytest

from apps.assets.models import ModelVersion
from apps.jobs import artifacts
from apps.jobs.models import Job, LoggedModel
from apps.jobs.selectors import job_artifacts_root
from tests.conftest import client_for
from tests.jobs.test_runner_support import make_job

pytestmark = pytest.mark.django_db

MLMODEL = b"""artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.2
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.2
mlflow_version: 3.17.2
model_uuid: 0b1c
signature:
  inputs: '[{"type": "double", "name": "sepal_length", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
"""


def url(job) -> str:
    return f"/w/churn/jobs/{job.name}/register-model/"


@pytest.fixture
def trained(workspace, owner):
    """A Completed job whose run artifacts hold an MLflow model at outputs/model and a log."""
    job = make_job(
        workspace,
        owner,
        {"outputs": {"scores": {"type": "uri_folder", "mode": "upload"}}},
        name="iris-train",
        status=Job.Status.COMPLETED,
    )
    root = job_artifacts_root(job)
    for rel, body in [
        ("outputs/model/MLmodel", MLMODEL),
        ("outputs/model/model.pkl", b"pickle"),
        ("user_logs/std_log.txt", b"hello\n"),
    ]:
        artifacts.put_stream(workspace, f"{root}/{rel}", io.BytesIO(body))
    return job


def test_the_job_page_links_to_the_register_form_for_a_contributor_and_greys_it_for_a_reader(
    trained, contributor, reader
):
    page = client_for(contributor).get(f"/w/churn/jobs/{trained.name}/").content.decode()
    assert f'href="{url(trained)}"' in page
    page = client_for(reader).get(f"/w/churn/jobs/{trained.name}/").content.decode()
    assert f'href="{url(trained)}"' not in page
    assert "cannot register models" in page


def test_the_form_offers_the_mlflow_model_in_the_artifacts_first_then_outputs(trained, owner):
    response = client_for(owner).get(url(trained))
    assert response.status_code == 200
    choices = [value for value, _ in response.context["form"].fields["output"].choices]
    assert choices == ["outputs/model", "scores", "artifacts"]
    assert response.context["form"]["output"].value() == "outputs/model"
    assert response.context["form"]["name"].value() == "Default-model"


def test_registering_the_mlflow_model_makes_an_mlflow_model_version_linked_to_the_job(
    trained, contributor
):
    response = client_for(contributor).post(
        url(trained), {"output": "outputs/model", "name": "iris", "type": ""}
    )
    assert response.status_code == 302
    row = ModelVersion.objects.get(name="iris")
    assert response["Location"] == f"/w/churn/models/iris/versions/{row.version}/"
    assert row.version == "1" and row.type == ModelVersion.Type.MLFLOW
    assert set(row.flavors) == {"python_function", "sklearn"}
    assert row.created_by_job_id == trained.pk and row.run_id == trained.run_id
    assert row.file_count == 2
    detail = client_for(contributor).get(response["Location"])
    assert detail.status_code == 200 and b"sklearn" in detail.content


def test_a_path_typed_in_overrides_the_choice_and_a_second_registration_is_version_two(
    trained, owner
):
    client = client_for(owner)
    for _ in range(2):
        response = client.post(
            url(trained),
            {
                "output": "artifacts",
                "path": "outputs/model",
                "name": "iris",
                "type": "custom_model",
            },
        )
        assert response.status_code == 302
    rows = ModelVersion.objects.filter(name="iris").order_by("version")
    assert [(r.version, r.type) for r in rows] == [("1", "custom_model"), ("2", "custom_model")]


def test_a_logged_model_of_the_run_is_offered_and_registers(trained, owner, workspace):
    model_id = f"m-{uuid.uuid4().hex}"
    LoggedModel.objects.create(
        model_id=model_id,
        experiment=trained.experiment,
        source_job=trained,
        name="model",
        status=LoggedModel.Status.READY,
    )
    rel = f"{trained.experiment_id}/models/{model_id}/artifacts"
    artifacts.put_stream(workspace, f"{rel}/MLmodel", io.BytesIO(MLMODEL))
    client = client_for(owner)
    choices = client.get(url(trained)).context["form"].fields["output"].choices
    assert (f"models:/{model_id}", f"Logged model 'model' ({model_id})") in choices
    response = client.post(url(trained), {"output": f"models:/{model_id}", "name": "logged"})
    assert response.status_code == 302
    row = ModelVersion.objects.get(name="logged")
    assert row.type == ModelVersion.Type.MLFLOW and row.logged_model_id == model_id


def test_an_mlflow_type_where_there_is_no_mlmodel_names_the_output_and_registers_nothing(
    trained, owner
):
    response = client_for(owner).post(
        url(trained),
        {"output": "artifacts", "path": "user_logs", "name": "x", "type": "mlflow_model"},
    )
    assert response.status_code == 422
    assert "MLmodel" in " ".join(response.context["form"].errors["path"])
    assert not ModelVersion.objects.exists()


def test_an_output_that_is_not_offered_and_a_bad_name_are_form_errors(trained, owner):
    client = client_for(owner)
    response = client.post(url(trained), {"output": "../../etc", "name": "iris"})
    assert response.status_code == 422 and "output" in response.context["form"].errors
    response = client.post(url(trained), {"output": "outputs/model", "name": "-bad name"})
    assert response.status_code == 422
    assert "not a valid name" in " ".join(response.context["form"].errors["name"])
    assert not ModelVersion.objects.exists()


def test_a_job_of_another_workspace_or_a_missing_job_is_404(owner, outsider):
    assert client_for(owner).get("/w/churn/jobs/nope/register-model/").status_code == 404
    assert client_for(outsider).get("/w/churn/jobs/nope/register-model/").status_code == 404
