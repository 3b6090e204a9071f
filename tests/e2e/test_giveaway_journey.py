"""The giveaway journey in a real browser, against the loopback Mastodon fake:

the community manager creates a giveaway on a post published outside Tertulia (named by its id
on the network), with a required hashtag; publishes the commitment; three people comment on the
fake server and "Fetch entries now" reads them through the inbox's polling (two count, one is left
out with the rule that rejected it); she closes the entries and draws (after the confirmation
step). A visitor who is not signed in opens the public page: the seed is revealed, the winner is
there, and the verification page passes every check; a proof with one entry changed fails.

Spanish strings this test relies on (tertulia/locale/es): none; the CM uses English.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tertulia.core.services import Ctx
from tertulia.giveaways import draw
from tertulia.giveaways.models import Contest
from tertulia.inbox.tests.backend_helpers import loopback  # noqa: F401
from tertulia.networks.services import do_add_account
from tests.e2e.helpers import sign_in
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

pytestmark = pytest.mark.browser


def _local(brand, when) -> str:
    return timezone.localtime(when, brand.tzinfo).strftime("%Y-%m-%dT%H:%M")


def test_create_collect_commit_draw_and_verify_on_the_public_page(
        live_server, new_context, tenant, fake_mastodon, loopback, settings):  # noqa: F811
    settings.INBOX_POLLING = {"JITTER": 0.0}
    base = live_server.url
    fake = fake_mastodon
    brand, people = tenant("Faro", community_manager="carla")
    account = do_add_account(Ctx(people["owner"], via="test"), brand, network="mastodon",
                             handle=f"{fake.own['username']}@fake.example", access_token=fake.token,
                             base_url=fake.base_url, external_id=fake.own["id"])
    root = fake.post_as(fake.own["username"], "¡Sorteo! Comenta con #sorteo y gana una cesta")["id"]

    page = new_context().new_page()
    sign_in(page, base, "carla")
    page.goto(f"{base}/brands/{brand.pk}/giveaways/")
    page.get_by_role("link", name="New giveaway").click()
    now = timezone.now()
    page.fill("#id_title", "Cesta de primavera")
    page.fill("#id_prize", "Una cesta de productos del Faro")
    page.fill("#id_starts_at", _local(brand, now - timedelta(hours=1)))
    page.fill("#id_ends_at", _local(brand, now + timedelta(days=3)))
    page.fill("#id_required_terms", "#sorteo")
    page.fill("#id_substitutes", "1")
    page.select_option("#id_other_account_0", str(account.pk))
    page.fill("#id_other_id_0", root)
    page.get_by_role("button", name="Create giveaway").click()
    expect(page.locator("h1")).to_contain_text("Cesta de primavera")
    contest = Contest.objects.get(brand=brand)

    page.get_by_role("button", name="Publish commitment").click()
    expect(page.locator("#commitment")).to_contain_text(contest.commitment)
    expect(page.locator("#announce-line")).to_have_value(re.compile(contest.commitment))

    fake.post_as("admin", "¡Me apunto! #Sorteo", in_reply_to=root)
    for name in ("ana", "luis"):
        fake.add_account(name)
    fake.post_as("ana", "Yo también #sorteo 🎉", in_reply_to=root)
    fake.post_as("luis", "<script>alert('luis')</script> hola", in_reply_to=root)  # no hashtag
    page.get_by_role("button", name="Fetch entries now").click()
    entries = page.locator("#entries")
    expect(entries).to_contain_text("Missing: #sorteo")
    expect(entries).to_contain_text("<script>alert('luis')</script>")  # shown as text, not run
    assert page.locator("#entries tr.counts").count() == 2
    assert page.locator("#entries tr.left-out").count() == 1

    page.get_by_role("button", name="Close entries now").click()
    page.locator("#draw").get_by_role("link", name="Draw").click()
    page.get_by_role("button", name="Yes, draw now").click()
    result = page.locator("#result")
    expect(result).to_be_visible()
    contest.refresh_from_db()
    winner = contest.result["winners"][0][1]
    expect(result).to_contain_text(winner)

    visitor = new_context().new_page()
    visitor.goto(f"{base}/g/{contest.public_id}/")
    expect(visitor.locator("main")).to_contain_text(contest.seed)
    expect(visitor.locator("main")).to_contain_text(winner)
    visitor.get_by_role("link", name="Check the draw on this site").click()
    expect(visitor.locator("[data-check].passed")).to_have_count(5)
    expect(visitor.get_by_role("status").first).to_contain_text("Every check passed")

    proof = json.loads(visitor.request.get(f"{base}/g/{contest.public_id}/proof.json").text())
    assert draw.verify(proof).ok
    proof["entries"][0][3] = 7  # one more ticket for someone
    visitor.fill("textarea[name=proof]", json.dumps(proof))
    visitor.get_by_role("button", name="Check").click()
    expect(visitor.locator("[data-check=entries_hash].failed")).to_have_count(1)
