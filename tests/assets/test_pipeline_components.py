"""Pipeline components (`type: pipeline`) as registered, versioned components: checked on
create as a pipeline job's steps are (errors name the field and the YAML line, nothing is
stored), stored with every component reference frozen to an exact version, and used by a
pipeline job as a step that flattens into the registered steps, with lineage."""

from __future__ import annotations

import pytest

from apps.assets.models import AssetUse, ComponentVersion, EnvironmentVersion
from apps.assets.services.components import component_create, component_create_from_yaml
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from studio.errors import ValidationError
from tests.conftest import api_client_for
from tests.jobs.test_submit_fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db

TRAIN = {
    "name": "train",
    "command": "python train.py --data ${{inputs.data}} --epochs ${{inputs.epochs}} "
    "--out ${{outputs.model}}",
    "environment": "azureml:sklearn:1",
    "inputs": {
        "data": {"type": "uri_folder"},
        "epochs": {"type": "integer", "default": 5, "min": 1, "max": 100},
    },
    "outputs": {"model": {"type": "uri_folder"}},
}

# Line numbers matter: the error tests below name them.
PIPELINE_COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
type: pipeline
name: train_pipe
version: 1
display_name: Prepare and train
inputs:
  raw:
    type: uri_folder
  epochs:
    type: integer
    default: 7
outputs:
  model:
    type: uri_folder
jobs:
  prep:
    component:
      name: prep
      command: cp -r ${{inputs.src}}/. ${{outputs.clean}}
      environment: azureml:sklearn@latest
      inputs:
        src: {type: uri_folder}
      outputs:
        clean: {type: uri_folder}
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


@pytest.fixture
def train(workspace, owner, environment):
    return component_create(actor=owner, workspace=workspace, data={**TRAIN, "version": "1"})


def create(owner, workspace, text=PIPELINE_COMPONENT, **kw) -> ComponentVersion:
    return component_create_from_yaml(
        actor=owner, workspace=workspace, text=text, source="pc.yml", **kw
    )


def test_a_pipeline_component_is_stored_with_its_references_frozen_to_exact_versions(
    owner, workspace, train
):
    row = create(owner, workspace)
    assert row.type == ComponentVersion.Type.PIPELINE
    assert row.environment is None and row.code is None and row.command == ""
    assert list(row.inputs) == ["raw", "epochs"] and row.inputs["epochs"]["default"] == 7
    assert row.outputs == {"model": {"type": "uri_folder"}}
    jobs = row.spec["jobs"]
    assert list(jobs) == ["prep", "fit"]
    assert jobs["fit"]["component"] == "azureml:train:1"  # @latest, frozen
    prep = jobs["prep"]["component"]
    assert prep["type"] == "command" and prep["environment"] == "azureml:sklearn:1"
    assert prep["inputs"]["src"]["type"] == "uri_folder"
    assert jobs["fit"]["inputs"]["epochs"] == "${{parent.inputs.epochs}}"
    # a newer train does not change the registered pipeline component
    component_create(actor=owner, workspace=workspace, data={**TRAIN, "version": "2"})
    row.refresh_from_db()
    assert row.spec["jobs"]["fit"]["component"] == "azureml:train:1"


