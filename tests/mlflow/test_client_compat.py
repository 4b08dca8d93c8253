"""The stock MLflow 3.x client, unchanged, against a live studio: every tracking operation
of mlflow-rest.md §1.3 except the model registry. Each script runs in its own process."""

from __future__ import annotations

import pytest

from apps.jobs.models import (
    DatasetInput,
    Experiment,
    Job,
    JobModelInput,
    JobParam,
    JobStatusChange,
    LatestMetric,
    LoggedModel,
    MetricSample,
)

from .conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_stock_client_tracks_a_run_with_artifacts_and_a_logged_model(run_client, owner, workspace):
    seen = run_client("full_flow.py", token=token_for(owner))

    run_id = seen["run_id"]
    job = Job.objects.get(pk=run_id)
    assert job.workspace == workspace and job.type == Job.Type.RUN
    assert job.display_name == "first try" == seen["run_name"]
    assert job.created_by == owner and job.status == Job.Status.COMPLETED
    assert job.compute is None and job.spec == {}
    assert list(JobStatusChange.objects.filter(job=job).values_list("status", flat=True)) == [
        Job.Status.RUNNING,
        Job.Status.COMPLETED,
    ]
    assert seen["status"] == "FINISHED"
    assert seen["artifact_uri"] == f"mlflow-artifacts:/{seen['experiment_id']}/{run_id}/artifacts"
    assert seen["params"] == {"lr": "0.1", "a": "1", "b": "x"}
    assert seen["metrics"] == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
    assert seen["tags"] == {"stage": "dev", "team": "ml", "owner": "alice"}
    assert seen["root"] == ["cfg", "dicts", "docs", "texts"]
    assert seen["sub"] == ["cfg/a.yaml", "cfg/b.yaml"]
    assert seen["downloaded"] == "hello"
    assert seen["downloaded_dir"] == ["a.yaml", "b.yaml"]
    assert seen["same_predictions"] is True
    assert seen["found"] == [run_id] and seen["none_found"] == 0
    assert seen["history"] == [[s, 1.0 / (s + 1)] for s in range(5)]
    assert "churn-exp" in seen["experiments"] and "Default" in seen["experiments"]
    assert seen["outputs"] == [seen["model_id"]]
    assert seen["logged_status"] == "READY"

    model = LoggedModel.objects.get(pk=seen["model_id"])
    assert model.source_job == job and model.name == "model"
    assert model.status == LoggedModel.Status.READY
    assert Experiment.objects.get(pk=seen["experiment_id"]).name == "churn-exp"
    assert MetricSample.objects.filter(job=job, key="loss").count() == 5
    store = workspace_artifacts(workspace)
    assert (store / seen["experiment_id"] / run_id / "artifacts/docs/notes.txt").read_text() == (
        "hello"
    )
    model_dir = store / seen["experiment_id"] / "models" / seen["model_id"] / "artifacts"
    assert (model_dir / "MLmodel").is_file()


def workspace_artifacts(workspace):
    from django.conf import settings

    return settings.STUDIO_HOME / "workspaces" / str(workspace.id) / "workspaceartifactstore"


def test_stock_client_autolog_records_params_metrics_model_and_inputs(
    run_client, data_scientist, workspace, client
):
    seen = run_client("autolog.py", token=token_for(data_scientist))

    job = Job.objects.get(pk=seen["run_id"])
    assert job.created_by == data_scientist and job.status == Job.Status.COMPLETED
    assert JobParam.objects.filter(job=job, key="max_iter", value="50").exists()
    assert LatestMetric.objects.filter(job=job, key="training_score").exists()
    model = LoggedModel.objects.get(source_job=job)
    assert model.status == LoggedModel.Status.READY
    assert MetricSample.objects.filter(job=job, model_id=model.model_id).exists()
    assert job.model_outputs.filter(logged_model=model).exists()
    dataset = DatasetInput.objects.get(job=job)
    assert dataset.tags == {"mlflow.data.context": "train"}

    evaluation = Job.objects.get(pk=seen["evaluation_id"])
    assert seen["model_inputs"] == [model.model_id]
    assert list(JobModelInput.objects.filter(job=evaluation).values_list("logged_model", flat=True)) == [model.model_id]  # fmt: skip
    assert MetricSample.objects.filter(job=evaluation, model_id=model.model_id).count() == 2

    client.force_login(data_scientist)
    trained = client.get(f"/w/{workspace.name}/jobs/{job.name}/").content.decode()
    card = trained[trained.index('id="mlflow-lineage"') :]
    assert "<td>train</td>" in card and f"<code>{dataset.digest}</code>" in card
    assert f"?output=models:/{model.model_id}" in card and "<td>logged</td>" in card
    used = client.get(f"/w/{workspace.name}/jobs/{evaluation.name}/").content.decode()
    card = used[used.index('id="mlflow-lineage"') :]
    assert "<td>used</td>" in card and f'href="/w/{workspace.name}/jobs/{job.name}/"' in card
    register = client.get(
        f"/w/{workspace.name}/jobs/{job.name}/register-model/?output=models:/{model.model_id}"
    )
    assert f'<option value="models:/{model.model_id}" selected>' in register.content.decode()


def test_a_run_without_an_experiment_lands_in_the_default_experiment(run_client, owner, workspace):
    seen = run_client("default_run.py", token=token_for(owner))

    job = Job.objects.get(pk=seen["run_id"])
    assert job.experiment.name == "Default"
    assert seen["experiment_id"] == str(job.experiment_id)
