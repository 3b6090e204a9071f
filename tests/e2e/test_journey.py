"""End-to-end journeys in a real browser (Debian's Chromium through Playwright) against
pytest-django's live server.

The owner signs in, switches the interface between Spanish and English, creates a brand through
the form, adds an answer to the knowledge base and invites a client reviewer by e-mail. The
reviewer opens the link from the e-mail in a browser of their own, creates an account, and sees
the brand read-only: no audit log, no invite form, no Edit links, and the audit URL is refused.

Tests run Huey in immediate mode and e-mail with Django's locmem backend, so the invitation is
in ``django.core.mail.outbox`` as soon as the owner's request returns.

Spanish strings this test relies on (tertulia/locale/es): "Calendar" -> "Calendario".
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

from tertulia.core import services
from tertulia.core.models import Brand, User
from tertulia.core.services import Ctx
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


def _nav_link(page, key: str):
    return page.locator(f"nav.sidenav a[data-section='{key}']")


def test_owner_invites_a_client_reviewer_who_sees_a_read_only_brand(live_server, new_context):
    base = live_server.url
    owner = User.objects.create_user(username="olga", email="olga@example.com", password=PASSWORD,
                                      first_name="Olga", last_name="Ruiz", language="en")
    services.do_create_organization(Ctx(owner, via="test"), "Barrio Agency")

    page = new_context().new_page()

    # --- The owner signs in: a workspace, no brand yet --------------------------------------
    sign_in(page, base, "olga", PASSWORD)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("main h1").inner_text() == "Welcome to Tertulia"

    # --- Creates a brand through the form -----------------------------------------------------
    page.locator("header a[href='/brands/']").click()
    page.locator("main a[href^='/brands/new/?org=']").click()
    page.fill("#id_name", "Café del Barrio")
    page.select_option("#id_timezone", "Europe/Madrid")
    page.select_option("#id_language", "es")
    page.fill("#id_tone", "Warm, close, never pushy.")
    page.fill("#id_banned_words", "cheap, free")
    page.fill("#id_required_hashtags", "CaféDeBarrio")
    page.locator("main button.primary").click()
    page.wait_for_url(re.compile(r"/brands/\d+/settings/$"))
    brand = Brand.objects.get(name="Café del Barrio")
    assert brand.timezone == "Europe/Madrid" and brand.language == "es"
    assert brand.required_hashtags == ["#CaféDeBarrio"]
    assert "Café del Barrio" in page.locator(".messages").inner_text()
    brand_url = f"{base}/brands/{brand.pk}"

    # --- Switches the interface to Spanish and back -------------------------------------------
    assert _nav_link(page, "calendar").inner_text() == "Calendar"
    page.locator("button[name=language][value=es]").click()
    page.wait_for_function("document.documentElement.lang === 'es'")
    assert _nav_link(page, "calendar").inner_text() == "Calendario"
    assert page.locator("button[name=language][value=es]").get_attribute("aria-pressed") == "true"
    owner.refresh_from_db()
    assert owner.language == "es"  # remembered for next time, not only for this page
    page.reload()
    assert _nav_link(page, "calendar").inner_text() == "Calendario"
    page.locator("button[name=language][value=en]").click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert _nav_link(page, "calendar").inner_text() == "Calendar"

    # --- Adds an answer to the knowledge base ---------------------------------------------------
    page.locator("nav.tabs a[href$='/knowledge/']").click()
    page.locator("main a[href$='/knowledge/new/']").click()
    page.select_option("#id_kind", "faq")
    page.fill("#id_title", "Opening hours")
    page.fill("#id_answer", "Monday to Saturday, 8:00 to 20:00.")
    page.locator("main button.primary").click()
    page.wait_for_url(f"{brand_url}/knowledge/")
    assert page.locator("main table").get_by_text("Opening hours").is_visible()
    assert page.locator("main table a", has_text="Edit").count() == 1

    # --- Invites a client reviewer by e-mail ----------------------------------------------------
    assert page.locator("nav.tabs a[href$='/audit/']").is_visible()
    page.locator("nav.tabs a[href$='/members/']").click()
    mail.outbox.clear()
    page.fill("#id_email", "Rosa@Example.com")
    page.select_option("#id_role", "client_reviewer")
    page.locator("main button.primary", has_text="Send invitation").click()
    page.wait_for_url(f"{brand_url}/members/")
    assert "rosa@example.com" in page.locator(".messages").inner_text()
    assert "rosa@example.com" in page.locator("main ul.list").inner_text()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rosa@example.com"]
    links = re.findall(r"https?://\S+/invitations/[\w-]+/", message.body)
    assert len(links) == 1, message.body
    invitation_path = urlsplit(links[0]).path  # SITE_URL is the production address, not the live server

    # The owner's audit log shows what happened.
    page.locator("nav.tabs a[href$='/audit/']").click()
    actions = page.locator("table.audit code").all_inner_texts()
    assert {"brand.create", "knowledge.create", "invitation.create"} <= set(actions)

    # --- The reviewer opens the link in a browser of their own and creates an account ----------
    reviewer = new_context().new_page()
    reviewer.goto(base + invitation_path)
    assert "Café del Barrio" in reviewer.locator("main h1").inner_text()
    assert "rosa@example.com" in reviewer.locator("main").inner_text()
    reviewer.fill("#id_first_name", "Rosa")
    reviewer.fill("#id_last_name", "Vidal")
    reviewer.fill("#id_username", "rosa")
    reviewer.fill("#id_password", "Tostadas con tomate 2025")
    reviewer.locator("main button.primary").click()
    reviewer.wait_for_url(f"{brand_url}/calendar/")
    assert "Welcome to Café del Barrio" in reviewer.locator(".messages").inner_text()
    rosa = User.objects.get(username="rosa")
    assert rosa.email == "rosa@example.com"
    assert rosa.memberships.get(brand=brand).role == "client_reviewer"

    # --- The reviewer's view is read-only -------------------------------------------------------
    reviewer.goto(f"{brand_url}/settings/")
    assert reviewer.locator("main dl.details").get_by_text("Café del Barrio").is_visible()
    assert reviewer.locator("main form input#id_name").count() == 0  # no brand form
    assert reviewer.locator("#confirm_name").count() == 0  # cannot delete the brand
    tabs = reviewer.locator("nav.tabs")
    assert tabs.locator("a[href$='/members/']").is_visible()
    assert tabs.locator("a[href$='/audit/']").count() == 0
    assert "Audit log" not in tabs.inner_text()

    reviewer.locator("nav.tabs a[href$='/knowledge/']").click()
    assert reviewer.locator("main table").get_by_text("Opening hours").is_visible()
    assert reviewer.locator("main a", has_text="Edit").count() == 0
    assert reviewer.locator("main a[href$='/knowledge/new/']").count() == 0

    reviewer.locator("nav.tabs a[href$='/members/']").click()
    assert reviewer.locator("main table").get_by_text("Olga Ruiz").is_visible()
    assert reviewer.locator("#id_email").count() == 0  # no invite form
    assert reviewer.get_by_text("Invite someone").count() == 0
    assert reviewer.locator("main select[name=role]").count() == 0
    assert reviewer.locator("main button", has_text="Remove").count() == 0

    reviewer.locator("nav.tabs a[href$='/accounts/']").click()
    assert reviewer.locator("main a[href$='/accounts/new/']").count() == 0

    response = reviewer.goto(f"{brand_url}/audit/")
    assert response.status == 403
    assert reviewer.locator("main h1").inner_text() == "Not allowed"

    # Posting the invite form by hand (with a valid CSRF token) does not get round the missing form.
    csrf = next(c["value"] for c in reviewer.context.cookies() if c["name"] == "csrftoken")
    response = reviewer.request.post(f"{brand_url}/members/", max_redirects=0, form={
        "csrfmiddlewaretoken": csrf, "email": "x@example.com", "role": "owner"})
    assert response.status == 403
    assert "Not allowed" in response.text()  # our 403 page, not the CSRF failure page
    assert not brand.invitations.filter(email="x@example.com").exists()


MOBILE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
          "has_touch": True}


def test_navigation_is_usable_on_a_phone(live_server, new_context, tenant):
    brand, people = tenant("Movil", community_manager="movil_cm")
    base = live_server.url
    page = new_context(**MOBILE).new_page()
    sign_in(page, base, "movil_cm")
    page.wait_for_url(f"{base}/brands/{brand.pk}/calendar/")

    width = page.evaluate("window.innerWidth")
    assert width == 390
    # Nothing sticks out sideways: no horizontal scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    links = page.locator("nav.sidenav a")
    assert links.count() == 8
    for i in range(links.count()):
        link = links.nth(i)
        assert link.is_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (link.inner_text(), box)
        assert box["y"] + box["height"] <= 844, (link.inner_text(), box)  # all within the first screen
        assert box["height"] >= 24, (link.inner_text(), box)  # big enough to tap
    for control in ("header a[href='/brands/']", "button[name=language][value=es]", "header button:text('Sign out')"):
        assert page.locator(control).is_visible(), control

    _nav_link(page, "settings").tap()
    page.wait_for_url(f"{base}/brands/{brand.pk}/settings/")
    assert _nav_link(page, "settings").get_attribute("aria-current") == "page"
    _nav_link(page, "inbox").tap()
    page.wait_for_url(f"{base}/inbox/")  # the unified inbox, with the brand's menu
    assert page.evaluate("document.documentElement.scrollWidth") <= width