def test_a_dry_run_checks_everything_and_stores_nothing(owner, workspace, train):
    row = create(owner, workspace, dry_run=True)
    assert row.spec["jobs"]["fit"]["component"] == "azureml:train:1"
    assert not ComponentVersion.objects.filter(name="train_pipe").exists()


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        (
            "component: azureml:train@latest",
            "component: azureml:nope@latest",
            "pc.yml:28: jobs.fit.component",
            "no component named 'nope'",
        ),
        (
            "      src: ${{parent.inputs.raw}}",
            "      src: ${{parent.inputs.rawx}}",
            "pc.yml:26: jobs.prep.inputs.src",
            "has no input 'rawx' (its inputs: raw, epochs)",
        ),
        (
            "      model: ${{parent.outputs.model}}",
            "      model: ${{parent.outputs.best}}",
            "pc.yml:33: jobs.fit.outputs.model",
            "has no output 'best' (its outputs: model)",
        ),
        (
            "      src: ${{parent.inputs.raw}}",
            "      src: ${{parent.jobs.fit.outputs.model}}",
            "pc.yml:15: jobs",
            "cycle: prep → fit → prep",
        ),
        (
            "${{parent.jobs.prep.outputs.clean}}",
            "${{parent.jobs.prep.outputs.dirty}}",
            "pc.yml:30: jobs.fit.inputs.data",
            "step 'prep' has no output 'dirty' (its outputs: clean)",
        ),
        (
            "      epochs: ${{parent.inputs.epochs}}",
            "      epochs: 500",
            "pc.yml:31: jobs.fit.inputs.epochs",
            "above the maximum, 100",
        ),
        (
            "    default: 7",
            "    default: 700",
            "pc.yml:31: jobs.fit.inputs.epochs",
            "above the maximum, 100",
        ),
        (
            "      epochs: ${{parent.inputs.epochs}}",
            "      epochs: ${{parent.inputs.raw}}",
            "pc.yml:31: jobs.fit.inputs.epochs",
            "a data input takes data",
        ),
        (
            "    outputs:\n      model: ${{parent.outputs.model}}\n",
            "",
            "pc.yml:13: outputs.model",
            "no step of the component binds to it",
        ),
        (
            "display_name: Prepare and train\n",
            "display_name: Prepare and train\ncommand: echo hi\n",
            "pc.yml:6: command",
            "is not a field of a pipeline component",
        ),
        (
            "      environment: azureml:sklearn@latest",
            "      environment: azureml:nope@latest",
            "pc.yml:20: jobs.prep.component.environment",
            "no environment named 'nope'",
        ),
    ],
    ids=[
        "missing component",
        "undeclared parent input",
        "undeclared parent output",
        "cycle",
        "missing step output",
        "literal out of range",
        "parent default out of range",
        "data bound to a parameter",
        "unbound output",
        "command on a pipeline",
        "inline environment",
    ],
)
def test_a_bad_pipeline_component_names_the_field_and_line_and_stores_nothing(
    owner, workspace, train, old, new, where, words
):
    assert old in PIPELINE_COMPONENT
    with pytest.raises(ValidationError) as caught:
        create(owner, workspace, PIPELINE_COMPONENT.replace(old, new))
    message = caught.value.message
    assert message.startswith(where + ":"), message
    assert words in message, message
    assert not ComponentVersion.objects.filter(name="train_pipe").exists()


def test_a_local_component_file_in_pasted_yaml_says_to_use_the_cli(owner, workspace, train):
    text = PIPELINE_COMPONENT.replace("azureml:train@latest", "./train.yml")
    with pytest.raises(ValidationError) as caught:
        create(owner, workspace, text)
    assert caught.value.message.startswith("pc.yml:28: jobs.fit.component:")
    assert "studio component create" in caught.value.message


def test_a_pipeline_step_needs_a_pipeline_component(owner, workspace, train):
    text = PIPELINE_COMPONENT.replace(
        "  fit:\n    component: azureml:train@latest",
        "  fit:\n    type: pipeline\n    component: azureml:train@latest",
    )
    with pytest.raises(ValidationError) as caught:
        create(owner, workspace, text)
    assert "is a command component; a step of type pipeline" in caught.value.message


def test_a_code_zip_with_a_pipeline_component_is_refused(owner, workspace, train):
    with pytest.raises(ValidationError) as caught:
        create(owner, workspace, code="")
    assert "code_zip" in caught.value.fields


def test_registered_pipeline_components_nest(owner, workspace, train):
    create(owner, workspace)
    outer = """\
type: pipeline
name: outer
inputs:
  data: {type: uri_folder}
outputs:
  final: {type: uri_folder}
jobs:
  inner:
    type: pipeline
    component: azureml:train_pipe@latest
    inputs:
      raw: ${{parent.inputs.data}}
      epochs: 3
    outputs:
      model: ${{parent.outputs.final}}
"""
    row = create(owner, workspace, outer)
    assert row.spec["jobs"]["inner"]["component"] == "azureml:train_pipe:1"
    bad = outer.replace("epochs: 3", "epochs: three")
    with pytest.raises(ValidationError) as caught:
        create(owner, workspace, bad.replace("name: outer", "name: outer2"))
    assert caught.value.message.startswith(
        "pc.yml:13: jobs.inner.inputs.epochs: must be an integer"
    )


