"""Browser fixtures, a pytest plugin registered in tests/conftest.py so that every module
shares the one Chromium of a session (two sync Playwright instances cannot share a thread).
A real Chromium (Debian's, never a downloaded one) driven through Playwright's sync API
against pytest-django's live server.

Playwright's sync API runs an event loop in the test thread, so Django's async-safety check
would refuse the ORM calls the tests make; pytest-django + Playwright users turn it off.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import require_service

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the session; each test gets its own context (cookies) through `page`."""
    require_service(
        "Chromium", CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (a user with no cookies); closed after the test."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def drag(page, source, target, position: dict | None = None) -> None:
    """Drag `source` onto `target` (at `position` within it) the way Playwright's docs say
    to drag by hand: hover, press, hover the target twice (the second move is the one that
    surely fires `dragover`), release. `Locator.drag_to` does it in one move and, on a busy
    page, a palette drop now and then never reached the canvas."""
    source.hover()
    page.mouse.down()
    target.hover(position=position)
    target.hover(position=position)
    page.mouse.up()


def drop_on_canvas(page, item, node: str, x: int, y: int) -> None:
    """Drop the Designer palette item `item` (a selector or a locator) on the canvas at (x, y) and wait for
    the whole answer: the node `node` on the canvas and, since a drop selects what it added,
    its properties panel. The next gesture then starts on a settled page."""
    from playwright.sync_api import expect

    source = page.locator(item).first if isinstance(item, str) else item
    drag(page, source, page.locator("#dz-stage"), {"x": x, "y": y})
    expect(page.locator(f"#node-{node}")).to_be_visible()
    expect(page.locator(f'.dz-panel[data-node="{node}"]')).to_be_visible()
