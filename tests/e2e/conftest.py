"""Playwright against Debian's Chromium (never `playwright install`), with screenshots of every
open page in test-results/ when a test fails."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

RESULTS_DIR = Path(__file__).resolve().parents[2] / "test-results"
LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    # The sync API keeps an event loop in this thread, so Django's guard against ORM calls from
    # async code would trip on the test's own (synchronous) database work. Only for these tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_context(browser, request):
    """Make isolated browser contexts (separate cookies: separate people); screenshots on failure."""
    contexts = []

    def make(**options):
        options.setdefault("locale", "en-US")
        options.setdefault("timezone_id", "Europe/Madrid")
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make

    failed = any(getattr(request.node, f"rep_{when}", None) is not None
                 and getattr(request.node, f"rep_{when}").failed for when in ("setup", "call"))
    if failed:
        RESULTS_DIR.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        for c, context in enumerate(contexts):
            for p, page in enumerate(context.pages):
                try:
                    page.screenshot(path=str(RESULTS_DIR / f"{name}-ctx{c}-page{p}.png"), full_page=True)
                except Exception:  # a crashed page must not hide the real failure
                    pass
    for context in contexts:
        context.close()
