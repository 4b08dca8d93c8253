"""A draft as pipeline YAML: export then import gives the same graph; a bad YAML is refused
whole with the exact reason (and line); submit turns the draft into a pipeline job through
the pipelines service, and a second submit reuses every step; a run clones back to a draft."""

from __future__ import annotations

import pytest
import yaml

from apps.designer import drafts, pipeline_yaml
from apps.designer.models import Draft
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from studio.errors import ValidationError
from tests.designer.fixtures import *  # noqa: F403 (fixtures)
from tests.designer.fixtures import chain

pytestmark = pytest.mark.django_db
S = Job.Status


def test_export_then_import_gives_the_same_graph(owner, workspace, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    d = drafts.node_set(actor=owner, draft=d, node="train", params={"epochs": 7}, compute="gpu")
    d = drafts.draft_set_settings(
        actor=owner, draft=d, settings={"default_compute": "cpu-cluster", "force_rerun": True}
    )
    text = pipeline_yaml.draft_export(actor=owner, draft=d)
    doc = yaml.safe_load(text)
    assert doc["jobs"]["train"]["inputs"] == {
        "data": "${{parent.jobs.prep.outputs.clean}}", "epochs": 7, "label": "species",
    }  # fmt: skip
    assert doc["inputs"]["iris"] == {"type": "uri_folder", "path": "azureml:iris:3"}
    assert doc["jobs"]["prep"]["inputs"]["raw"] == "${{parent.inputs.iris}}"
    copy = pipeline_yaml.draft_import(actor=owner, workspace=workspace, name="Copy", text=text)
    d.graph["edges"].sort(key=lambda e: e["id"])
    assert copy.graph == d.graph
    again = pipeline_yaml.draft_export(actor=owner, draft=copy)
    assert again == text.replace("display_name: My pipeline", "display_name: Copy")


def test_importing_plain_pipeline_yaml_lays_it_out(owner, workspace, comps, dataset):
    text = """
type: pipeline
inputs:
  raw: {type: uri_folder, path: azureml:iris:3}
  epochs: 9
jobs:
  clean: {component: azureml:prep@latest, inputs: {raw: "${{parent.inputs.raw}}"}}
  fit:
    component: azureml:train:1
    inputs: {data: "${{parent.jobs.clean.outputs.clean}}", epochs: "${{parent.inputs.epochs}}",
             label: y}
"""
    d = pipeline_yaml.draft_import(actor=owner, workspace=workspace, name="Plain", text=text)
    nodes = d.graph["nodes"]
    assert nodes["fit"]["params"] == {"epochs": 9, "label": "y"}
    assert nodes["raw"]["kind"] == "data" and nodes["raw"]["x"] < nodes["clean"]["x"]
    assert nodes["clean"]["x"] < nodes["fit"]["x"]


BASE = """type: pipeline
jobs:
  a:
    component: azureml:prep:1
  b:
    component: azureml:train:1
    inputs:
      data: ${{parent.jobs.a.outputs.clean}}
      label: y
"""
CYCLE = """type: pipeline
jobs:
  a:
    component: azureml:prep:1
    inputs: {raw: "${{parent.jobs.b.outputs.clean}}"}
  b:
    component: azureml:prep:1
    inputs: {raw: "${{parent.jobs.a.outputs.clean}}"}
"""


@pytest.mark.parametrize(
    "bad,reason",
    [
        (BASE.replace("azureml:prep:1", "azureml:nope:1"),
         "line 4: jobs.a.component: no component named 'nope' in this workspace."),
        (BASE.replace("outputs.clean", "outputs.cleaned"),
         "line 8: jobs.b.inputs.data: step 'a' has no output 'cleaned' (its outputs: clean)."),
        (BASE.replace("label: y", "label: y\n      epochs: 1000"),
         "line 10: jobs.b.inputs.epochs: 1000 is above the maximum, 100."),
        (CYCLE, "line 8: jobs.b.inputs.raw: it would make a cycle: b → a → b."),
        (BASE.replace("outputs.clean", "outputs.clean}}x"),
         "line 8: jobs.b.inputs.data: '${{parent.jobs.a.outputs.clean}}x}}' is not a binding"),
        ("type: command\n", "line 1: type: is 'command': only pipeline jobs can be drafts."),
        ("jobs: [", "yaml: line "),
    ],
)  # fmt: skip
def test_a_bad_yaml_is_refused_with_the_exact_reason_and_nothing_is_saved(
    owner, workspace, comps, bad, reason
):
    with pytest.raises(ValidationError) as caught:
        pipeline_yaml.draft_import(actor=owner, workspace=workspace, name="Bad", text=bad)
    assert caught.value.message.startswith(reason), caught.value.message
    assert not Draft.objects.filter(name="Bad").exists()


def test_a_failed_import_into_a_draft_keeps_the_draft(owner, workspace, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    with pytest.raises(ValidationError):
        pipeline_yaml.draft_import(
            actor=owner, workspace=workspace, name="", text="jobs: {x: {command: ls}}", draft=d
        )
    assert Draft.objects.get(pk=d.pk).graph == d.graph


@pytest.fixture
def sent(monkeypatch):
    names: list[str] = []
    monkeypatch.setattr(lifecycle, "_send", lambda job: names.append(job.name))
    return names


def test_submit_refuses_an_incomplete_draft_and_keeps_it(owner, draft, comps, cluster):
    d = drafts.node_add(actor=owner, draft=draft, kind="component", ref="azureml:train:1")
    with pytest.raises(ValidationError) as caught:
        pipeline_yaml.draft_submit(actor=owner, draft=d, compute="cpu-cluster")
    assert "jobs.train.inputs.data" in caught.value.fields
    assert Draft.objects.get(pk=d.pk).revision == d.revision
    assert not Job.objects.exists()


def test_submit_makes_a_pipeline_job_and_a_second_submit_reuses_every_step(
    owner, draft, comps, dataset, cluster, sent, django_capture_on_commit_callbacks
):
    d = chain(owner, draft, comps, dataset)
    with django_capture_on_commit_callbacks(execute=True):
        job = pipeline_yaml.draft_submit(
            actor=owner, draft=d, compute="cpu-cluster", experiment="designer"
        )
    assert job.type == Job.Type.PIPELINE and job.experiment.name == "designer"
    assert Draft.objects.get(pk=d.pk).last_job == job
    steps = {c.spec["step"]: c for c in Job.objects.filter(parent=job)}
    assert sorted(steps) == ["prep", "score", "train"]
    for name in ("prep", "train", "score"):
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.transition(steps[name].pk, S.RUNNING, from_=(S.QUEUED,))
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.transition(steps[name].pk, S.COMPLETED, from_=(S.RUNNING,))
    job.refresh_from_db()
    assert job.status == S.COMPLETED
    d = Draft.objects.get(pk=d.pk)
    with django_capture_on_commit_callbacks(execute=True):
        again = pipeline_yaml.draft_submit(actor=owner, draft=d)
    again.refresh_from_db()
    assert again.status == S.COMPLETED
    assert all(c.tags.get("reused_from") for c in Job.objects.filter(parent=again))
    clone = pipeline_yaml.draft_clone(actor=owner, workspace=d.workspace, job=again)
    assert clone.graph["nodes"] == d.graph["nodes"]
    assert sorted(e["id"] for e in clone.graph["edges"]) == sorted(
        e["id"] for e in d.graph["edges"]
    )
