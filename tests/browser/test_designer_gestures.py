"""The Designer in Chromium, on components made in the test: drag a dataset and two
components onto the canvas, connect ports, see a refused connection's reason at the port,
undo, and save a parameter from the properties panel."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.designer import drafts
from apps.designer.models import Draft
from tests.browser.test_foundation import log_in
from tests.browser_fixtures import drag, drop_on_canvas
from tests.designer.fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def test_drag_connect_refuse_undo_and_set_a_parameter(
    page, live_server, owner, workspace, comps, dataset
):
    draft = drafts.draft_create(actor=owner, workspace=workspace, name="Browser")
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/w/churn/designer/{draft.pk}/")
    drop_on_canvas(page, '.dz-item[data-ref="azureml:iris:3"]', "iris", 60, 60)
    drop_on_canvas(page, '.dz-item[data-name="train"]', "train", 420, 60)
    out = page.locator('#node-iris .dz-out[data-port="data"] i')
    drag(page, out, page.locator('#node-train .dz-in[data-port="data"]'))
    expect(page.locator('path[data-edge="iris.data->train.data"]')).to_have_count(1)
    drop_on_canvas(page, '.dz-item[data-name="score"]', "score", 420, 300)
    drag(page, out, page.locator('#node-score .dz-in[data-port="model"]'))
    expect(page.locator("#dz-refusal-box")).to_contain_text(
        "cannot feed 'model', a mlflow_model input"
    )
    page.locator("#dz-undo").click()
    expect(page.locator("#node-score")).to_have_count(0)
    page.locator("#node-train .dz-node-head").click()
    page.locator("#p-label").fill("species")
    page.locator("#p-epochs").fill("500")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".dz-panel")).to_contain_text("500 is above the maximum, 100.")
    page.locator("#p-epochs").fill("50")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".dz-panel")).not_to_contain_text("above the maximum")
    params = Draft.objects.get(pk=draft.pk).graph["nodes"]["train"]["params"]
    assert params == {"epochs": 50, "label": "species"}
