# ruff: noqa: F811 - fixtures imported from the support modules
"""A registered pipeline component used as a step of a pipeline job, on real containers: its
steps run flattened (`use.prep`, `use.fit`), the component's input reaches its inner step,
the inner step's output is read by a step after it, and the pipeline ends Completed.

As in test_pipeline_docker.py, the Celery hand-off is the unit boundary: each queued step
runs in a thread of this process, as a worker would run `jobs.run`."""

from __future__ import annotations

import pytest

from apps.assets.models import AssetUse
from apps.assets.services.components import component_create_from_yaml
from apps.jobs.models import Job
from apps.jobs.services.submit import job_submit
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from tests.jobs.test_pipeline_docker import wait_for_end, workers  # noqa: F401
from tests.jobs.test_runner_support import docker_runner, docker_status, job_dir  # noqa: F401
from tests.jobs.test_submit_fixtures import environment  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

PIPELINE_COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
type: pipeline
name: greet_twice
inputs:
  word:
    type: string
    default: hello
outputs:
  text:
    type: uri_folder
jobs:
  prep:
    component:
      name: say
      command: echo ${{inputs.word}} > ${{outputs.out}}/word.txt
      environment: azureml:sklearn@latest
      inputs:
        word: {type: string}
      outputs:
        out: {type: uri_folder}
    inputs:
      word: ${{parent.inputs.word}}
  fit:
    component:
      name: double
      command: cat ${{inputs.src}}/word.txt ${{inputs.src}}/word.txt > ${{outputs.twice}}/twice.txt
      environment: azureml:sklearn@latest
      inputs:
        src: {type: uri_folder}
      outputs:
        twice: {type: uri_folder}
    inputs:
      src: ${{parent.jobs.prep.outputs.out}}
    outputs:
      twice: ${{parent.outputs.text}}
"""


def test_a_pipeline_job_using_a_registered_pipeline_component_runs_to_completed(
    workers, workspace, owner, environment
):
    component = component_create_from_yaml(
        actor=owner, workspace=workspace, text=PIPELINE_COMPONENT, source="greet.yml"
    )
    doc = {
        "type": "pipeline",
        "name": "pcrun",
        "jobs": {
            "use": {
                "type": "pipeline",
                "component": "azureml:greet_twice@latest",
                "inputs": {"word": "bonjour"},
            },
            "shout": {
                "command": "tr a-z A-Z < ${{inputs.t}}/twice.txt > ${{outputs.loud}}/loud.txt",
                "environment": "azureml:sklearn:1",
                "inputs": {"t": "${{parent.jobs.use.outputs.text}}"},
                "outputs": {"loud": {"type": "uri_folder"}},
            },
        },
    }
    pipeline = wait_for_end(job_submit(actor=owner, workspace=workspace, document=doc))
    steps = {c.spec["step"]: c for c in pipeline.children.all()}
    assert pipeline.status == Job.Status.COMPLETED, {
        k: (c.status, c.error) for k, c in steps.items()
    }
    assert set(steps) == {"use.prep", "use.fit", "shout"}
    assert workers == ["pcrun-use-prep", "pcrun-use-fit", "pcrun-shout"]
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    with store.open_read("azureml/pcrun-shout/loud/loud.txt") as fh:
        assert fh.read().decode().split() == ["BONJOUR", "BONJOUR"]
    used = AssetUse.objects.get(asset_id=component.asset_id)
    assert used.job.name == "pcrun" and used.version == component.version
