"""A registered pipeline component in the Designer, in Chromium: picked at an older version
in the palette's Pipeline components group, dragged onto the canvas as one node marked
'pipeline', fed from a dataset at its interface's port, a refused connection's reason shown
at the port, its parameter set in the properties panel, and Validate asking only for a
compute (the draft's default or the node's own)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.designer import drafts
from apps.designer.models import Draft
from tests.browser.test_foundation import log_in
from tests.browser_fixtures import drag, drop_on_canvas
from tests.designer.fixtures import *  # noqa: F403 (fixtures)
from tests.designer.test_pipeline_nodes import sub  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_drag_a_pipeline_component_connect_it_and_set_its_parameter(
    page,
    live_server,
    owner,
    workspace,
    comps,
    dataset,
    sub,  # noqa: F811
):
    draft = drafts.draft_create(actor=owner, workspace=workspace, name="Sub")
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/w/churn/designer/{draft.pk}/")
    item = page.locator('#dz-pipelines .dz-item[data-name="prep_train"]')
    expect(item).to_contain_text("pipeline")
    item.locator(".dz-version").select_option("azureml:prep_train:1")
    drop_on_canvas(page, item, "prep_train", 420, 60)
    node = page.locator("#node-prep_train")
    expect(node.locator(".dz-badge")).to_have_text("pipeline")
    expect(node.locator('.dz-in[data-port="raw"]')).to_be_visible()
    expect(node.locator('.dz-out[data-port="model"]')).to_be_visible()
    drop_on_canvas(page, '.dz-item[data-ref="azureml:iris:3"]', "iris", 60, 60)
    out = page.locator('#node-iris .dz-out[data-port="data"] i')
    drag(page, out, node.locator('.dz-in[data-port="raw"]'))
    expect(page.locator('path[data-edge="iris.data->prep_train.raw"]')).to_have_count(1)
    drop_on_canvas(page, '.dz-item[data-name="table_only"]', "table_only", 420, 260)
    drag(
        page,
        node.locator('.dz-out[data-port="model"] i'),
        page.locator('#node-table_only .dz-in[data-port="table"]'),
    )
    expect(page.locator("#dz-refusal-box")).to_contain_text(
        "a mlflow_model output cannot feed 'table'"
    )
    node.locator(".dz-node-head").click()
    expect(page.locator("#dz-subpipeline")).to_contain_text("prep_train.prep")
    page.locator("#p-label").fill("species")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".dz-panel")).not_to_contain_text("'label' is required")
    saved = Draft.objects.get(pk=draft.pk).graph["nodes"]["prep_train"]
    assert saved["ref"] == "azureml:prep_train:1" and saved["params"] == {"label": "species"}
    page.locator("#dz-validate").click()
    issues = page.locator("#dz-issues")
    expect(issues).to_contain_text("no compute: set the draft's default compute or this node's")
    expect(issues).not_to_contain_text("'raw' is not connected")
