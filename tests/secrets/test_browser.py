"""The Secrets page in a real browser: set a secret through the HTMX form, see a refused
name next to its field, replace a value, delete with confirmation; never see a value."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.workspaces.models import Secret
from apps.workspaces.services import secrets as secret_services
from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_sets_replaces_and_deletes_a_secret_without_ever_seeing_a_value(
    page,
    live_server,
    owner,
    workspace,
    tmp_path,
):
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/w/churn/secrets/")
    expect(page.get_by_role("link", name="Secrets")).to_have_class("active")
    expect(page.locator("#secrets")).to_contain_text("No secrets yet.")

    page.locator("summary", has_text="+ New secret").click()
    page.get_by_label("Name").fill("bad name")
    page.get_by_label("Value").fill("browser-canary-1")
    page.get_by_role("button", name="Save secret").click()
    expect(page.locator(".field.has-error")).to_contain_text("A secret name is")
    expect(page.get_by_label("Value")).to_have_value("")

    page.get_by_label("Name").fill("db-password")
    page.get_by_label("Value").fill("browser-canary-1")
    page.get_by_label("Description").fill("Warehouse")
    page.get_by_role("button", name="Save secret").click()
    expect(page.locator("#vault .msg-success")).to_contain_text("Secret 'db-password' saved.")
    expect(page.locator('tr[data-secret="db-password"]')).to_contain_text("Warehouse")
    expect(page.locator("#secret-audit")).to_contain_text("created")

    page.locator('tr[data-secret="db-password"]').get_by_text("Replace value").click()
    expect(page.get_by_label("Name")).to_have_value("db-password")
    expect(page.get_by_label("Description")).to_have_value("Warehouse")
    expect(page.get_by_label("Value")).to_have_value("")
    page.get_by_label("Value").fill("browser-canary-2")
    page.get_by_role("button", name="Save secret").click()
    expect(page.locator("#secret-audit")).to_contain_text("value replaced")
    expect(page.locator('tr[data-secret="db-password"]')).to_contain_text("Warehouse")
    page.screenshot(path=str(tmp_path / "secrets.png"), full_page=True)
    assert "browser-canary" not in page.content()
    values = secret_services.secret_values_for(
        workspace=workspace, names=["db-password"], purpose="browser test"
    )
    assert values == {"db-password": "browser-canary-2"}

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('tr[data-secret="db-password"]').get_by_role("button", name="Delete").click()
    expect(page.locator("#secrets")).to_contain_text("No secrets yet.")
    assert not Secret.objects.exists()
