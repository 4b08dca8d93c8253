"""Registering the Designer's built-in components and sample datasets in a workspace: on
creation (a task queued after commit), by the management command, idempotently."""

from __future__ import annotations

import io
import shutil
from types import SimpleNamespace

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from apps.assets.models import Asset, ComponentVersion, DataVersion
from apps.assets.services import code as code_services
from apps.designer import builtins, tasks
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from apps.workspaces.services import workspace_create

pytestmark = pytest.mark.django_db

NAMES = {
    "select_columns_in_dataset", "clean_missing_data", "split_data", "normalize_data",
    "two_class_logistic_regression", "two_class_boosted_decision_tree",
    "decision_forest_regression", "linear_regression", "train_model", "score_model",
    "evaluate_model", "execute_python_script",
}  # fmt: skip


def test_every_builtin_component_is_registered_with_its_code_and_the_curated_sklearn_env(
    workspace,
):
    rows = builtins.builtin_components_ensure(workspace=workspace)
    assert {r.name for r in rows} == NAMES
    for row in rows:
        assert row.is_builtin and row.version == "1" and row.created_by is None
        assert row.environment.name == "AzureML-sklearn-1.5" and row.environment.is_curated
        assert row.tags["builtin"] == "true" and row.tags["category"]
        assert row.spec["code"] == str(row.code_id)
    train = next(r for r in rows if r.name == "train_model")
    files = {f["path"] for f in train.code.manifest}
    assert files == {"component.yml", "train_model.py", "designer_io.py", "learners.py"}
    assert train.display_name == "Train Model"
    assert train.inputs["label_column"] == {"type": "string", "optional": False,
                                            "description": "The column to predict."}  # fmt: skip
    assert train.outputs["trained_model"]["type"] == "mlflow_model"
    split = next(r for r in rows if r.name == "split_data")
    assert (
        split.inputs["fraction"]["default"] == 0.7 and split.inputs["stratify_column"]["optional"]
    )
    source = code_services.snapshot_read(actor=workspace.created_by, snapshot=split.code,
                                         path="split_data.py")  # fmt: skip
    assert source == (builtins.BUILTIN_ROOT / "split_data" / "split_data.py").read_bytes()


def test_ensuring_again_writes_nothing_and_a_changed_script_gives_the_next_version(
    workspace, tmp_path, monkeypatch
):
    first = {r.name: r.pk for r in builtins.builtin_components_ensure(workspace=workspace)}
    again = {r.name: r.pk for r in builtins.builtin_components_ensure(workspace=workspace)}
    assert again == first and ComponentVersion.objects.filter(workspace=workspace).count() == 12

    copy = tmp_path / "builtin"
    shutil.copytree(builtins.BUILTIN_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = copy / "split_data" / "split_data.py"
    script.write_text(script.read_text() + "\n# a fix\n")
    monkeypatch.setattr(builtins, "BUILTIN_ROOT", copy)
    rows = {r.name: r for r in builtins.builtin_components_ensure(workspace=workspace)}
    assert rows["split_data"].version == "2" and rows["split_data"].pk != first["split_data"]
    assert all(r.pk == first[n] for n, r in rows.items() if n != "split_data")
    asset = Asset.objects.get(workspace=workspace, kind="component", name="split_data")
    assert (asset.latest_version, asset.version_count) == ("2", 2)


def test_sample_datasets_are_written_to_the_default_datastore_as_mltable_assets(workspace):
    rows = builtins.sample_datasets_ensure(workspace=workspace)
    assert [r.name for r in rows] == [
        "sample-iris", "sample-wine", "sample-breast-cancer", "sample-diabetes"
    ]  # fmt: skip
    iris = rows[0]
    assert iris.type == DataVersion.Type.MLTABLE and iris.version == "1"
    assert iris.path == "azureml://datastores/workspaceblobstore/paths/samples/sample-iris/1"
    assert iris.tags == {"sample": "true", "label_column": "target", "task": "classification"}
    assert "data.csv" in iris.mltable and iris.file_count == 2
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    with store.open_read("samples/sample-breast-cancer/1/data.csv") as fh:
        frame = pd.read_csv(io.BytesIO(fh.read()))
    assert frame.shape == (569, 31) and frame["target"].sum() == 357  # benign
    assert "mean_radius" in frame.columns
    again = builtins.sample_datasets_ensure(workspace=workspace)
    assert [r.pk for r in again] == [r.pk for r in rows]
    assert DataVersion.objects.filter(workspace=workspace).count() == 4


def test_creating_a_workspace_queues_the_builtins_once_committed(
    owner, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[str] = []
    monkeypatch.setattr(tasks, "ensure_builtins", SimpleNamespace(delay=queued.append))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ws = workspace_create(actor=owner, name="fresh")
    assert queued == []
    for callback in callbacks:
        callback()
    assert queued == [str(ws.pk)]


def test_a_broker_that_does_not_answer_does_not_fail_the_workspace_creation(
    owner, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(workspace_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks, "ensure_builtins", SimpleNamespace(delay=refuse))
    with django_capture_on_commit_callbacks(execute=True):
        ws = workspace_create(actor=owner, name="offline")
    assert ws.pk is not None


def test_the_task_registers_components_and_sample_datasets(workspace):
    tasks.ensure_builtins(str(workspace.pk))
    assert ComponentVersion.objects.filter(workspace=workspace, is_builtin=True).count() == 12
    assert DataVersion.objects.filter(workspace=workspace, name__startswith="sample-").count() == 4


def test_the_management_command_ensures_a_named_workspace_and_refuses_an_unknown_one(workspace):
    out = io.StringIO()
    call_command("ensure_builtins", "--workspace", "churn", stdout=out)
    text = out.getvalue()
    assert text.startswith("churn: components ") and "train_model:1" in text
    assert "sample-diabetes:1" in text
    out = io.StringIO()
    call_command("ensure_builtins", "--workspace", "churn", stdout=out)
    assert ComponentVersion.objects.filter(workspace=workspace).count() == 12
    with pytest.raises(CommandError, match="No workspace named 'nope'"):
        call_command("ensure_builtins", "--workspace", "nope")


def test_a_reader_sees_the_builtins_and_samples_through_the_api_and_the_code_tab(workspace, reader):
    from tests.conftest import api_client_for, client_for

    builtins.builtins_ensure(workspace=workspace)
    api = api_client_for(reader)
    shown = api.get("/api/v1/workspaces/churn/components/evaluate_model/versions/1/").json()
    assert shown["is_builtin"] is True and shown["environment"].startswith("azureml:AzureML-sk")
    assert shown["outputs"]["evaluation_results"]["type"] == "uri_folder"
    data = api.get("/api/v1/workspaces/churn/data/sample-wine/versions/1/").json()
    assert data["type"] == "mltable"
    page = client_for(reader).get("/w/churn/components/evaluate_model/versions/1/")
    assert page.status_code == 200 and b"Evaluate Model" in page.content
