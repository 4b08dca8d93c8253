"""The foundation, end to end in a real browser: log in, create a workspace, add a second
user as Reader, log in as that user, see no mutating control, and have a forced POST refused.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.workspaces.models import Membership, RoleAuditEntry
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"  # UserFactory's default

# Every control inside the page's main area that could change something. The top bar (the
# workspace switcher, "Sign out") is outside #main and is not about the workspace.
ENABLED_MUTATING_CONTROLS_JS = """() => {
  const main = document.getElementById("main");
  const selector = [
    "button:enabled", "select:enabled", "textarea:enabled",
    "input:enabled:not([type=hidden]):not([type=search])",
    "[hx-post]", "[hx-put]", "[hx-patch]", "[hx-delete]",
    "form[method=post] button:enabled", "a[href*='/delete/']",
  ].join(", ");
  return [...main.querySelectorAll(selector)].map((el) => el.outerHTML.slice(0, 120));
}"""

FORCED_POST_JS = """async ({url, body, withToken}) => {
  const headers = {"Content-Type": "application/x-www-form-urlencoded"};
  if (withToken) {
    headers["X-CSRFToken"] = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
  }
  const response = await fetch(url, {method: "POST", headers, body, redirect: "manual"});
  return response.status;
}"""


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))
    expect(page.locator("header.topbar")).to_contain_text(username)


def memberships(workspace_name: str) -> set[tuple[str, str]]:
    return set(
        Membership.objects.filter(workspace__name=workspace_name).values_list(
            "user__username", "role"
        )
    )


def test_owner_adds_a_reader_who_sees_no_mutating_control_and_is_refused_a_forced_post(
    page, live_server, tmp_path
):
    base = live_server.url
    UserFactory(username="alice")
    UserFactory(username="rita")
    UserFactory(username="mallory")

    # 1. alice signs in and lands on the (empty) workspace list.
    log_in(page, base, "alice")
    expect(page).to_have_url(f"{base}/workspaces/")
    expect(page.get_by_role("link", name="Create a workspace")).to_be_visible()

    # 2. She creates `churn` through "+ New" and lands on its home page.
    page.get_by_role("link", name="+ New").click()
    expect(page).to_have_url(f"{base}/workspaces/new/")
    page.get_by_role("textbox", name="Name", exact=True).fill("churn")
    page.get_by_label("Friendly name").fill("Churn prediction")
    page.get_by_label("Description").fill("Who leaves, and why.")
    page.get_by_label("Tags").fill("team=growth")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(f"{base}/w/churn/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Churn prediction")
    expect(page.locator(".pagehead .badge")).to_have_text("Owner")
    assert memberships("churn") == {("alice", "Owner")}

    # 3. Access control: add rita as Reader through the HTMX form, without a page load.
    page.get_by_role("navigation", name="Workspace").get_by_role(
        "link", name="Access control"
    ).click()
    expect(page).to_have_url(f"{base}/w/churn/access/")
    page.evaluate("window.__marker = 1")
    page.locator("#add-user").fill("rita")
    page.get_by_label("Role", exact=True).select_option("Reader")
    with page.expect_response(
        lambda r: r.url.endswith("/w/churn/access/add/") and r.request.method == "POST"
    ) as added:
        page.get_by_role("button", name="+ Add member").click()
    assert added.value.status == 200
    assert added.value.request.headers.get("hx-request") == "true"
    rita_row = page.locator("#members tr[data-user='rita']")
    expect(rita_row).to_be_visible()
    expect(rita_row.locator("select")).to_have_value("Reader")
    expect(page.locator("#audit")).to_contain_text("added rita as Reader")
    assert page.evaluate("window.__marker") == 1, "adding a member reloaded the page"
    expect(page).to_have_url(f"{base}/w/churn/access/")
    assert memberships("churn") == {("alice", "Owner"), ("rita", "Reader")}

    # 4. alice signs out (a POST form in the top bar).
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/"))

    # 5. rita signs in: she sees the workspace and its members, and no enabled mutating control.
    log_in(page, base, "rita")
    expect(page).to_have_url(f"{base}/w/churn/")  # her only workspace
    expect(page.get_by_role("heading", level=1)).to_have_text("Churn prediction")
    expect(page.locator(".pagehead .badge")).to_have_text("Reader")
    assert page.evaluate(ENABLED_MUTATING_CONTROLS_JS) == []

    page.goto(f"{base}/w/churn/access/")
    expect(page.locator("#members tbody tr")).to_have_count(2)
    expect(page.locator("#members tr[data-user='alice']")).to_contain_text("Owner")
    expect(page.locator("#members tr[data-user='rita']")).to_contain_text("Reader")
    expect(page.locator("#audit")).to_contain_text("added rita as Reader")
    expect(page.get_by_role("button", name="+ Add member")).to_be_disabled()
    expect(page.locator("#main select")).to_have_count(0)
    expect(page.locator("#main form")).to_have_count(0)
    removes = page.get_by_role("button", name="Remove")
    expect(removes).to_have_count(2)
    for i in range(2):
        expect(removes.nth(i)).to_be_disabled()
    assert page.evaluate(ENABLED_MUTATING_CONTROLS_JS) == []
    screenshot = tmp_path / "rita-access-control.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0

    page.goto(f"{base}/w/churn/settings/")
    fieldset = page.locator("#main form fieldset")
    expect(fieldset).to_have_attribute("disabled", "")
    assert fieldset.evaluate("el => el.disabled") is True
    expect(page.get_by_label("Friendly name")).to_be_disabled()
    expect(page.get_by_label("Friendly name")).to_have_value("Churn prediction")
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete")).to_be_disabled()
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    assert page.evaluate(ENABLED_MUTATING_CONTROLS_JS) == []

    # 6. A forced POST from rita's page is refused: by the role check with the CSRF token,
    # by the CSRF check without it. Nothing changes.
    audit_before = RoleAuditEntry.objects.filter(workspace__name="churn").count()
    forced = [
        ("/w/churn/access/add/", "user=mallory&role=Owner"),
        ("/w/churn/access/rita/role/", "role=Owner"),
        ("/w/churn/access/alice/remove/", ""),
        ("/w/churn/settings/", "display_name=Pwned&description=&tags="),
    ]
    for url, body in forced:
        for with_token in (True, False):
            status = page.evaluate(
                FORCED_POST_JS, {"url": url, "body": body, "withToken": with_token}
            )
            assert status == 403, (url, with_token, status)
    assert memberships("churn") == {("alice", "Owner"), ("rita", "Reader")}
    assert not Membership.objects.filter(user__username="mallory").exists()
    assert RoleAuditEntry.objects.filter(workspace__name="churn").count() == audit_before
    page.reload()
    expect(page.get_by_label("Friendly name")).to_have_value("Churn prediction")


def test_non_member_gets_the_same_404_as_for_a_missing_workspace(page, live_server):
    from tests.factories import make_workspace

    base = live_server.url
    make_workspace(owner=UserFactory(username="alice"), name="churn")
    UserFactory(username="eve")

    log_in(page, base, "eve")
    response = page.goto(f"{base}/w/churn/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    existing = page.locator("#main").inner_text()
    assert "churn" not in page.content().lower()  # nothing about the workspace leaks

    response = page.goto(f"{base}/w/does-not-exist/")
    assert response.status == 404
    assert page.locator("#main").inner_text() == existing

    for path in ("/w/churn/access/", "/w/churn/settings/"):
        assert page.goto(f"{base}{path}").status == 404
