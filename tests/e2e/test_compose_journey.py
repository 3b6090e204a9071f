"""The composer's journey in a real browser: a community manager writes a post for X and
Bluesky, sees X's length error live and fixes it in the X variant, asks for approval; a manager
(notified in the app) approves it; the post is on the brand's calendar at the brand's local time,
whatever the zone of the browsers.

Spanish strings this test relies on (tertulia/locale/es): none; both people use English.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tertulia.content.models import Post
from tertulia.core import services
from tertulia.core.services import Ctx
from tertulia.networks import services as account_services
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.browser

# 300 characters with no URL: fine for Bluesky (300 graphemes), too long for X (280).
LONG_TEXT = ("Este otoño estrenamos tostadas de masa madre con tomate de huerta y aceite de la Sierra. "
             "Ven a probarlas al desayuno, de lunes a sábado, en cualquiera de nuestros cafés del barrio. "
             "Y si traes tu taza, el café de filtro te sale a mitad de precio toda la semana. #CaféDeBarrio ")
LONG_TEXT = (LONG_TEXT * 2)[:299] + "!"
SHORT_X = "Tostadas de masa madre con tomate de huerta: ven a probarlas en el desayuno. #CaféDeBarrio"


def test_cm_writes_fixes_and_submits_manager_approves_calendar_shows_local_time(live_server, new_context, tenant):
    base = live_server.url
    brand, people = tenant("Barrio", community_manager="carla", manager="mario")
    owner_ctx = Ctx(people["owner"], via="test")
    # The brand lives in Mexico City; the browsers are in Madrid and Tokyo: only the brand's zone counts.
    services.do_update_brand(owner_ctx, brand, timezone="America/Mexico_City")
    brand.refresh_from_db()
    x_account = account_services.do_add_account(owner_ctx, brand, network="x", handle="@cafebarrio",
                                                access_token="x-token")
    bsky = account_services.do_add_account(owner_ctx, brand, network="bluesky", handle="cafebarrio.bsky.social",
                                           access_token="app-password")
    day = date.today() + timedelta(days=10)

    # --- The CM writes one text for both networks ---------------------------------------------------
    cm = new_context(timezone_id="Europe/Madrid").new_page()
    sign_in(cm, base, "carla")
    cm.goto(f"{base}/brands/{brand.pk}/compose/")
    cm.locator(f"input[name=accounts][value='{x_account.pk}']").check()
    cm.locator(f"input[name=accounts][value='{bsky.pk}']").check()
    cm.fill("#id_text", LONG_TEXT)

    # Live validation: X says it is too long, Bluesky is fine. No page load happened.
    too_long = cm.locator("[data-problems='x'] [data-code='too_long']")
    too_long.wait_for()
    assert "300" in too_long.inner_text() and "280" in too_long.inner_text()
    assert cm.locator("[data-problems='bluesky'] [data-level='error']").count() == 0

    # --- Fixes it in the X variant only -----------------------------------------------------------
    cm.fill("textarea[name='variant_x']", SHORT_X)
    expect(cm.locator("[data-problems='x'] [data-level='error']")).to_have_count(0)
    assert cm.locator("[data-inherits='x']").is_hidden()  # the X variant is its own text now
    assert cm.locator("[data-inherits='bluesky']").is_visible()  # Bluesky still inherits

    cm.fill("#id_scheduled_date", day.isoformat())
    cm.fill("#id_scheduled_time", "10:30")
    cm.locator("button[name=action][value=submit]").click()
    cm.wait_for_url(re.compile(rf"/brands/{brand.pk}/posts/\d+/"))

    post = Post.objects.get(brand=brand)
    assert post.state == Post.State.PENDING_APPROVAL
    assert post.text == LONG_TEXT
    variants = {v.network: v for v in post.variants.all()}
    assert variants["x"].is_custom and variants["x"].effective_text == SHORT_X
    assert not variants["bluesky"].is_custom and variants["bluesky"].effective_text == LONG_TEXT
    local = post.scheduled_at.astimezone(brand.tzinfo)
    assert (local.date(), local.hour, local.minute) == (day, 10, 30)

    # --- The manager is notified, opens the post and approves it ---------------------------------------
    manager = new_context(timezone_id="Asia/Tokyo").new_page()
    sign_in(manager, base, "mario")
    manager.goto(f"{base}/notifications/")
    notice = manager.locator("main li.unread").filter(has_text="asks you to approve")
    expect(notice).to_have_count(1)
    notice.locator("input[name=go] + button").click()  # opening it marks it read
    manager.wait_for_url(re.compile(rf"/brands/{brand.pk}/posts/{post.pk}/"))
    manager.locator("button[name=action][value=approve]").click()
    manager.wait_for_load_state()
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED
    assert set(post.targets.values_list("state", flat=True)) == {"scheduled"}

    # --- The post is on the calendar, that day, at 10:30 in the brand's zone ---------------------------
    manager.goto(f"{base}/brands/{brand.pk}/calendar/?view=week&date={day.isoformat()}")
    entry = manager.locator(f"[data-post-id='{post.pk}']").first
    assert entry.is_visible()
    assert "10:30" in entry.inner_text()
    cm.goto(f"{base}/brands/{brand.pk}/calendar/?view=month&date={day.isoformat()}")
    assert "10:30" in cm.locator(f"[data-post-id='{post.pk}']").first.inner_text()
