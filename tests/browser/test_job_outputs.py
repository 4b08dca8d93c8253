"""A job's Outputs + logs tab in Chromium: a picture the job logged (autolog's confusion
matrix, `mlflow.log_image`) shows in place when its file is picked, decoded by the browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_pipeline_step_panel import open_as
from tests.jobs.test_pages import png
from tests.matrix.jobs_runs import make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_logged_picture_shows_in_place_in_the_outputs_tab(page, live_server, owner, workspace):
    # autolog logs it at the root of the run's artifacts, beside outputs/ and user_logs/
    make_run(workspace, name="pics", files={"training_confusion_matrix.png": png(5, 4)})
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/jobs/pics/?tab=outputs")
    page.get_by_role("link", name="training_confusion_matrix.png").click()
    picture = page.locator("#file-preview img.preview-image")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("alt", "training_confusion_matrix.png")
    picture.evaluate("img => img.decode()")  # rejects when the browser cannot show it
    assert picture.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [5, 4]


def test_a_long_file_name_wraps_and_its_download_link_stays_in_the_card(
    page, live_server, owner, workspace
):
    name = "training_precision_recall_curve_of_the_final_fit.png"
    make_run(workspace, name="long", files={name: png(), "metric_info.json": b"{}"})
    open_as(page, live_server, owner)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/w/churn/jobs/long/?tab=outputs")
    row = page.locator(f'#file-tree tr[data-path="{name}"]')
    download = row.get_by_role("link", name="Download").bounding_box()
    card = page.locator("section.card", has=page.locator("#job-files")).bounding_box()
    assert download["x"] + download["width"] <= card["x"] + card["width"], (download, card)
    assert download["height"] < 30  # "Download" on one line
