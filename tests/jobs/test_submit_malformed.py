"""Malformed commandJob documents: each is refused with a 4xx naming the field, and nothing
is created (no job, no experiment, no code snapshot, no lineage)."""

from __future__ import annotations

import pytest

from apps.assets.models import AssetUse, CodeSnapshot
from apps.jobs.models import Experiment, Job
from tests.jobs.test_submit_fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db

URL = "/api/v1/workspaces/churn/jobs/"
OK = {
    "command": "python train.py --data ${{inputs.data}} --out ${{outputs.model}}",
    "environment": "azureml:sklearn:1",
    "experiment_name": "never-made",
    "inputs": {"data": {"type": "uri_file", "path": "azureml:iris:3"}},
    "outputs": {"model": {"type": "uri_folder"}},
}


def _with(**changes):
    doc = {**OK}
    for key, value in changes.items():
        doc[key] = value
    return doc


def _input(**spec):
    return _with(inputs={"data": {"type": "uri_file", "path": "azureml:iris:3", **spec}})


# (case id, document, expected status, field path the error must name, words in the message)
CASES = [
    ("unknown top-level key", _with(comand="echo"), 400, "comand", "Did you mean 'command'"),
    ("unknown key in an input", _input(pth="x"), 400, "inputs.data.pth", "unknown key"),
    (
        "unknown key in an output",
        _with(outputs={"model": {"paht": "x"}}),
        400,
        "outputs.model.paht",
        "Did you mean 'path'",
    ),
    ("unknown key in limits", _with(limits={"timout": 5}), 400, "limits.timout", "timeout"),
    ("command is a list", _with(command=["python", "x.py"]), 400, "command", "required"),
    ("command is missing", {k: v for k, v in OK.items() if k != "command"}, 400, "command", ""),
    (
        "undeclared input in the command",
        _with(command="python x.py ${{inputs.nope}}"),
        400,
        "command",
        "inputs.nope",
    ),
    (
        "undeclared output in the command",
        _with(command="python x.py ${{outputs.nope}}"),
        400,
        "command",
        "outputs.nope",
    ),
    (
        "environment is missing",
        {k: v for k, v in OK.items() if k != "environment"},
        400,
        "environment",
        "required",
    ),
    (
        "unknown environment",
        _with(environment="azureml:nosuchenv:1"),
        400,
        "environment",
        "nosuchenv",
    ),
    ("unknown compute", _with(compute="azureml:gpu-cluster"), 400, "compute", "gpu-cluster"),
    ("unknown data asset", _input(path="azureml:nosuchdata:1"), 400, "inputs.data.path", ""),
    (
        "unknown data asset version",
        _input(path="azureml:iris:99"),
        400,
        "inputs.data.path",
        "99",
    ),
    (
        "unknown datastore in a URI",
        _input(path="azureml://datastores/nostore/paths/x.csv"),
        400,
        "inputs.data.path",
        "nostore",
    ),
    ("wrong input type", _input(type="csv"), 400, "inputs.data.type", "uri_file"),
    ("mode not allowed for the type", _input(mode="eval_mount"), 400, "inputs.data.mode", ""),
    ("tags is a list", _with(tags=["a", "b"]), 400, "tags", "mapping"),
    ("timeout is text", _with(limits={"timeout": "1h"}), 400, "limits.timeout", "whole number"),
    (
        "nested environment variable",
        _with(environment_variables={"X": {"y": 1}}),
        400,
        "environment_variables.X",
        "plain value",
    ),
    (
        "secret not in the vault",
        _with(secrets={"DB_PASSWORD": "db-password"}),
        400,
        "secrets.DB_PASSWORD",
        "db-password",
    ),
    ("another job type", _with(type="sweep"), 400, "type", "sweep"),
    (
        "unknown code snapshot",
        _with(code="00000000-0000-0000-0000-000000000001"),
        400,
        "code",
        "snapshot",
    ),
    (
        "local code folder sent to the API",
        _with(code="./src"),
        400,
        "code",
        "upload it first",
    ),
    (
        "local input path sent to the API",
        _input(path="./data/iris.csv"),
        400,
        "inputs.data.path",
        "local path",
    ),
    ("bad input name", _with(inputs={"1data": 3}), 400, "inputs.1data", "valid name"),
    (
        "more than one node",
        _with(resources={"instance_count": 2}),
        400,
        "resources.instance_count",
        "1",
    ),
    (
        "optional input outside $[[ ]]",
        _with(
            command="python x.py ${{inputs.lr}} ${{outputs.model}}",
            inputs={"lr": {"type": "uri_file", "optional": True}},
        ),
        400,
        "command",
        "optional",
    ),
    (
        "input expression in an output path",
        _with(outputs={"model": {"path": "azureml://datastores/x/paths/${{inputs.data}}"}}),
        400,
        "outputs.model.path",
        "not allowed",
    ),
    ("input without a value", _with(inputs={"data": None}), 400, "inputs.data", "no value"),
    ("the document is a list", ["command", "echo"], 400, "", "mapping"),
]


@pytest.mark.parametrize("doc,status,field,words", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_a_malformed_job_is_refused_naming_its_field_and_nothing_is_created(
    api, workspace, environment, data_asset, enqueued, doc, status, field, words
):
    before = (Experiment.objects.count(), CodeSnapshot.objects.count(), AssetUse.objects.count())
    response = api.post(URL, doc, format="json")
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == "invalid"
    if field:
        assert field in body["fields"], body
        assert body["message"].startswith(f"{field}:")
    assert words in body["message"], body["message"]
    assert not Job.objects.exists()
    after = (Experiment.objects.count(), CodeSnapshot.objects.count(), AssetUse.objects.count())
    assert after == before
    assert enqueued == []


def test_a_taken_name_is_a_conflict_naming_the_name(api, workspace, environment, enqueued):
    assert (
        api.post(URL, _with(name="run-1", inputs={}, command="echo"), format="json").status_code
        == 201
    )
    response = api.post(URL, _with(name="run-1", inputs={}, command="echo"), format="json")
    assert response.status_code == 409
    assert "name" in response.json()["fields"]
    assert Job.objects.count() == 1


def test_a_job_that_fails_after_a_new_experiment_would_be_made_leaves_no_experiment(
    api, workspace, environment, enqueued, monkeypatch
):
    from apps.assets.services import versions

    def broken(**kwargs):
        raise RuntimeError("lineage store down")

    monkeypatch.setattr(versions, "record_use", broken)
    doc = _with(inputs={}, command="echo", experiment_name="brand-new")
    with pytest.raises(RuntimeError):
        api.post(URL, doc, format="json")
    assert not Experiment.objects.filter(name="brand-new").exists()
    assert not Job.objects.exists()
