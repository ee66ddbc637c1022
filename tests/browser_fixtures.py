"""A real headless Chromium for the dashboard and report tests, driven by Playwright for Python.

Debian's `chromium` (/usr/bin/chromium; `.ci/run` installs it when missing) is used as it is:
Playwright cannot download its own browsers here. Without it the tests fail, not skip, so a CI
machine that lost the browser cannot pass silently.

Fixtures:
- `browser`: one Chromium per test session, started with the flags a sandbox-less container
  needs (no GPU, no background networking, no component updates, no first-run UI).
- `page`: a fresh browser context per test (a fresh profile: no storage, cookies or session
  left by another test) and a page in it. The page records what it did: `page.console_errors`
  (console messages of type error, and uncaught page errors), `page.requested_hosts` (every
  request's host:port) and `page.dialogs` (alert/confirm/prompt texts, each dismissed), so a
  test can assert "no console errors", "no request to another host", "no injected dialog".
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("RELEASE_TRAINS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's chromium package "
            "(`apt-get install -y chromium`; .ci/run does it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.console_errors = []
    opened.requested_hosts = []
    opened.dialogs = []

    def on_console(message: Any) -> None:
        if message.type == "error":
            opened.console_errors.append(message.text)

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: opened.console_errors.append(str(error)))
    opened.on("request", lambda r: opened.requested_hosts.append(urlsplit(r.url).netloc))
    opened.on("dialog", on_dialog)
    try:
        yield opened
    finally:
        context.close()
