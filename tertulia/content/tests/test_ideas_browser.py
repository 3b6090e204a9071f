"""The idea board in a real browser (Debian's Chromium through Playwright, against pytest-django's
live server): a card is dragged to another column and place with ideas.js under the strict CSP,
and moved with the ← ↑ ↓ → buttons, which are plain forms."""

from __future__ import annotations

import os

import pytest

from tertulia.content import ideas as svc
from tertulia.content.models import Idea
from tertulia.core.services import Ctx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery"  # the ``make_user`` default


@pytest.fixture
def page(chromium_path):
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def order(brand, status):
    return list(Idea.objects.filter(brand=brand, status=status).order_by("position").values_list("title", flat=True))


def test_drag_and_keyboard_moves(live_server, page, brand_a):
    brand, people = brand_a
    ctx = Ctx(people["community_manager"])
    uno, dos, tres = (svc.do_create_idea(ctx, brand, title=t, notes="Notas de la idea") for t in ("Uno", "Dos", "Tres"))
    ready = svc.do_create_idea(ctx, brand, title="Lista", status="ready")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", people["community_manager"].username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(f"{live_server.url}/brands/{brand.pk}/ideas/")

    # Drag "Tres" above "Lista" in the Ready column. Playwright's mouse emulation of HTML5 drag
    # and drop is unreliable headless, so the events a browser fires are dispatched here.
    page.evaluate("""([cardId, targetId]) => {
        const card = document.getElementById(`idea-${cardId}`);
        const target = document.getElementById(`idea-${targetId}`);
        const list = target.closest(".idea-cards");
        const box = target.getBoundingClientRect();
        const dt = new DataTransfer();
        const fire = (el, type, y) => el.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true,
                                                                           dataTransfer: dt, clientY: y}));
        fire(card, "dragstart", 0);
        if (fire(list, "dragover", box.top + 2)) { throw new Error("dragover was not accepted"); }
        fire(list, "drop", box.top + 2);
        fire(card, "dragend", 0);
    }""", [tres.pk, ready.pk])
    page.locator("#idea-status", has_text="Card moved.").wait_for()
    assert order(brand, "ready") == ["Tres", "Lista"]
    assert order(brand, "idea") == ["Uno", "Dos"]
    assert page.locator('.idea-cards[data-status="ready"] .idea-card').all_inner_texts()[0].startswith("Tres")

    # Keyboard alternative: "Move to the next column" on "Uno" (a plain form post and reload).
    page.locator(f"#idea-{uno.pk} button[aria-label='Move to the next column']").click()
    page.wait_for_url(lambda url: url.endswith(f"#idea-{uno.pk}"))
    assert order(brand, "writing") == ["Uno"]
    page.locator(f"#idea-{dos.pk} button[aria-label='Move to the next column']").click()
    page.wait_for_url(lambda url: url.endswith(f"#idea-{dos.pk}"))
    page.locator(f"#idea-{dos.pk} button[aria-label='Move up']").click()
    page.wait_for_load_state()
    assert order(brand, "writing") == ["Dos", "Uno"]
    page.screenshot(path=os.path.join(os.environ.get("TERTULIA_SCREENSHOTS", "/tmp"), "idea_board.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
