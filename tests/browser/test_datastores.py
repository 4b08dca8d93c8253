"""Datastores in a real browser: the create form shows only the chosen type's fields; a file
uploaded through the page (htmx, with its progress bar) appears in the browser, opens in a
CSV preview, and downloads; a Reader sees the upload greyed out."""

from __future__ import annotations

import pytest
from django.template.defaultfilters import filesizeformat
from playwright.sync_api import expect

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _views_imported():
    """The live server's first request imports every app's views, which on a busy machine can
    outlast a page load's timeout; import them before the browser asks."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - importing is the point


def test_the_form_shows_the_fields_of_the_chosen_type(page, live_server, owner, workspace):
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/w/churn/datastores/-/new/")

    expect(page.get_by_label("Storage account")).to_be_visible()
    expect(page.get_by_label("Bucket")).to_be_hidden()
    page.get_by_label("Type").select_option("s3")
    expect(page.get_by_label("Bucket")).to_be_visible()
    expect(page.get_by_label("Storage account")).to_be_hidden()
    page.get_by_label("Type").select_option("local")
    page.get_by_label("Name").fill("scratch")
    page.get_by_label("Folder").fill("scratch")
    page.get_by_role("button", name="Test connection and create").click()

    expect(page).to_have_url(f"{live_server.url}/w/churn/datastores/scratch/")
    expect(page.locator(".messages")).to_contain_text("Datastore 'scratch' created.")


def test_upload_browse_preview_and_download_in_the_page(
    page,
    live_server,
    owner,
    workspace,
    tmp_path,
):
    csv = tmp_path / "people.csv"
    csv.write_text("id,name\n" + "".join(f"{i},person {i}\n" for i in range(100)))
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/w/churn/datastores/workspaceblobstore/")

    page.set_input_files("#upload-file", str(csv))
    page.get_by_role("button", name="Upload", exact=True).click()

    expect(page.locator("#browser .msg-success")).to_have_text("Uploaded people.csv.")
    row = page.locator('tr[data-path="people.csv"]')
    expect(row).to_contain_text(filesizeformat(csv.stat().st_size))
    with page.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "people.csv"
    row.get_by_role("link", name="people.csv").click()
    expect(page.locator("table.csv th").first).to_have_text("id")
    expect(page.locator("table.csv tbody tr")).to_have_count(50)


def test_a_reader_sees_upload_and_delete_greyed_out(page, live_server, workspace, reader):
    log_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/w/churn/datastores/workspaceblobstore/")

    expect(page.get_by_role("button", name="Upload")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete")).to_be_disabled()
    expect(page.locator("#upload-file")).to_have_count(0)
