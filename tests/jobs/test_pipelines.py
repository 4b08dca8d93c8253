"""Pipeline jobs: pipelineJob YAML (as JSON) through the jobs API, flattened into child jobs
that start when their inputs exist, reuse earlier identical steps, fail their dependants,
stop or go on by continue_on_step_failure, and cancel together. The runner is replaced by
status transitions here (its queue hand-off is the unit boundary); the container run is in
test_pipeline_docker.py."""

from __future__ import annotations

import pytest

from apps.assets.services.components import component_create
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from apps.jobs.services.pipelines import pipeline_advance
from tests.conftest import api_client_for
from tests.jobs.test_submit_fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db
S = Job.Status
URL = "/api/v1/workspaces/churn/jobs/"


@pytest.fixture
def sent(monkeypatch):
    """Names of the step jobs handed to the queue (the Celery hand-off is patched)."""
    names: list[str] = []
    monkeypatch.setattr(lifecycle, "_send", lambda job, **_: names.append(job.name))
    return names


@pytest.fixture
def train(workspace, owner, environment):
    return component_create(
        actor=owner,
        workspace=workspace,
        data={
            "name": "train",
            "version": "1",
            "command": "python train.py --data ${{inputs.data}} --epochs ${{inputs.epochs}} "
            "--out ${{outputs.model}}",
            "environment": "azureml:sklearn:1",
            "inputs": {
                "data": {"type": "uri_folder"},
                "epochs": {"type": "integer", "default": 5, "min": 1, "max": 100},
            },
            "outputs": {"model": {"type": "uri_folder"}},
        },
    )


def prep_step(name: str = "raw") -> dict:
    return {
        "command": "cp -r ${{inputs.src}} ${{outputs.clean}}",
        "environment": "azureml:sklearn:1",
        "inputs": {
            "src": {
                "type": "uri_folder",
                "path": f"azureml://datastores/workspaceblobstore/paths/{name}/",
            }
        },
        "outputs": {"clean": {"type": "uri_folder"}},
    }


def two_branches(name: str | None = None, **settings) -> dict:
    """prep_a → train_a and prep_b → train_b: two independent branches."""
    doc = {
        "type": "pipeline",
        "experiment_name": "pipes",
        "settings": {"default_compute": "azureml:cpu-cluster", **settings},
        "inputs": {"epochs": 10},
        "jobs": {
            "prep_a": prep_step("a"),
            "prep_b": prep_step("b"),
            "train_a": {
                "component": "azureml:train@latest",
                "inputs": {
                    "data": "${{parent.jobs.prep_a.outputs.clean}}",
                    "epochs": "${{parent.inputs.epochs}}",
                },
            },
            "train_b": {
                "component": "azureml:train:1",
                "inputs": {
                    "data": {"path": "${{parent.jobs.prep_b.outputs.clean}}", "mode": "download"}
                },
                "environment_variables": {"BRANCH": "b"},
                "limits": {"timeout": 60},
            },
        },
    }
    if name:
        doc["name"] = name
    return doc


def submit(owner, doc, capture):
    with capture(execute=True):
        response = api_client_for(owner).post(URL, doc, format="json")
    assert response.status_code == 201, response.json()
    return Job.objects.get(workspace__name="churn", name=response.json()["name"])


def steps(pipeline) -> dict[str, Job]:
    return {c.spec["step"]: c for c in Job.objects.filter(parent=pipeline)}


def finish(capture, job: Job, status=S.COMPLETED) -> None:
    """What the runner does at the end of a step: its terminal transition (and the hook)."""
    with capture(execute=True):
        lifecycle.transition(job.pk, status, from_=(S.QUEUED, S.RUNNING), reason="test")


