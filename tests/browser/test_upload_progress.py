"""Uploads show their progress in Chromium: the model form (a plain multipart form) sends a
chosen file by XMLHttpRequest with a bar and a percentage, then goes to the new version, or
shows the form again with its error; an htmx form that sends files (components) gets the same
bar from htmx's progress events. The upload is slowed with Chromium's network throttling so
the bar is seen mid-way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.assets.models import ModelVersion
from apps.workspaces import storage

from .test_metric_charts import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAYLOAD = b"\x00weights" * 100_000  # 800 kB


def slow_uploads(page, bytes_per_second: int = 200_000) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1,
         "uploadThroughput": bytes_per_second},
    )  # fmt: skip


def test_a_model_upload_shows_its_progress_then_opens_the_version(
    page, live_server, owner, workspace
):
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/models/-/new/")
    page.fill("#id_name", "weights")
    page.set_input_files(
        "#id_file", files=[{"name": "w.bin", "mimeType": "application/octet-stream",
                            "buffer": PAYLOAD}]
    )  # fmt: skip
    slow_uploads(page)
    page.click("form.model-form button[type=submit]")
    bar = page.locator("form.model-form progress.upload-progress")
    expect(bar).to_be_visible()
    expect(page.locator("form.model-form .upload-status")).to_contain_text("Uploading")
    page.wait_for_function(
        "() => { const b = document.querySelector('progress.upload-progress');"
        " return !b || (b.value > 0 && b.value < b.max) || b.value === b.max; }"
    )
    page.wait_for_url("**/models/weights/versions/1/", timeout=30_000)
    row = ModelVersion.objects.get(workspace=workspace, name="weights", version="1")
    datastore, rel = storage.resolve_datastore_uri(workspace, row.path)
    store = storage.open_store(datastore)
    stored = store.stat(rel)
    if stored.is_dir:
        stored = store.stat(f"{rel}/w.bin")
    assert stored.size == len(PAYLOAD)  # all of it arrived

    page.goto(f"{live_server.url}/w/churn/models/-/new/")
    page.fill("#id_name", "weights")
    page.fill("#id_version", "1")  # taken: the form comes back with the error
    page.set_input_files(
        "#id_file", files=[{"name": "w.bin", "mimeType": "application/octet-stream",
                            "buffer": b"x"}]
    )  # fmt: skip
    page.click("form.model-form button[type=submit]")
    expect(page.locator("form.model-form [role=alert]").first).to_contain_text(
        "version 1 of 'weights' exists"
    )
    assert page.url.endswith("/w/churn/models/-/new/")
    assert ModelVersion.objects.filter(workspace=workspace, name="weights").count() == 1


def test_an_htmx_form_sending_files_shows_the_same_bar(page, live_server, owner, workspace):
    import io
    import os
    import zipfile

    from apps.assets.models import ComponentVersion
    from apps.assets.services.environments import environment_create

    environment_create(
        actor=owner, workspace=workspace, name="py", image="studio-base:bookworm-py311-r2"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("train.py", b"print(1)\n")
        zf.writestr("blob.bin", os.urandom(800_000))  # stored as is: the zip stays 800 kB
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/components/-/new/")
    page.fill(
        "#id_yaml",
        "name: slow\ncode: ./src\nenvironment: azureml:py:1\ncommand: python train.py\n",
    )
    page.set_input_files(
        "#id_code_zip", files=[{"name": "code.zip", "mimeType": "application/zip",
                                "buffer": buf.getvalue()}]
    )  # fmt: skip
    slow_uploads(page)
    page.click("#component-create button[type=submit]")
    expect(page.locator("#component-create progress.upload-progress")).to_be_visible()
    expect(page.locator("#component-create .upload-status")).to_contain_text("Uploading")
    page.wait_for_url("**/components/slow/versions/1/", timeout=30_000)
    assert ComponentVersion.objects.get(workspace=workspace, name="slow").code.file_count == 2
