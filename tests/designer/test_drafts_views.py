"""The Designer's pages and fragments: the list, the canvas page with its palette, gestures
answered with re-rendered pieces or a 422 refusal naming the reason, the properties panel
generated from the component's inputs, validation, history, export."""

from __future__ import annotations

import pytest

from apps.designer import drafts
from apps.designer.models import Draft
from tests.conftest import client_for
from tests.designer.fixtures import *  # noqa: F403 (fixtures)
from tests.designer.fixtures import chain

pytestmark = pytest.mark.django_db


def url(draft, tail=""):
    return f"/w/churn/designer/{draft.pk}/{tail}"


def test_the_list_creates_a_draft_and_opens_its_canvas(owner, workspace):
    client = client_for(owner)
    assert b"No drafts yet" in client.get("/w/churn/designer/").content
    response = client.post("/w/churn/designer/-/new/", {"name": "Flow"})
    draft = Draft.objects.get(name="Flow")
    assert response.status_code == 302 and response.url == url(draft)
    page = client.get(url(draft)).content.decode()
    assert 'id="dz-stage"' in page and "Auto-layout" in page and "designer/designer.js" in page
    again = client.post("/w/churn/designer/-/new/", {"name": "Flow"})
    assert again.status_code == 422 and b"already exists" in again.content


def test_the_palette_lists_data_components_and_their_versions(owner, draft, comps, dataset):
    page = client_for(owner).get(url(draft)).content.decode()
    assert 'data-ref="azureml:iris:3"' in page and 'data-ref="azureml:train:1"' in page
    found = client_for(owner).get(url(draft, "palette/"), {"q": "sco"}).content.decode()
    assert "azureml:score:1" in found and "azureml:train:1" not in found


def test_a_gesture_answers_with_the_new_node_and_a_refusal_with_its_reason(
    owner, draft, comps, dataset
):
    client = client_for(owner)
    added = client.post(
        url(draft, "gesture/"), {"op": "add", "kind": "component", "ref": "azureml:train:1",
                                 "x": "100", "y": "80"},
    )  # fmt: skip
    html = added.content.decode()
    assert added.status_code == 200 and 'id="node-train"' in html
    assert 'data-port="data" data-type="uri_folder"' in html and "left: 100px" in html
    assert 'data-revision="1"' in html
    client.post(url(draft, "gesture/"), {"op": "add", "kind": "data", "ref": "azureml:iris:3"})
    refused = client.post(
        url(draft, "gesture/"), {"op": "connect", "source": "iris:data", "target": "train:epochs"}
    )
    assert refused.status_code == 422
    assert "&#x27;epochs&#x27; is a parameter (integer)" in refused.content.decode()
    assert 'data-port="train:epochs"' in refused.content.decode()
    ok = client.post(
        url(draft, "gesture/"), {"op": "connect", "source": "iris:data", "target": "train:data"}
    )
    assert 'data-edge="iris.data-&gt;train.data"' in ok.content.decode()
    undone = client.post(url(draft, "gesture/"), {"op": "undo"}).content.decode()
    assert 'data-dz="canvas"' in undone and "data-edge=" not in undone


def test_the_properties_panel_is_a_form_from_the_inputs_and_refuses_bad_values_with_422(
    owner, draft, comps, dataset
):
    d = chain(owner, draft, comps, dataset)
    client = client_for(owner)
    panel = client.get(url(d, "nodes/train/")).content.decode()
    assert 'name="param.epochs"' in panel and 'placeholder="5"' in panel
    assert "Range 1 to 100" in panel and '<option value="saga"' in panel
    assert "Connected from <code>prep.clean</code>" in panel
    bad = client.post(url(d, "nodes/train/"), {"param.epochs": "0", "param.label": "y"})
    assert bad.status_code == 422 and "0 is below the minimum, 1." in bad.content.decode()
    good = client.post(url(d, "nodes/train/"), {"param.epochs": "3", "param.label": "y"})
    assert good.status_code == 200
    assert Draft.objects.get(pk=d.pk).graph["nodes"]["train"]["params"] == {
        "epochs": 3, "label": "y"
    }  # fmt: skip


def test_validate_lists_problems_with_links_to_their_nodes(owner, draft, comps):
    d = drafts.node_add(actor=owner, draft=draft, kind="component", ref="azureml:train:1")
    html = client_for(owner).post(url(d, "validate/")).content.decode()
    assert 'href="#node-train"' in html and "required input port" in html
    assert "no compute" in html and "data-marks=" in html


def test_history_says_who_changed_what_and_export_downloads_yaml(owner, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    history = client_for(owner).get(url(d, "history/")).content.decode()
    assert "alice" in history and "connected prep.clean → train.data" in history
    export = client_for(owner).get(url(d, "export.yml"))
    assert export["Content-Disposition"] == 'attachment; filename="My-pipeline.yml"'
    assert b"component: azureml:train:1" in export.content


def test_a_reader_sees_the_canvas_but_cannot_change_it(reader, draft, comps):
    client = client_for(reader)
    page = client.get(url(draft)).content.decode()
    assert 'data-editable="false"' in page
    response = client.post(url(draft, "gesture/"), {"op": "add", "kind": "component",
                                                    "ref": "azureml:train:1"})  # fmt: skip
    assert response.status_code == 403


def test_a_reader_sees_the_draft_settings_and_node_parameters_disabled(
    owner, reader, draft, comps, cluster
):
    import re

    d = drafts.node_add(actor=owner, draft=draft, kind="component", ref="azureml:train:1")
    controls = re.compile(r"<(?:select|input)\b[^>]*>")
    for user, editable in ((reader, False), (owner, True)):
        panel = client_for(user).get(url(d, "settings/")).content.decode()
        names = ("default_compute", "experiment_name", "continue_on_step_failure", "force_rerun")
        for name in names:
            tag = next(t for t in controls.findall(panel) if f'name="{name}"' in t)
            assert (" disabled" in tag) is not editable, (user, tag)
        assert ("Save settings" in panel) is editable
        assert ("Read only: your role cannot change this draft." in panel) is not editable
        node = client_for(user).get(url(d, "nodes/train/")).content.decode()
        assert ("<fieldset disabled>" in node) is not editable
        assert ('class="primary">Save</button>' in node) is editable