def test_a_pipeline_becomes_one_parent_and_a_child_job_per_step_and_starts_the_ready_ones(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    pipeline = submit(owner, two_branches("p1"), django_capture_on_commit_callbacks)
    assert pipeline.type == Job.Type.PIPELINE
    pipeline.refresh_from_db()
    assert pipeline.status == S.RUNNING
    children = steps(pipeline)
    assert set(children) == {"prep_a", "prep_b", "train_a", "train_b"}
    assert sorted(sent) == ["p1-prep_a", "p1-prep_b"]  # both branches start at once
    assert children["train_a"].status == S.NOT_STARTED
    train_b = children["train_b"].spec
    assert train_b["inputs"]["data"]["bind"] == {"step": "prep_b", "output": "clean"}
    assert train_b["inputs"]["data"]["mode"] == "download"
    assert train_b["timeout_s"] == 60 and train_b["environment_variables"] == {"BRANCH": "b"}
    assert children["train_a"].spec["inputs"]["epochs"] == {"kind": "literal", "value": "10"}
    assert children["train_b"].spec["inputs"]["epochs"] == {"kind": "literal", "value": "5"}
    assert children["train_a"].compute == cluster
    graph = pipeline.spec["graph"]
    assert sorted(map(tuple, graph["edges"])) == [
        ("prep_a", "clean", "train_a", "data"),
        ("prep_b", "clean", "train_b", "data"),
    ]
    assert graph["steps"]["train_a"]["position"][0] == 1


def test_a_step_starts_when_its_inputs_exist_and_gets_the_upstream_output_uri(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    pipeline = submit(owner, two_branches("p2"), django_capture_on_commit_callbacks)
    children = steps(pipeline)
    finish(django_capture_on_commit_callbacks, children["prep_a"])
    assert "p2-train_a" in sent and "p2-train_b" not in sent
    train_a = Job.objects.get(name="p2-train_a")
    assert train_a.status == S.QUEUED
    assert train_a.spec["inputs"]["data"]["uri"] == (
        "azureml://datastores/workspaceblobstore/paths/azureml/p2-prep_a/clean/"
    )
    for name in ("p2-prep_b", "p2-train_a", "p2-train_b"):
        job = Job.objects.get(name=name)
        if job.status == S.QUEUED:
            finish(django_capture_on_commit_callbacks, job)
    finish(django_capture_on_commit_callbacks, Job.objects.get(name="p2-train_b"))
    pipeline.refresh_from_db()
    assert pipeline.status == S.COMPLETED


def _run_all(capture, pipeline) -> None:
    for _ in range(4):
        for job in Job.objects.filter(parent=pipeline, status=S.QUEUED):
            finish(capture, job)


def test_a_second_submit_of_the_same_pipeline_reuses_every_step(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    first = submit(owner, two_branches("first"), django_capture_on_commit_callbacks)
    _run_all(django_capture_on_commit_callbacks, first)
    first.refresh_from_db()
    assert first.status == S.COMPLETED
    sent.clear()
    second = submit(owner, two_branches("second"), django_capture_on_commit_callbacks)
    second.refresh_from_db()
    assert second.status == S.COMPLETED and sent == []
    for step, job in steps(second).items():
        assert job.status == S.COMPLETED
        assert job.tags["reused_from"] == f"first-{step}"
    # the reused train step's input is the first run's prep output, as its outputs are
    assert (
        steps(second)["train_a"].spec["outputs"]["model"]["uri"].endswith("/first-train_a/model/")
    )
    third = submit(
        owner, two_branches("third", force_rerun=True), django_capture_on_commit_callbacks
    )
    assert sorted(sent) == ["third-prep_a", "third-prep_b"]
    assert all("reused_from" not in j.tags for j in steps(third).values())


def test_a_changed_parameter_reruns_that_step_and_reuses_the_rest(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    _run_all(
        django_capture_on_commit_callbacks,
        submit(owner, two_branches("r1"), django_capture_on_commit_callbacks),
    )
    sent.clear()
    doc = two_branches("r2")
    doc["inputs"]["epochs"] = 11
    submit(owner, doc, django_capture_on_commit_callbacks)
    assert sent == ["r2-train_a"]


def test_a_failed_step_fails_its_dependants_and_the_other_branch_goes_on(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    pipeline = submit(owner, two_branches("f1"), django_capture_on_commit_callbacks)
    children = steps(pipeline)
    finish(django_capture_on_commit_callbacks, children["prep_a"], S.FAILED)
    train_a = Job.objects.get(name="f1-train_a")
    assert train_a.status == S.FAILED and "upstream step 'prep_a' failed" in train_a.error
    assert Job.objects.get(name="f1-prep_b").status == S.QUEUED
    finish(django_capture_on_commit_callbacks, children["prep_b"])
    finish(django_capture_on_commit_callbacks, Job.objects.get(name="f1-train_b"))
    pipeline.refresh_from_db()
    assert pipeline.status == S.FAILED and "prep_a" in pipeline.error


def test_without_continue_on_step_failure_a_failed_step_stops_the_pipeline(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    doc = two_branches("f2", continue_on_step_failure=False)
    pipeline = submit(owner, doc, django_capture_on_commit_callbacks)
    finish(django_capture_on_commit_callbacks, steps(pipeline)["prep_a"], S.FAILED)
    states = {k: j.status for k, j in steps(pipeline).items()}
    assert states == {
        "prep_a": S.FAILED, "train_a": S.FAILED, "prep_b": S.CANCELED, "train_b": S.CANCELED,
    }  # fmt: skip
    pipeline.refresh_from_db()
    assert pipeline.status == S.FAILED


def test_cancelling_a_pipeline_cancels_its_steps(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    pipeline = submit(owner, two_branches("c1"), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(owner).post(f"{URL}c1/cancel/")
    assert response.status_code in (200, 202), response.content
    pipeline.refresh_from_db()
    assert pipeline.status == S.CANCELED
    assert {j.status for j in steps(pipeline).values()} == {S.CANCELED}
    assert pipeline_advance(pipeline.pk) == S.CANCELED


def test_a_pipeline_component_used_as_a_step_flattens_into_its_steps(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    inner = {
        "type": "pipeline",
        "inputs": {
            "raw": {"type": "uri_folder"},
            "epochs": {"type": "integer", "default": 3, "max": 9},
        },
        "outputs": {"model": {"type": "uri_folder"}},
        "jobs": {
            "fit": {
                "component": "azureml:train:1",
                "inputs": {"data": "${{parent.inputs.raw}}", "epochs": "${{parent.inputs.epochs}}"},
                "outputs": {"model": "${{parent.outputs.model}}"},
            }
        },
    }
    doc = {
        "type": "pipeline",
        "name": "nest",
        "settings": {"default_compute": "cpu-cluster"},
        "jobs": {
            "prep": prep_step(),
            "sub": {
                "type": "pipeline",
                "component": inner,
                "inputs": {"raw": "${{parent.jobs.prep.outputs.clean}}"},
            },
            "score": {
                "component": "azureml:train:1",
                "inputs": {"data": "${{parent.jobs.sub.outputs.model}}"},
            },
        },
    }
    pipeline = submit(owner, doc, django_capture_on_commit_callbacks)
    children = steps(pipeline)
    assert set(children) == {"prep", "sub.fit", "score"}
    assert children["sub.fit"].name == "nest-sub-fit"
    assert children["sub.fit"].spec["upstream"] == ["prep"]
    assert children["score"].spec["inputs"]["data"]["bind"] == {
        "step": "sub.fit",
        "output": "model",
    }
    assert children["sub.fit"].spec["inputs"]["epochs"]["value"] == "3"


def test_a_pipeline_steps_compute_is_the_default_of_its_inner_steps(
    owner, workspace, train, cluster, sent, django_capture_on_commit_callbacks
):
    from apps.workspaces.models import Compute

    Compute.objects.create(workspace=workspace, name="gpu-cluster", type="amlcompute")
    inner = {
        "type": "pipeline",
        "inputs": {"raw": {"type": "uri_folder"}},
        "outputs": {"model": {"type": "uri_folder"}, "other": {"type": "uri_folder"}},
        "jobs": {
            "fit": {
                "component": "azureml:train:1",
                "inputs": {"data": "${{parent.inputs.raw}}"},
                "outputs": {"model": "${{parent.outputs.model}}"},
            },
            "own": {
                "component": "azureml:train:1",
                "compute": "cpu-cluster",
                "inputs": {"data": "${{parent.inputs.raw}}"},
                "outputs": {"model": "${{parent.outputs.other}}"},
            },
        },
    }
    doc = {
        "type": "pipeline",
        "name": "nest-compute",
        "settings": {"default_compute": "cpu-cluster"},
        "jobs": {
            "prep": prep_step(),
            "sub": {
                "type": "pipeline",
                "component": inner,
                "compute": "gpu-cluster",
                "inputs": {"raw": "${{parent.jobs.prep.outputs.clean}}"},
            },
        },
    }
    pipeline = submit(owner, doc, django_capture_on_commit_callbacks)
    children = steps(pipeline)
    assert children["prep"].compute.name == "cpu-cluster"
    assert children["sub.fit"].compute.name == "gpu-cluster"  # the step's compute
    assert children["sub.own"].compute.name == "cpu-cluster"  # its own wins

    doc["name"], doc["jobs"]["sub"]["compute"] = "nest-bad", "nope"
    response = api_client_for(owner).post(URL, doc, format="json")
    assert response.status_code == 400
    assert "jobs.sub.compute" in response.json()["fields"], response.json()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda d: d["jobs"]["train_a"].update(component="azureml:nope@latest"),
            "jobs.train_a.component",
            "nope",
        ),
        (
            lambda d: d["jobs"]["prep_a"]["inputs"].update(
                src="${{parent.jobs.train_a.outputs.model}}"
            ),
            "jobs",
            "cycle: prep_a → train_a → prep_a",
        ),
        (
            lambda d: d["jobs"]["train_a"]["inputs"].update(
                data="${{parent.jobs.prep_a.outputs.nothing}}"
            ),
            "jobs.train_a.inputs.data",
            "step 'prep_a' has no output 'nothing' (its outputs: clean)",
        ),
        (
            lambda d: d["jobs"]["train_a"]["inputs"].update(
                data="${{parent.jobs.ghost.outputs.x}}"
            ),
            "jobs.train_a.inputs.data",
            "'ghost', which is not a step",
        ),
        (lambda d: d["inputs"].update(epochs=500), "jobs.train_a.inputs.epochs", "100"),
        (
            lambda d: d["settings"].update(default_datastore="azureml:nope"),
            "settings.default_datastore",
            "nope",
        ),
        (
            lambda d: d["jobs"]["train_b"].update(limits={"timeout": -1}),
            "jobs.train_b.limits.timeout",
            "greater",
        ),
    ],
    ids=[
        "missing component",
        "cycle",
        "missing output",
        "missing step",
        "out of range",
        "datastore",
        "timeout",
    ],
)
def test_a_bad_pipeline_is_refused_with_the_exact_reason_and_nothing_is_saved(
    owner, train, cluster, sent, change, field, words
):
    doc = two_branches("bad")
    change(doc)
    before = Job.objects.count()
    response = api_client_for(owner).post(URL, doc, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert field in body["fields"], body
    assert words in " ".join(body["fields"][field]), body
    assert Job.objects.count() == before and sent == []


def test_a_dry_run_checks_a_pipeline_and_creates_nothing(owner, train, cluster, sent):
    response = api_client_for(owner).post(URL + "?dry_run=true", two_branches("dry"), format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["steps"]["train_a"]["upstream"] == ["prep_a"]
    assert not Job.objects.filter(name__startswith="dry").exists()


def test_the_beat_task_moves_on_a_pipeline_whose_step_ended_without_the_hook(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    from apps.jobs.tasks import advance_pipelines_task

    pipeline = submit(owner, two_branches("beat"), django_capture_on_commit_callbacks)
    # the hook runs on commit; here the commit never comes (a lost worker, say)
    lifecycle.transition(steps(pipeline)["prep_a"].pk, S.COMPLETED, from_=(S.QUEUED,))
    assert Job.objects.get(name="beat-train_a").status == S.NOT_STARTED
    assert advance_pipelines_task() >= 1
    assert Job.objects.get(name="beat-train_a").status == S.QUEUED


def test_an_inline_component_that_is_not_deterministic_is_never_reused(
    owner, train, cluster, sent, django_capture_on_commit_callbacks
):
    def doc(name):
        step = {
            "component": {
                "name": "sample",
                "is_deterministic": False,
                "command": "echo ${{inputs.n}} > ${{outputs.out}}/n",
                "environment": "azureml:sklearn:1",
                "inputs": {"n": {"type": "integer", "min": 0}},
                "outputs": {"out": {"type": "uri_folder"}},
            },
            "inputs": {"n": 3},
        }
        return {
            "type": "pipeline",
            "name": name,
            "settings": {"default_compute": "cpu-cluster"},
            "jobs": {"s": step},
        }

    _run_all(
        django_capture_on_commit_callbacks,
        submit(owner, doc("nd1"), django_capture_on_commit_callbacks),
    )
    sent.clear()
    submit(owner, doc("nd2"), django_capture_on_commit_callbacks)
    assert sent == ["nd2-s"]


def test_a_component_file_path_through_the_api_is_refused_with_what_to_do(
    owner, train, cluster, sent
):
    doc = two_branches("file")
    doc["jobs"]["train_a"]["component"] = "./train.yml"
    response = api_client_for(owner).post(URL, doc, format="json")
    assert response.status_code == 400
    assert "studio job create" in response.json()["fields"]["jobs.train_a.component"][0]
