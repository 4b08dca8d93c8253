"""`studio model create/download` against a live studio: local folders uploaded, errors at
the YAML's lines, zips unpacked."""

from __future__ import annotations

import pytest

from apps.assets.models import ModelVersion
from tests.cli.conftest import error_line

pytestmark = pytest.mark.django_db(transaction=True)

MLMODEL = "flavors:\n  python_function: {loader_module: mlflow.sklearn}\n"


def test_create_from_yaml_uploads_a_local_folder_and_download_unpacks_it(
    studio, owner, workspace, tmp_path
):
    folder = tmp_path / "src" / "model"
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text(MLMODEL)
    (folder / "model.pkl").write_bytes(b"weights")
    (tmp_path / "src" / "model.yml").write_text(
        "name: clf\nversion: 3\ntype: mlflow_model\npath: ./model\ntags:\n  team: ml\n"
    )
    created = studio(
        "model",
        "create",
        "-w",
        "churn",
        "-f",
        str(tmp_path / "src" / "model.yml"),
        "-o",
        "json",
        user=owner,
    )
    assert created.exit_code == 0, created.output
    row = ModelVersion.objects.get(name="clf", version="3")
    assert row.type == "mlflow_model" and row.file_count == 2 and row.tags == {"team": "ml"}
    assert "python_function" in row.flavors

    out = tmp_path / "dl"
    done = studio("model", "download", "-w", "churn", "-n", "clf", "-p", str(out), user=owner)
    assert done.exit_code == 0, done.output
    assert (out / "clf" / "model.pkl").read_bytes() == b"weights"
    assert (out / "clf" / "MLmodel").read_text() == MLMODEL


def test_an_mlflow_model_without_mlmodel_names_the_path_line(studio, owner, workspace, tmp_path):
    (tmp_path / "w.bin").write_bytes(b"1")
    (tmp_path / "m.yml").write_text("name: clf\ntype: mlflow_model\npath: w.bin\n")
    result = studio("model", "create", "-w", "churn", "-f", str(tmp_path / "m.yml"), user=owner)
    assert result.exit_code != 0
    line = error_line(result)
    assert "m.yml:3" in line and "MLmodel" in line
    assert not ModelVersion.objects.exists()
