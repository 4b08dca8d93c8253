"""Walkthrough step 2 in a real browser: the admin opens Users from the user menu, creates
Dana with a generated password (shown once), deactivates and reactivates her without a page
load, and Dana signs in with that password."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.browser.test_foundation import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_creates_dana_in_the_studio_and_she_signs_in(page, new_page, live_server):
    base = live_server.url
    UserFactory(username="admin", is_staff=True)
    log_in(page, base, "admin")

    page.get_by_role("navigation", name="User").get_by_role("link", name="Users").click()
    expect(page).to_have_url(f"{base}/users/")
    page.get_by_role("link", name="+ New user").click()
    page.get_by_label("User name").fill("dana")
    page.get_by_label("Full name").fill("Dana Scott")
    page.get_by_label("Email").fill("dana@example.com")
    expect(page.get_by_label("Generate a password")).to_be_checked()
    page.get_by_role("button", name="Create user").click()
    password = page.locator("#new-password").inner_text().strip()
    assert len(password) >= 16

    page.evaluate("window.__marker = 1")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("button", name="Reactivate")).to_be_visible()
    assert not get_user_model().objects.get(username="dana").is_active
    page.get_by_role("button", name="Reactivate").click()
    expect(page.get_by_role("button", name="Deactivate")).to_be_visible()
    assert page.evaluate("window.__marker") == 1, "the actions reloaded the page"

    page.goto(f"{base}/users/")
    page.get_by_role("searchbox", name="Filter users").fill("scott")
    expect(page.locator("#users tbody tr")).to_have_count(1)
    expect(page.locator("#users tbody tr")).to_contain_text("dana@example.com")

    dana = new_page()
    dana.goto(f"{base}/login/")
    dana.get_by_label("User name").fill("dana")
    dana.get_by_label("Password").fill(password)
    dana.get_by_role("button", name="Sign in").click()
    expect(dana).not_to_have_url(re.compile(r"/login/"))
    expect(dana.get_by_role("navigation", name="User")).not_to_contain_text("Users")
