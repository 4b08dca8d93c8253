"""A registered pipeline component on the Designer's canvas: listed in the palette's own
group, dropped as one node whose ports are its interface's, connected and type-checked at
its ports like a command component's, its parameters in the side panel, validated like any
node, exported as a `type: pipeline` step (and imported back to the same graph), and
submitted so that the pipelines service flattens it into child jobs."""

from __future__ import annotations

import pytest
import yaml

from apps.assets.services.components import component_create_from_yaml
from apps.designer import drafts, pipeline_yaml, selectors
from apps.designer.models import Draft
from apps.jobs.models import Job
from studio.errors import ValidationError
from tests.conftest import client_for
from tests.designer.fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db

PREP_TRAIN = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
type: pipeline
name: prep_train
version: "{version}"
display_name: Prepare and train
inputs:
  raw: {{type: uri_folder}}
  epochs: {{type: integer, default: 7}}
  label: {{type: string}}
outputs:
  model: {{type: mlflow_model}}
jobs:
  prep:
    component: azureml:prep:1
    inputs: {{raw: "${{{{parent.inputs.raw}}}}"}}
  fit:
    component: azureml:train:1
    inputs:
      data: ${{{{parent.jobs.prep.outputs.clean}}}}
      epochs: ${{{{parent.inputs.epochs}}}}
      label: ${{{{parent.inputs.label}}}}
    outputs:
      model: ${{{{parent.outputs.model}}}}
