"""The data create page in Chromium: submitted empty, its upload script lets the server
answer, which flags the Name field and the files at their places (not only "Upload
failed")."""

from __future__ import annotations

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_empty_submit_flags_the_name_and_the_files(page, live_server, workspace, owner):
    log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/w/{workspace.name}/data/-/new/")
    page.get_by_role("button", name="Create").click()
    name_error = page.locator(".field.has-error:has(#id_name) .error")
    name_error.wait_for()
    assert name_error.inner_text() == "This field is required."
    assert page.locator("#upload-error").inner_text() == "Choose a file or a folder to upload."
    assert "Upload failed" not in page.locator("#data-status").inner_text()
