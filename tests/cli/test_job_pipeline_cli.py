"""`studio job create --file pipeline.yml`: component files (and nested pipeline component
files) are read relative to the file that names them and sent inline, each component's code
folder relative to its own file is uploaded, local pipeline data is uploaded, and an error
inside a component file is reported at that file's line with nothing uploaded."""

from __future__ import annotations

import pytest

from apps.assets.models import CodeSnapshot
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from tests.cli.conftest import error_line
from tests.jobs.test_submit_fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

PIPELINE = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: cli-pipes
inputs:
  raw:
    type: uri_folder
    path: ./data
settings:
  default_compute: serverless
jobs:
  prep:
    component: ./components/prep.yml
    inputs:
      src: ${{parent.inputs.raw}}
  sub:
    type: pipeline
    component: file:./nested/pipe.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
"""
PREP = """\
name: prep
command: cp -r ${{inputs.src}} ${{outputs.clean}} && python prep.py
code: ./src
environment: azureml:sklearn:1
inputs:
  src:
    type: uri_folder
outputs:
  clean:
    type: uri_folder
"""
NESTED = """\
type: pipeline
inputs:
  data:
    type: uri_folder
jobs:
  fit:
    component: ./fit.yml
    inputs:
      data: ${{parent.inputs.data}}
"""
FIT = """\
name: fit
command: python fit.py ${{inputs.data}} --epochs ${{inputs.epochs}}
code: ../fitcode
environment: azureml:sklearn:1
inputs:
  data:
    type: uri_folder
  epochs:
    type: integer
    default: 3
"""


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    files = {
        "pipeline.yml": PIPELINE,
        "components/prep.yml": PREP,
        "components/src/prep.py": "print('prep')\n",
        "nested/pipe.yml": NESTED,
        "nested/fit.yml": FIT,
        "fitcode/fit.py": "print('fit')\n",
        "data/part-0.csv": "a\n1\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def sent(monkeypatch):
    names: list[str] = []
    monkeypatch.setattr(lifecycle, "_send", lambda job: names.append(job.name))
    return names


def test_a_pipeline_with_component_files_is_created_with_each_components_code(
    studio, owner, workspace, environment, project, sent, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    path = str(project / "pipeline.yml")
    result = studio(
        "job", "create", "-w", "churn", "-f", path, "-n", "clip", "-o", "json", user=owner
    )
    assert result.exit_code == 0, result.output
    pipeline = Job.objects.get(name="clip")
    assert pipeline.type == Job.Type.PIPELINE
    steps = {c.spec["step"]: c for c in pipeline.children.all()}
    assert set(steps) == {"prep", "sub.fit"}
    assert {f["path"] for f in steps["prep"].code.manifest} == {"prep.py"}
    assert {f["path"] for f in steps["sub.fit"].code.manifest} == {"fit.py"}
    src = steps["prep"].spec["inputs"]["src"]["uri"]
    assert "/paths/LocalUpload/" in src and src.rstrip("/").endswith("/data")
    assert steps["sub.fit"].spec["inputs"]["data"]["bind"] == {"step": "prep", "output": "clean"}
    assert sent == ["clip-prep"]


def test_an_error_in_a_component_file_is_reported_at_its_line_and_nothing_is_uploaded(
    studio, owner, workspace, environment, project, sent
):
    fit = project / "nested" / "fit.yml"
    fit.write_text(FIT.replace("    default: 3\n", "    default: 3\n    maxx: 9\n"))
    result = studio("job", "create", "-w", "churn", "-f", str(project / "pipeline.yml"), user=owner)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert f"{fit}:" in line and "maxx" in line, line
    assert not Job.objects.exists() and not CodeSnapshot.objects.exists()


def test_a_missing_component_file_is_reported_at_the_pipelines_line(
    studio, owner, workspace, environment, project, sent
):
    pipe = project / "pipeline.yml"
    pipe.write_text(PIPELINE.replace("./components/prep.yml", "./components/nope.yml"))
    result = studio("job", "create", "-w", "churn", "-f", str(pipe), user=owner)
    assert result.exit_code != 0
    assert f"{pipe}:12:" in error_line(result)
    assert not Job.objects.exists()
