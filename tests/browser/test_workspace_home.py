"""The workspace home in Chromium: the "Use it from your terminal" tile shows the whole
`studio login --url …` line (it wraps inside the tile, nothing is cut off), and a
datastore's name opens its page."""

from __future__ import annotations

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_terminal_tile_wraps_its_login_line(page, live_server, workspace, owner):
    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/w/{workspace.name}/")
    tile = page.locator("#terminal-tile").bounding_box()
    pre = page.locator("#terminal-tile pre.terminal")
    box = pre.bounding_box()
    assert box["x"] + box["width"] <= tile["x"] + tile["width"] + 0.5
    sizes = pre.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert sizes[0] <= sizes[1], f"the login line overflows: {sizes}"
    assert "--token <token>" in pre.inner_text()
    ds = workspace.datastores.get(is_default=True)
    page.get_by_role("link", name=ds.name, exact=True).first.click()
    page.wait_for_url(f"**/w/{workspace.name}/datastores/{ds.name}/")
