"""The calendar in a real browser (Debian's Chromium through Playwright, against pytest-django's
live server): the post shows at the brand's local time, and moves by keyboard and by drag and
drop with calendar.js under the strict CSP."""

from __future__ import annotations

import os
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tertulia.content.models import Post

from .test_calendar_kit import build, future, post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MADRID = ZoneInfo("Europe/Madrid")
PASSWORD = "correct horse battery"  # the ``make_user`` default


@pytest.fixture
def page(chromium_path):
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        context = browser.new_context(locale="en-US", timezone_id="America/New_York")
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def test_move_by_keyboard_and_by_drag(live_server, page, brand_a):
    c = build(brand_a)
    when = future(9, hour=8, minute=40)
    p = post(c, "Arrástrame", when=when)
    local = when.astimezone(MADRID)
    monday = local.date() - timedelta(days=local.weekday())
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", c.people["community_manager"].username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(f"{live_server.url}/brands/{c.brand.pk}/calendar/?view=week&date={monday.isoformat()}")

    item = page.locator(f'[data-post-id="{p.pk}"]')
    # The brand's local time, whatever the browser's own zone is (New York here).
    assert item.locator("time").inner_text() == local.strftime("%H:%M")
    assert item.evaluate("el => el.closest('td').dataset.date") == local.date().isoformat()

    # Keyboard: Alt+Right moves it one day and keeps the time of day.
    if local.weekday() == 6:  # keep the target day inside the week shown
        key, step = "Alt+ArrowLeft", -1
    else:
        key, step = "Alt+ArrowRight", 1
    item.focus()
    page.keyboard.press(key)
    expected = (local.date() + timedelta(days=step)).isoformat()
    page.locator(f'td.cal-day[data-date="{expected}"] [data-post-id="{p.pk}"]').wait_for()
    assert "Post moved" in page.locator("#cal-status").inner_text()
    moved = Post.objects.get(pk=p.pk).scheduled_at.astimezone(MADRID)
    assert (moved.date().isoformat(), moved.strftime("%H:%M")) == (expected, local.strftime("%H:%M"))

    # Drag and drop onto another day of the week.
    target = monday if expected != monday.isoformat() else monday + timedelta(days=6)
    # Playwright's mouse emulation of HTML5 drag and drop is unreliable in headless Chromium, so
    # the drag events a browser fires are dispatched here, with a real DataTransfer.
    page.evaluate("""([postId, date]) => {
        const item = document.querySelector(`[data-post-id="${postId}"]`);
        const cell = document.querySelector(`td.cal-day[data-date="${date}"]`);
        const dt = new DataTransfer();
        const fire = (el, type) => el.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true,
                                                                         dataTransfer: dt}));
        fire(item, "dragstart");
        if (fire(cell, "dragover")) { throw new Error("dragover was not accepted"); }
        fire(cell, "drop");
        fire(item, "dragend");
    }""", [p.pk, target.isoformat()])
    page.locator(f'td.cal-day[data-date="{target.isoformat()}"] [data-post-id="{p.pk}"]').wait_for()
    moved = Post.objects.get(pk=p.pk).scheduled_at.astimezone(MADRID)
    assert (moved.date(), moved.strftime("%H:%M")) == (target, local.strftime("%H:%M"))
    # Shortcuts: N goes to the next week, T back to today's.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("n")
    page.wait_for_url(lambda url: f"date={(monday + timedelta(days=7)).isoformat()}" in url)
    page.keyboard.press("t")
    page.wait_for_url(lambda url: "date=" not in url and "view=week" in url)
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