# Using it in a pipeline job --------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch):
    names: list[str] = []
    monkeypatch.setattr(lifecycle, "_send", lambda job, **_: names.append(job.name))
    return names


def job_doc(name: str, ref: str = "azureml:train_pipe@latest") -> dict:
    return {
        "type": "pipeline",
        "name": name,
        "settings": {"default_compute": "cpu-cluster"},
        "inputs": {
            "raw": {
                "type": "uri_folder",
                "path": "azureml://datastores/workspaceblobstore/paths/r/",
            }
        },
        "outputs": {"trained": {"type": "uri_folder"}},
        "jobs": {
            "pc": {
                "type": "pipeline",
                "component": ref,
                "inputs": {"raw": "${{parent.inputs.raw}}"},
                "outputs": {"model": "${{parent.outputs.trained}}"},
            },
            "score": {
                "component": "azureml:train:1",
                "inputs": {"data": "${{parent.jobs.pc.outputs.model}}"},
            },
        },
    }


def test_a_pipeline_job_runs_the_registered_steps_flattened_with_lineage(
    owner, workspace, train, cluster, sent, django_capture_on_commit_callbacks
):
    row = create(owner, workspace)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(owner).post(
            "/api/v1/workspaces/churn/jobs/", job_doc("usepc"), format="json"
        )
    assert response.status_code == 201, response.json()
    pipeline = Job.objects.get(name="usepc")
    steps = {c.spec["step"]: c for c in pipeline.children.all()}
    assert set(steps) == {"pc.prep", "pc.fit", "score"}
    assert steps["pc.fit"].spec["inputs"]["epochs"] == {"kind": "literal", "value": "7"}
    assert steps["pc.fit"].spec["inputs"]["data"]["bind"] == {"step": "pc.prep", "output": "clean"}
    assert steps["score"].spec["inputs"]["data"]["bind"] == {"step": "pc.fit", "output": "model"}
    assert steps["pc.prep"].spec["inputs"]["src"]["uri"].rstrip("/").endswith("/paths/r")
    assert pipeline.spec["outputs"]["trained"]["step"] == "pc.fit"
    assert sent == ["usepc-pc-prep"]
    used = AssetUse.objects.filter(asset_id=row.asset_id, version="1")
    assert [(u.job.name, u.role) for u in used] == [("usepc", "component")]
    train_uses = AssetUse.objects.filter(asset_id=train.asset_id, job__name="usepc-pc-fit")
    assert train_uses.count() == 1


def test_a_pipeline_job_refuses_a_registered_pipeline_component_without_its_inputs(
    owner, workspace, train, cluster, sent
):
    create(owner, workspace)
    doc = job_doc("noin", "azureml:train_pipe:1")
    del doc["jobs"]["pc"]["inputs"]
    response = api_client_for(owner).post("/api/v1/workspaces/churn/jobs/", doc, format="json")
    assert response.status_code == 400
    assert "jobs.pc.inputs.raw" in response.json()["fields"]
    assert not Job.objects.exists()


def test_an_inline_environment_in_a_step_is_pinned_to_its_anonymous_version(
    owner, workspace, train
):
    text = PIPELINE_COMPONENT.replace(
        "      environment: azureml:sklearn@latest",
        "      environment:\n        image: studio-base:bookworm-py311-r2",
    )
    row = create(owner, workspace, text)
    ref = row.spec["jobs"]["prep"]["component"]["environment"]
    env = EnvironmentVersion.objects.get(is_anonymous=True)
    assert ref == env.reference


# The API ---------------------------------------------------------------------------------------

URL = "/api/v1/workspaces/churn/components/"


