"""The inbox journey in a real browser, against the loopback Graph API fake (a Facebook Page):

a toxic comment arrives through ``ingest_interactions``; the brand's rule hides it on the network
and it shows flagged and hidden. A complaint arrives beside it with its first-answer timer
running; the community manager assigns it to herself with the keyboard (j, a), opens it (o),
inserts a saved reply (its {name} and {agent} filled in), sends it through the fake network,
and the list shows it answered: the SLA timer has stopped.

Spanish strings this test relies on (tertulia/locale/es): none; the CM uses English.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tertulia.core.services import Ctx
from tertulia.inbox.models import Conversation, InboxRule, Interaction, OutgoingReply, SavedReply
from tertulia.inbox.services import IncomingAuthor, IncomingInteraction, ingest_interactions
from tertulia.inbox.tests.backend_helpers import loopback  # noqa: F401
from tertulia.networks.services import do_add_account
from tests.e2e.helpers import sign_in
from tests.fakes.facebook import CORPUS_POST, PAGE_ID
from tests.fakes.facebook_plugin import fake_graph  # noqa: F401

pytestmark = pytest.mark.browser


def _row(page, conv):
    return page.locator(f"[data-row][data-url='/brands/{conv.brand_id}/inbox/{conv.pk}/']")


def test_toxic_comment_hidden_complaint_assigned_answered_with_a_saved_reply_sla_stops(
        live_server, new_context, tenant, fake_graph, loopback):  # noqa: F811
    base = live_server.url
    brand, people = tenant("Barrio", community_manager="carla")
    carla = people["community_manager"]
    carla.first_name, carla.last_name = "Carla", "Ortiz"
    carla.save()
    owner_ctx = Ctx(people["owner"], via="test")
    account = do_add_account(owner_ctx, brand, network="facebook", handle="Café Barrio",
                             access_token=fake_graph.page_token, base_url=fake_graph.base_url, external_id=PAGE_ID)
    InboxRule.objects.create(brand=brand, name="Hide insults", conditions={"min_toxicity": 0.8},
                             actions={"hide": True, "flag": True})
    SavedReply.objects.create(brand=brand, title="Broken order", language="en",
                              text="Hi {name}, we are sorry about your order. {agent} is on it and will write to you.")

    # --- Two comments arrive on the Page -----------------------------------------------------------
    insult = fake_graph.comment(CORPUS_POST, "Sois unos inútiles y unos ladrones", user_id="9001", name="Troll")
    complaint = fake_graph.comment(CORPUS_POST, "My order arrived broken and nobody answers. I want a refund!",
                                   user_id="9002", name="Ana García")
    now = timezone.now()
    ingest_interactions(account, [
        IncomingInteraction(external_id=insult["id"], kind="comment", author=IncomingAuthor("9001", "Troll"),
                            text=insult["message"], created_at=now - timedelta(minutes=6), root_external_id=CORPUS_POST,
                            sentiment="negative", intent="other", toxicity=0.95, urgency=0.3),
        IncomingInteraction(external_id=complaint["id"], kind="comment",
                            author=IncomingAuthor("9002", "Ana García", display_name="Ana García", followers=800),
                            text=complaint["message"], created_at=now - timedelta(minutes=2),
                            root_external_id=CORPUS_POST, sentiment="negative", intent="complaint", toxicity=0.02,
                            urgency=0.85),
    ])
    toxic_conv = Interaction.objects.get(external_id=insult["id"]).conversation
    conv = Interaction.objects.get(external_id=complaint["id"]).conversation
    assert fake_graph.comments[insult["id"]]["is_hidden"] is True  # the rule hid it on the network
    assert conv.first_response_due_at is not None and conv.first_response_at is None

    page = new_context().new_page()
    sign_in(page, base, "carla")
    page.goto(f"{base}/inbox/")

    # --- The toxic comment shows flagged, and hidden inside ---------------------------------------
    toxic_row = _row(page, toxic_conv)
    expect(toxic_row.locator(".badge-flagged")).to_have_text("Flagged")
    complaint_row = _row(page, conv)
    expect(complaint_row).to_contain_text("My order arrived broken")
    expect(complaint_row.locator("[data-sla]")).to_have_attribute("data-sla", "due")
    expect(complaint_row.locator("[data-sla]")).to_contain_text("First answer due in")
    expect(complaint_row).to_contain_text("Urgent 85")

    # --- Keyboard: help, then j to the complaint (newest first), a to take it ---------------------
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_hidden()
    page.locator("#bulk-label").fill("")
    page.locator("#bulk-label").type("a")  # typing in a field triggers nothing
    assert Conversation.objects.get(pk=conv.pk).assignee is None
    page.locator("#bulk-label").fill("")
    page.locator("main h1").click()  # focus out of the field
    page.keyboard.press("j")
    expect(complaint_row).to_have_class(re.compile(r"\bis-current\b"))
    page.keyboard.press("a")
    page.wait_for_load_state()
    expect(page.locator(".messages")).to_contain_text("1 of 1 conversations changed.")
    expect(_row(page, conv)).to_contain_text("Assigned to Carla Ortiz")
    assert Conversation.objects.get(pk=conv.pk).assignee == carla
    assert Conversation.objects.get(pk=toxic_conv.pk).assignee is None

    # --- o opens it; the toxic one, opened from the list, says hidden -----------------------------
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(f"{base}/brands/{brand.pk}/inbox/{conv.pk}/")
    expect(page.locator("h1")).to_contain_text("Ana García")
    expect(page.locator(".author-box")).to_contain_text("800")

    # --- A saved reply, filled in, sent through the fake Page ------------------------------------
    page.locator("[data-saved-reply]", has_text="Broken order").click()
    expect(page.locator("#reply-text")).to_have_value(
        "Hi Ana García, we are sorry about your order. Carla Ortiz is on it and will write to you.")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("r")
    expect(page.locator("#reply-text")).to_be_focused()
    page.locator(".reply-box button.primary").click()
    page.wait_for_url(f"{base}/brands/{brand.pk}/inbox/{conv.pk}/")
    expect(page.locator(".messages")).to_contain_text("Your answer is on its way.")
    expect(page.locator("[data-reply-state]")).to_have_attribute("data-reply-state", "sent")
    reply = OutgoingReply.objects.get(conversation=conv)
    assert reply.state == "sent" and reply.created_by == carla
    sent = [c for c in fake_graph.comments.values() if c.get("message", "").startswith("Hi Ana García")]
    assert len(sent) == 1

    # --- The timer stopped: the list shows it answered ------------------------------------------
    conv.refresh_from_db()
    assert conv.first_response_at is not None
    page.goto(f"{base}/inbox/?status=all")
    row = _row(page, conv)
    expect(row.locator("[data-sla]")).to_have_attribute("data-sla", "answered")
    expect(row.locator("[data-sla]")).to_have_text("Answered")

    # j on an open conversation goes to the next one of the list it came from: the insult
    row.locator("[data-open]").click()
    page.wait_for_url(f"{base}/brands/{brand.pk}/inbox/{conv.pk}/")
    page.keyboard.press("j")
    page.wait_for_url(f"{base}/brands/{brand.pk}/inbox/{toxic_conv.pk}/")
    expect(page.locator("article.msg").first.locator(".mark-hidden")).to_have_text("Hidden")
    expect(page.locator(".conv-side")).to_contain_text("Flagged")

    # --- The insult, from the list: x selects it, l labels it, c closes it ------------------------
    page.goto(f"{base}/inbox/")
    toxic_row = _row(page, toxic_conv)
    expect(page.locator("[data-inbox-list] [data-row]")).to_have_count(1)  # the answered one waits now
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(toxic_row.locator("[data-select]")).to_be_checked()
    page.keyboard.press("l")
    expect(page.locator("#bulk-label")).to_be_focused()
    page.keyboard.type("troll")
    page.locator("button[name=action][value=label]").click()
    expect(page.locator(".messages")).to_contain_text("1 of 1 conversations changed.")
    expect(_row(page, toxic_conv).locator(".badge-label")).to_have_text("troll")
    page.keyboard.press("j")
    page.keyboard.press("c")
    expect(page.locator(".messages")).to_contain_text("1 of 1 conversations changed.")
    expect(page.locator("[data-inbox-list] [data-row]")).to_have_count(0)
    toxic_conv.refresh_from_db()
    assert toxic_conv.status == "closed" and list(toxic_conv.labels.values_list("name", flat=True)) == ["troll"]


def test_two_cms_on_one_conversation_see_each_other_and_are_asked_before_a_second_answer(
        live_server, new_context, tenant, fake_graph, loopback):  # noqa: F811
    base = live_server.url
    brand, people = tenant("Plaza", community_manager="carla", manager="diego")
    people["manager"].first_name, people["manager"].last_name = "Diego", "Luna"
    people["manager"].save()
    account = do_add_account(Ctx(people["owner"], via="test"), brand, network="facebook", handle="Café Plaza",
                             access_token=fake_graph.page_token, base_url=fake_graph.base_url, external_id=PAGE_ID)
    question = fake_graph.comment(CORPUS_POST, "¿Abrís el domingo?", user_id="9010", name="Luis")
    ingest_interactions(account, [IncomingInteraction(
        external_id=question["id"], kind="comment", author=IncomingAuthor("9010", "Luis", display_name="Luis"),
        text=question["message"], created_at=timezone.now() - timedelta(minutes=3), root_external_id=CORPUS_POST,
        sentiment="neutral", intent="question", toxicity=0.0, urgency=0.4)])
    conv = Interaction.objects.get(external_id=question["id"]).conversation
    url = f"{base}/brands/{brand.pk}/inbox/{conv.pk}/"

    diego = new_context().new_page()
    problems = []
    diego.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(diego, base, "diego")
    diego.goto(url)

    carla = new_context().new_page()
    carla.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(carla, base, "carla")
    carla.goto(url)
    expect(carla.locator("#presence")).to_contain_text("Diego Luna is viewing this conversation")

    # Diego starts typing: Carla's page learns it at its next poll (every 10 s)
    diego.locator("#reply-text").type("Sí, de 9 a 14 h.")
    expect(carla.locator("#presence")).to_contain_text("Diego Luna is replying to this conversation",
                                                       timeout=25_000)
    diego.locator(".reply-box button.primary").click()
    diego.wait_for_url(url)
    expect(diego.locator("[data-reply-state]")).to_have_attribute("data-reply-state", "sent")

    # Carla, who opened the page before Diego answered, is asked before a second answer goes out
    carla.locator("#reply-text").fill("Hola Luis, el domingo abrimos de 9 a 14 h.")
    carla.locator(".reply-box button.primary").click()
    expect(carla.locator(".collision")).to_contain_text("Diego Luna answered this conversation after you opened it")
    expect(carla.locator("#reply-text")).to_have_value("Hola Luis, el domingo abrimos de 9 a 14 h.")
    assert OutgoingReply.objects.filter(conversation=conv).count() == 1
    expect(carla.locator(".reply-box button.primary")).to_have_text("Send anyway")
    carla.locator(".reply-box button.primary").click()
    carla.wait_for_url(url)
    assert OutgoingReply.objects.filter(conversation=conv).count() == 2
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
