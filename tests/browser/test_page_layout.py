"""Layout defects found in an acceptance pass, checked in a real Chromium:
- an asset list's command bar (+ New, Refresh, search, Include archived) is one row of
  buttons of one height, not tall buttons beside a search box squeezed into two lines;
- a job page whose input is a long azureml:// URI stays within the window (the URI wraps).
"""

from __future__ import annotations

import pytest

from tests.browser.test_foundation import log_in
from tests.jobs.test_runner_support import make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_URI = (
    "azureml://datastores/workspaceblobstore/paths/LocalUpload/"
    "2f8150f870262d98835e75576351cc7b7ce3f123ca198cc9d5754da3acb9b767/iris.csv"
)


def test_asset_list_command_bar_is_one_row(page, live_server, workspace, owner):
    log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/w/{workspace.name}/data/")
    create = page.locator(".commandbar a", has_text="+ New").bounding_box()
    refresh = page.locator(".commandbar a", has_text="Refresh").bounding_box()
    search = page.locator("#asset-search").bounding_box()
    archived = page.get_by_label("Include archived").bounding_box()
    assert create["height"] < 40 and abs(create["height"] - refresh["height"]) < 1
    centre = create["y"] + create["height"] / 2
    for box in (refresh, search, archived):
        assert abs(box["y"] + box["height"] / 2 - centre) < 6, box
    assert search["width"] >= 250  # the placeholder "Search by name or description" shows


def test_job_page_with_a_long_input_uri_does_not_widen_the_page(
    page, live_server, workspace, owner
):
    spec = {"inputs": {"iris": {"kind": "data", "type": "uri_file", "uri": LONG_URI}}}
    job = make_job(workspace, owner, spec)
    log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/w/{workspace.name}/jobs/{job.name}/")
    assert page.get_by_text("iris.csv").is_visible()
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide in a {width[1]} px window"