def test_the_api_creates_a_pipeline_component_from_json_and_yaml_and_lists_its_type(
    owner, workspace, train
):
    import yaml

    api = api_client_for(owner)
    body = yaml.safe_load(PIPELINE_COMPONENT)
    body.pop("$schema")
    checked = api.post(URL + "?dry_run=true", body, format="json")
    assert checked.status_code == 200, checked.json()
    assert checked.json()["type"] == "pipeline"
    assert checked.json()["jobs"]["fit"]["component"] == "azureml:train:1"
    assert not ComponentVersion.objects.filter(name="train_pipe").exists()
    made = api.post(URL, body, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["type"] == "pipeline" and made.json()["environment"] is None
    again = api.post(URL, {"yaml": PIPELINE_COMPONENT.replace("version: 1", "version: 2")})
    assert again.status_code == 201, again.json()
    shown = api.get(URL + "train_pipe/versions/latest/").json()
    assert shown["version"] == "2" and set(shown["jobs"]) == {"prep", "fit"}
    assert api.get(URL + "train/versions/1/").json()["jobs"] is None
    listed = {r["name"]: r["type"] for r in api.get(URL).json()["results"]}
    assert listed == {"train": "command", "train_pipe": "pipeline"}


def test_the_api_refuses_a_bad_pipeline_component_with_the_field_and_line(owner, workspace, train):
    text = PIPELINE_COMPONENT.replace("${{parent.inputs.raw}}", "${{parent.inputs.nope}}")
    response = api_client_for(owner).post(URL, {"yaml": text}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "jobs.prep.inputs.src" in body["fields"]
    assert body["message"].startswith("component.yml:26: jobs.prep.inputs.src:")
    assert not ComponentVersion.objects.filter(name="train_pipe").exists()


# The pages -------------------------------------------------------------------------------------


def test_pasted_pipeline_yaml_creates_it_and_its_page_shows_the_interface_and_steps(
    owner, workspace, train
):
    from tests.conftest import client_for

    client = client_for(owner)
    response = client.post("/w/churn/components/-/new/", {"yaml": PIPELINE_COMPONENT})
    assert response.status_code == 302, response.content[:2000]
    page = client.get(response["Location"]).content.decode()
    assert 'data-input="raw"' in page and 'data-input="epochs"' in page
    assert 'data-output="model"' in page
    assert 'id="component-graph"' in page and "css/pipeline.css" in page
    assert page.count('class="pipeline-node"') == 2
    assert '<path d="M' in page  # the prep → fit edge
    link = '<a href="/w/churn/components/train/versions/1/"><code>azureml:train:1</code></a>'
    assert link in page
    assert "prep (inline command)" in page
    assert "${{parent.jobs.prep.outputs.clean}}" in page
    assert "No code folder" not in page and 'aria-label="Command"' not in page
    listing = client.get("/w/churn/components/").content.decode()
    assert '<td data-type="pipeline">pipeline</td>' in listing
    assert '<td data-type="command">command</td>' in listing


def test_a_bad_pasted_pipeline_is_shown_again_with_its_line(owner, workspace, train):
    from tests.conftest import client_for

    text = PIPELINE_COMPONENT.replace("azureml:train@latest", "azureml:ghost@latest")
    response = client_for(owner).post(
        "/w/churn/components/-/new/", {"yaml": text}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "<html" not in body and "component.yml:28: jobs.fit.component" in body
    assert not ComponentVersion.objects.filter(name="train_pipe").exists()


def test_the_components_list_reads_the_types_with_a_constant_number_of_queries(
    owner, workspace, train
):
    from tests.conftest import client_for

    create(owner, workspace)
    client = client_for(owner)
    client.get("/w/churn/components/")  # warm the session
    few = _queries(client, "/w/churn/components/")
    for name in ("pa", "pb", "pc"):
        create(owner, workspace, PIPELINE_COMPONENT.replace("name: train_pipe", f"name: {name}"))
    many = _queries(client, "/w/churn/components/")
    assert len(many) == len(few), [q["sql"] for q in many]
    assert sum("assets_componentversion" in q["sql"] for q in many) == 1


def _queries(client, url: str) -> list:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return ctx.captured_queries


def test_a_pipeline_job_step_of_type_pipeline_refuses_a_command_component(
    owner, workspace, train, cluster, sent
):
    doc = job_doc("wrongtype", "azureml:train:1")
    response = api_client_for(owner).post("/api/v1/workspaces/churn/jobs/", doc, format="json")
    assert response.status_code == 400
    assert "a step of type pipeline needs" in response.json()["fields"]["jobs.pc.component"][0]
