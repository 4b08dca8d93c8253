"""`studio job create --file job.yml`: the real CLI against a live studio. Paths resolve
against the YAML's folder, code and local data are uploaded only once the document is
valid, and the studio's field errors come back at the YAML's lines."""

from __future__ import annotations

import textwrap

import pytest

from apps.assets.models import CodeSnapshot
from apps.jobs.models import Experiment, Job
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from tests.cli.conftest import error_line
from tests.jobs.test_submit_fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: src
command: >-
  python train.py --data ${{inputs.iris}} --epochs ${{inputs.epochs}}
  --out ${{outputs.model}}
inputs:
  iris:
    type: uri_file
    path: ./data/iris.csv
  epochs: 10
outputs:
  model:
environment: azureml:sklearn:1
display_name: from the cli
"""


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text("print('train')\n")
    (root / "src" / ".amlignore").write_text("*.tmp\n")
    (root / "src" / "scratch.tmp").write_text("not in the snapshot\n")
    (root / "data").mkdir()
    (root / "data" / "iris.csv").write_text("a,b\n1,2\n")
    (root / "job.yml").write_text(JOB)
    return root


def _write(project, text: str) -> str:
    path = project / "job.yml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_a_job_is_created_with_its_code_and_local_data_uploaded_relative_to_the_yaml(
    studio, owner, workspace, environment, enqueued, project, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # not the YAML's folder: paths follow the file
    result = studio(
        "job",
        "create",
        "-w",
        "churn",
        "--file",
        str(project / "job.yml"),
        "--set",
        "inputs.epochs=20",
        "-o",
        "json",
        user=owner,
    )
    assert result.exit_code == 0, result.output
    job = Job.objects.get()
    assert job.display_name == "from the cli"
    assert job.experiment.name == "src"  # the code folder's name, as Azure's CLI does
    assert "train.py" in {f["path"] for f in job.code.manifest}
    assert "scratch.tmp" not in {f["path"] for f in job.code.manifest}
    assert job.spec["inputs"]["epochs"] == {"kind": "literal", "value": "20"}
    uri = job.spec["inputs"]["iris"]["uri"]
    assert uri.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert uri.endswith("/iris.csv")
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    _, rel = storage.resolve_datastore_uri(workspace, uri)
    with store.open_read(rel) as fh:
        assert fh.read() == b"a,b\n1,2\n"
    assert job.name in result.output
    assert job.spec["yaml"]["inputs"]["iris"]["path"] == uri


def test_an_unknown_key_is_reported_at_its_line_and_nothing_is_uploaded(
    studio, owner, workspace, environment, enqueued, project
):
    path = _write(
        project,
        """\
        code: src
        command: echo hi
        environment: azureml:sklearn:1
        inputs:
          iris:
            type: uri_file
            pth: ./data/iris.csv
        """,
    )
    result = studio("job", "create", "-w", "churn", "-f", path, user=owner)
    assert result.exit_code == 2
    line = error_line(result)
    assert f"{path}:7: inputs.iris.pth: unknown key" in line
    assert not Job.objects.exists() and not CodeSnapshot.objects.exists()
    assert not Experiment.objects.filter(name="src").exists()


def test_an_undeclared_input_in_the_command_names_the_command_line(
    studio, owner, workspace, environment, enqueued, project
):
    path = _write(
        project,
        """\
        environment: azureml:sklearn:1
        command: python x.py ${{inputs.missing}}
        """,
    )
    result = studio("job", "create", "-w", "churn", "-f", path, user=owner)
    assert result.exit_code == 2
    assert f"{path}:2: command:" in error_line(result)
    assert "inputs.missing" in error_line(result)
    assert not Job.objects.exists()


def test_a_missing_local_input_is_reported_at_its_line_before_anything_is_sent(
    studio, owner, workspace, environment, enqueued, project
):
    path = _write(
        project,
        """\
        environment: azureml:sklearn:1
        command: cat ${{inputs.d}}
        inputs:
          d:
            path: ./nowhere.csv
        """,
    )
    result = studio("job", "create", "-w", "churn", "-f", path, user=owner)
    assert result.exit_code == 2
    assert f"{path}:5: inputs.d.path: './nowhere.csv' does not exist" in error_line(result)


def test_an_error_in_a_set_is_reported_at_the_set(
    studio, owner, workspace, environment, enqueued, project
):
    result = studio(
        "job",
        "create",
        "-w",
        "churn",
        "-f",
        str(project / "job.yml"),
        "--set",
        "compute=azureml:gpu-cluster",
        user=owner,
    )
    assert result.exit_code == 2
    line = error_line(result)
    assert "--set compute=azureml:gpu-cluster: compute: no compute named 'gpu-cluster'" in line
    assert not Job.objects.exists() and not CodeSnapshot.objects.exists()


def test_a_reader_is_refused_without_an_upload(studio, reader, workspace, environment, project):
    result = studio("job", "create", "-w", "churn", "-f", str(project / "job.yml"), user=reader)
    assert result.exit_code == 1
    assert "not allowed" in error_line(result)
    assert not CodeSnapshot.objects.exists()
