# ruff: noqa: F811 - fixtures imported from the support modules
"""A draft holding a registered pipeline component (one node) and a command component after
it, submitted from the Designer and run on real containers: the sub-pipeline's steps run
flattened (`greet.prep`, `greet.fit`), the value set in the node's panel reaches its inner
step, the step after it reads its output, the pipeline ends Completed, and the Designer's
run view shows the flattened steps as separate nodes with their statuses.

As in tests/jobs/test_pipeline_component_run.py, the Celery hand-off is the unit boundary:
each queued step runs in a thread of this process, as a worker would run `jobs.run`."""

from __future__ import annotations

import pytest

from apps.assets.services.components import component_create, component_create_from_yaml
from apps.designer import drafts, pipeline_yaml
from apps.jobs.models import Job
from apps.workspaces import storage
from apps.workspaces.models import Compute, Datastore
from tests.conftest import client_for
from tests.jobs.test_pipeline_component_run import PIPELINE_COMPONENT
from tests.jobs.test_pipeline_docker import wait_for_end, workers  # noqa: F401
from tests.jobs.test_runner_support import docker_runner, docker_status, job_dir  # noqa: F401
from tests.jobs.test_submit_fixtures import environment  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

SHOUT = {
    "name": "shout", "version": "1", "environment": "azureml:sklearn:1",
    "command": "tr a-z A-Z < ${{inputs.t}}/twice.txt > ${{outputs.loud}}/loud.txt",
    "inputs": {"t": {"type": "uri_folder"}}, "outputs": {"loud": {"type": "uri_folder"}},
}  # fmt: skip


def test_a_draft_with_a_pipeline_component_node_runs_to_completed_in_containers(
    workers, workspace, owner, environment
):
    component_create_from_yaml(
        actor=owner, workspace=workspace, text=PIPELINE_COMPONENT, source="greet.yml"
    )
    component_create(actor=owner, workspace=workspace, data=SHOUT)
    pool = Compute.objects.filter(workspace=workspace, type=Compute.Type.SERVERLESS).first()
    draft = drafts.draft_create(actor=owner, workspace=workspace, name="Greeting")
    d = drafts.node_add(actor=owner, draft=draft, kind="component", ref="azureml:greet_twice:1")
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:shout:1", x=300)
    d = drafts.edge_connect(actor=owner, draft=d, source=["greet_twice", "text"],
                            target=["shout", "t"])  # fmt: skip
    d = drafts.node_set(actor=owner, draft=d, node="greet_twice", params={"word": "bonjour"})
    issues = pipeline_yaml.draft_check(actor=owner, draft=d)
    assert sorted(issues, key=lambda i: i["node"]) == [
        {"node": "greet_twice", "field": "compute",
         "message": "no compute: set the draft's default compute or this node's."},
        {"node": "shout", "field": "compute",
         "message": "no compute: set the draft's default compute or this node's."},
    ]  # fmt: skip
    job = pipeline_yaml.draft_submit(actor=owner, draft=d, compute=pool.name)
    pipeline = wait_for_end(job)
    steps = {c.spec["step"]: c for c in pipeline.children.all()}
    assert pipeline.status == Job.Status.COMPLETED, {
        k: (c.status, c.error) for k, c in steps.items()
    }
    assert set(steps) == {"greet_twice.prep", "greet_twice.fit", "shout"}
    assert workers == [f"{job.name}-greet_twice-prep", f"{job.name}-greet_twice-fit",
                       f"{job.name}-shout"]  # fmt: skip
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    with store.open_read(f"azureml/{job.name}-shout/loud/loud.txt") as fh:
        assert fh.read().decode().split() == ["BONJOUR", "BONJOUR"]
    # The Designer's run view draws the run page's graph: the flattened steps are its nodes.
    client = client_for(owner)
    page = client.get(f"/w/{workspace.name}/designer/{d.pk}/?view=run").content.decode()
    assert f"/w/{workspace.name}/jobs/{job.name}/pipeline/status/" in page
    graph = client.get(f"/w/{workspace.name}/jobs/{job.name}/pipeline/status/").content.decode()
    for path in ("greet_twice.prep", "greet_twice.fit", "shout"):
        assert f'data-step="{path}"' in graph
    assert graph.count("Completed") >= 3
