"""`studio component create --file pipeline_component.yml`: a `type: pipeline` component's
step component files and code folders are read relative to the file that names them, the
code uploaded once the studio has checked the whole document, and errors come back at the
line of the file they are in with nothing stored or uploaded."""

from __future__ import annotations

import pytest

from apps.assets.models import CodeSnapshot, ComponentVersion
from apps.assets.services.components import component_create
from tests.cli.conftest import error_line
from tests.jobs.test_submit_fixtures import environment  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

PIPELINE_COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
type: pipeline
name: prep_and_train
version: 1
inputs:
  raw:
    type: uri_folder
  epochs:
    type: integer
    default: 4
outputs:
  model:
    type: uri_folder
jobs:
  prep:
    component: ./steps/prep.yml
    inputs:
      src: ${{parent.inputs.raw}}
  fit:
    component: azureml:train@latest
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
      epochs: ${{parent.inputs.epochs}}
    outputs:
      model: ${{parent.outputs.model}}
"""
PREP = """\
name: prep
command: python prep.py ${{inputs.src}} ${{outputs.clean}}
code: ./src
environment: azureml:sklearn:1
inputs:
  src:
    type: uri_folder
outputs:
  clean:
    type: uri_folder
"""


@pytest.fixture
def train(owner, workspace, environment):  # noqa: F811
    return component_create(
        actor=owner,
        workspace=workspace,
        data={
            "name": "train",
            "version": "3",
            "command": "python t.py ${{inputs.data}} ${{inputs.epochs}} ${{outputs.model}}",
            "environment": "azureml:sklearn:1",
            "inputs": {"data": {"type": "uri_folder"}, "epochs": {"type": "integer", "max": 9}},
            "outputs": {"model": {"type": "uri_folder"}},
        },
    )


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    files = {
        "pc.yml": PIPELINE_COMPONENT,
        "steps/prep.yml": PREP,
        "steps/src/prep.py": "print('prep')\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_create_reads_step_files_and_code_relative_to_their_files_and_lists_the_type(
    studio, owner, train, project, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # not the project's folder: paths resolve from the files
    result = studio(
        "component", "create", "-w", "churn", "-f", str(project / "pc.yml"), "-o", "json",
        user=owner,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = ComponentVersion.objects.get(name="prep_and_train")
    assert row.type == "pipeline"
    prep = row.spec["jobs"]["prep"]["component"]
    snapshot = CodeSnapshot.objects.get(pk=prep["code"])
    assert [f["path"] for f in snapshot.manifest] == ["prep.py"]
    assert row.spec["jobs"]["fit"]["component"] == "azureml:train:3"
    listed = studio("component", "list", "-w", "churn", user=owner)
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if x.startswith("prep_and_train"))
    assert "pipeline" in line


def test_an_error_in_a_step_file_is_reported_at_its_line_and_nothing_is_uploaded(
    studio, owner, train, project
):
    prep = project / "steps" / "prep.yml"
    prep.write_text(PREP.replace("${{outputs.clean}}", "${{outputs.cleaned}}"))
    result = studio("component", "create", "-w", "churn", "-f", str(project / "pc.yml"), user=owner)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert f"{prep}:2:" in line and "outputs.cleaned" in line, line
    assert not ComponentVersion.objects.filter(type="pipeline").exists()
    assert not CodeSnapshot.objects.exists()


def test_an_error_in_the_pipeline_component_names_its_line(studio, owner, train, project):
    pc = project / "pc.yml"
    pc.write_text(PIPELINE_COMPONENT.replace("    default: 4", "    default: 40"))
    result = studio("component", "create", "-w", "churn", "-f", str(pc), user=owner)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert f"{pc}:23: jobs.fit.inputs.epochs:" in line and "maximum, 9" in line, line
    assert not CodeSnapshot.objects.exists()