"""


@pytest.fixture
def sub(owner, workspace, comps):
    """The pipeline component prep_train, versions 1 and 2."""
    for version in ("1", "2"):
        component_create_from_yaml(
            actor=owner, workspace=workspace, text=PREP_TRAIN.format(version=version),
            source="pc.yml",
        )  # fmt: skip


def placed(owner, draft):
    """iris → prep_train (raw) → score (model), iris → score (data)."""
    d = drafts.node_add(actor=owner, draft=draft, kind="data", ref="azureml:iris:3", x=0, y=0)
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:prep_train:1", x=300)
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:score:1", x=600)
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["iris", "data"], target=["prep_train", "raw"]
    )
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["prep_train", "model"], target=["score", "model"]
    )
    return drafts.edge_connect(
        actor=owner, draft=d, source=["iris", "data"], target=["score", "data"]
    )


def test_the_palette_lists_pipeline_components_in_their_own_group_with_versions(
    owner, workspace, draft, sub
):
    groups = selectors.palette(actor=owner, workspace=workspace)
    [item] = groups["pipelines"]
    assert (item.name, item.type, item.ref) == ("prep_train", "pipeline", "azureml:prep_train:2")
    assert item.versions == ["2", "1"] and item.label == "Prepare and train"
    assert "prep_train" not in {i.name for i in groups["components"]}
    page = client_for(owner).get(f"/w/churn/designer/{draft.pk}/").content.decode()
    assert "<h3>Pipeline components</h3>" in page
    assert 'data-type="pipeline" data-name="prep_train" data-ref="azureml:prep_train:2"' in page
    assert '<option value="azureml:prep_train:1">1</option>' in page


def test_a_dropped_pipeline_component_is_one_node_with_its_interface_ports(
    owner, draft, sub, dataset
):
    client = client_for(owner)
    added = client.post(
        f"/w/churn/designer/{draft.pk}/gesture/",
        {"op": "add", "kind": "component", "ref": "azureml:prep_train:1", "x": "10", "y": "20"},
    )
    html = added.content.decode()
    assert added.status_code == 200 and 'id="node-prep_train"' in html
    assert "kind-pipeline" in html and ">pipeline</span>" in html
    assert 'data-port="raw" data-type="uri_folder"' in html
    assert 'data-port="model" data-type="mlflow_model"' in html
    assert 'data-port="epochs"' not in html and 'data-port="label"' not in html  # parameters
    node = Draft.objects.get(pk=draft.pk).graph["nodes"]["prep_train"]
    assert node["ref"] == "azureml:prep_train:1" and node["component_type"] == "pipeline"
    assert node["label"] == "Prepare and train"


def test_its_ports_are_type_checked_and_a_mismatch_is_refused_at_the_port(
    owner, draft, sub, dataset
):
    d = placed(owner, draft)
    assert {e["id"] for e in d.graph["edges"]} == {
        "iris.data->prep_train.raw", "prep_train.model->score.model", "iris.data->score.data",
    }  # fmt: skip
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:table_only:1")
    with pytest.raises(ValidationError) as caught:
        drafts.edge_connect(
            actor=owner, draft=d, source=["prep_train", "model"], target=["table_only", "table"]
        )
    assert "a mlflow_model output cannot feed 'table'" in caught.value.fields["target"][0]
    with pytest.raises(ValidationError) as caught:
        drafts.edge_connect(
            actor=owner, draft=d, source=["iris", "data"], target=["prep_train", "epochs"]
        )
    assert "'epochs' is a parameter (integer)" in caught.value.fields["target"][0]
    with pytest.raises(ValidationError) as caught:
        drafts.edge_connect(
            actor=owner, draft=d, source=["score", "scored"], target=["prep_train", "raw"]
        )
    assert "cycle" in caught.value.fields["target"][0]
    assert Draft.objects.get(pk=d.pk).revision == d.revision
    refused = client_for(owner).post(
        f"/w/churn/designer/{draft.pk}/gesture/",
        {"op": "connect", "source": "prep_train:model", "target": "table_only:table"},
    )
    assert refused.status_code == 422 and 'data-port="table_only:table"' in refused.text


def test_the_side_panel_is_made_from_its_inputs_and_checks_values(owner, draft, sub, dataset):
    d = placed(owner, draft)
    client = client_for(owner)
    node_url = f"/w/churn/designer/{d.pk}/nodes/prep_train/"
    panel = client.get(node_url).content.decode()
    assert 'name="param.epochs"' in panel and 'placeholder="7"' in panel
    assert 'name="param.label"' in panel and "Connected from <code>iris.data</code>" in panel
    assert '<select id="f-compute"' in panel and "The sub-pipeline's steps run on it" in panel
    assert "<code>prep_train.fit</code>, <code>prep_train.prep</code>" in panel
    bad = client.post(node_url, {"param.epochs": "many"})
    assert bad.status_code == 422 and "must be" in bad.content.decode()
    ok = client.post(node_url, {"param.epochs": "12", "param.label": "species"})
    assert ok.status_code == 200
    params = Draft.objects.get(pk=d.pk).graph["nodes"]["prep_train"]["params"]
    assert params == {"epochs": 12, "label": "species"}
    d = drafts.node_set(actor=owner, draft=d, node="prep_train", compute="cpu-cluster")
    assert d.graph["nodes"]["prep_train"]["compute"] == "cpu-cluster"  # its steps' default


def test_validate_treats_it_as_any_node(owner, workspace, draft, sub, dataset, cluster):
    bare = drafts.draft_create(actor=owner, workspace=workspace, name="Bare")
    bare = drafts.node_add(actor=owner, draft=bare, kind="component", ref="azureml:prep_train:1")
    issues = pipeline_yaml.draft_validate(actor=owner, draft=bare)
    found = {(i["node"], i["field"]): i["message"] for i in issues}
    assert found[("prep_train", "inputs.raw")] == "required input port 'raw' is not connected."
    assert "'label' is required" in found[("prep_train", "inputs.label")]
    assert "default compute" in found[("prep_train", "compute")]
    assert ("prep_train", "inputs.epochs") not in found  # it has a default
    d = placed(owner, draft)
    d = drafts.node_set(actor=owner, draft=d, node="prep_train", params={"label": "species"})
    d = drafts.draft_set_settings(actor=owner, draft=d, settings={"default_compute": "nope"})
    issues = pipeline_yaml.draft_validate(actor=owner, draft=d)
    assert {(i["node"], i["message"]) for i in issues if i["node"] == "prep_train"} == {
        ("prep_train", "no compute named 'nope' in the workspace.")
    }
    d = drafts.draft_set_settings(actor=owner, draft=d, settings={"default_compute": "cpu-cluster"})
    assert pipeline_yaml.draft_check(actor=owner, draft=d) == []  # and the service's dry run
    valid = client_for(owner).post(f"/w/churn/designer/{d.pk}/validate/").content.decode()
    assert 'data-count="0"' in valid and "ready to submit" in valid
    listed = client_for(owner).post(f"/w/churn/designer/{bare.pk}/validate/").content.decode()
    assert 'data-count="3"' in listed and 'data-node="prep_train">Prepare and train</a>' in listed


def test_export_writes_a_pipeline_step_and_import_reads_it_back_to_the_same_graph(
    owner, workspace, draft, sub, dataset, cluster
):
    d = placed(owner, draft)
    d = drafts.node_set(
        actor=owner, draft=d, node="prep_train", params={"label": "species", "epochs": 9}
    )
    d = drafts.draft_set_settings(actor=owner, draft=d, settings={"default_compute": "cpu-cluster"})
    text = pipeline_yaml.draft_export(actor=owner, draft=d)
    doc = yaml.safe_load(text)
    assert doc["jobs"]["prep_train"] == {
        "type": "pipeline", "component": "azureml:prep_train:1",
        "inputs": {"label": "species", "epochs": 9, "raw": "${{parent.inputs.iris}}"},
    }  # fmt: skip
    assert doc["jobs"]["score"]["type"] == "command"
    assert doc["jobs"]["score"]["inputs"]["model"] == "${{parent.jobs.prep_train.outputs.model}}"
    copy = pipeline_yaml.draft_import(actor=owner, workspace=workspace, name="Copy", text=text)
    d.graph["edges"].sort(key=lambda e: e["id"])
    assert copy.graph == d.graph
    again = pipeline_yaml.draft_export(actor=owner, draft=copy)
    assert again == text.replace("display_name: My pipeline", "display_name: Copy")


def test_import_takes_a_pipeline_step_without_a_type_and_refuses_a_wrong_one(
    owner, workspace, sub, dataset
):
    plain = {"type": "pipeline", "inputs": {"iris": {"type": "uri_folder", "path": "azureml:iris:3"}},
             "jobs": {"pt": {"component": "azureml:prep_train@latest",
                             "inputs": {"raw": "${{parent.inputs.iris}}", "label": "y"}}}}  # fmt: skip
    made = pipeline_yaml.draft_import(
        actor=owner, workspace=workspace, name="Plain", text=yaml.safe_dump(plain)
    )
    node = made.graph["nodes"]["pt"]
    assert node["ref"] == "azureml:prep_train:2" and node["component_type"] == "pipeline"
    assert node["params"] == {"label": "y"}
    assert made.graph["edges"][0]["id"] == "iris.data->pt.raw"
    plain["jobs"]["pt"]["type"] = "command"
    with pytest.raises(ValidationError) as caught:
        pipeline_yaml.draft_import(
            actor=owner, workspace=workspace, name="Bad", text=yaml.safe_dump(plain)
        )
    assert "jobs.pt.type" in caught.value.fields
    assert "is a pipeline component" in caught.value.fields["jobs.pt.type"][0]
    assert not Draft.objects.filter(name="Bad").exists()
    plain["jobs"]["pt"].update(type="pipeline", compute="azureml:cpu-cluster")
    own = pipeline_yaml.draft_import(
        actor=owner, workspace=workspace, name="Own compute", text=yaml.safe_dump(plain)
    )
    assert own.graph["nodes"]["pt"]["compute"] == "cpu-cluster"
    exported = pipeline_yaml.export_doc(own.graph, "Own compute")
    assert exported["jobs"]["pt"]["compute"] == "azureml:cpu-cluster"


def test_submit_compiles_the_node_to_a_pipeline_step_that_flattens_into_child_jobs(
    owner, draft, sub, dataset, cluster, monkeypatch
):
    from apps.jobs.services import lifecycle

    monkeypatch.setattr(lifecycle, "_send", lambda job: None)
    d = placed(owner, draft)
    d = drafts.node_set(actor=owner, draft=d, node="prep_train", params={"label": "species"})
    job = pipeline_yaml.draft_submit(actor=owner, draft=d, compute="cpu-cluster")
    step = job.spec["yaml"]["jobs"]["prep_train"]
    assert step == {
        "type": "pipeline", "component": "azureml:prep_train:1",
        "inputs": {"label": "species", "raw": "${{parent.inputs.iris}}"},
    }  # fmt: skip
    children = {c.spec["step"]: c for c in Job.objects.filter(parent=job)}
    assert sorted(children) == ["prep_train.fit", "prep_train.prep", "score"]
    assert children["prep_train.fit"].spec["inputs"]["label"]["value"] == "species"
    assert children["prep_train.fit"].compute.name == "cpu-cluster"
    assert children["prep_train.fit"].spec["upstream"] == ["prep_train.prep"]
    assert children["score"].spec["upstream"] == ["prep_train.fit"]  # the run graph's edge
    clone = pipeline_yaml.draft_clone(actor=owner, workspace=d.workspace, job=job)
    assert (
        clone.graph["nodes"]["prep_train"]
        == Draft.objects.get(pk=d.pk).graph["nodes"]["prep_train"]
    )


def test_the_api_imports_exports_and_submits_a_draft_with_a_pipeline_step(
    owner, workspace, sub, dataset, cluster, monkeypatch
):
    from apps.jobs.services import lifecycle
    from tests.conftest import api_client_for

    monkeypatch.setattr(lifecycle, "_send", lambda job: None)
    doc = {
        "type": "pipeline", "settings": {"default_compute": "azureml:cpu-cluster"},
        "inputs": {"iris": {"type": "uri_folder", "path": "azureml:iris:3"}},
        "jobs": {"pt": {"type": "pipeline", "component": "azureml:prep_train:1",
                        "inputs": {"raw": "${{parent.inputs.iris}}", "label": "species"}}},
    }  # fmt: skip
    text = yaml.safe_dump(doc)
    api = api_client_for(owner)
    base = "/api/v1/workspaces/churn/designer/drafts/"
    made = api.post(f"{base}-/import/", {"name": "Sub", "yaml": text}, format="json")
    assert made.status_code == 201, made.content
    draft_id = made.json()["id"]
    graph = api.get(f"{base}{draft_id}/").json()["graph"]
    assert graph["nodes"]["pt"]["component_type"] == "pipeline"
    exported = yaml.safe_load(api.get(f"{base}{draft_id}/export/").content)
    assert exported["jobs"]["pt"]["type"] == "pipeline"
    assert exported["jobs"]["pt"]["component"] == "azureml:prep_train:1"
    submitted = api.post(f"{base}{draft_id}/submit/", {}, format="json")
    assert submitted.status_code == 201, submitted.content
    job = Job.objects.get(name=submitted.json()["name"])
    assert sorted(c.spec["step"] for c in job.children.all()) == ["pt.fit", "pt.prep"]
    doc["jobs"]["pt"]["type"] = "command"
    bad = api.post(f"{base}-/import/", {"name": "Bad", "yaml": yaml.safe_dump(doc)}, format="json")
    assert bad.status_code == 400 and "jobs.pt.type" in str(bad.json()), bad.json()
