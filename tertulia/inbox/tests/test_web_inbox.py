"""The inbox pages: the list (unified and per brand), filters, keyset paging, the SLA timer,
bulk actions, and hostile input (escaped and bounded names, handles and texts; wrong tenant;
wrong role; malformed filters)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of
from tertulia.inbox.models import Conversation, Interaction, Label
from tertulia.inbox.services import IncomingAuthor, IncomingInteraction, ingest_interactions
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
ZWSP = "\u200b"  # ZERO WIDTH SPACE


def say(account, ext, text, *, who="fan", handle=None, name="", minutes_ago=10, **triage):
    """One inbound comment on ``account`` (triage given, so no model is needed)."""
    triage.setdefault("sentiment", "neutral")
    triage.setdefault("intent", "question")
    triage.setdefault("toxicity", 0.01)
    triage.setdefault("urgency", 0.2)
    ingest_interactions(account, [IncomingInteraction(
        external_id=ext, kind="comment", author=IncomingAuthor(who, handle or f"@{who}", display_name=name),
        text=text, created_at=timezone.now() - timedelta(minutes=minutes_ago), root_external_id=f"post-{who}",
        **triage)])
    return Interaction.objects.get(account=account, external_id=ext).conversation


@pytest.fixture
def inbox(brand_a, brand_b):
    (a, pa), (b, pb) = brand_a, brand_b
    fb_a = do_add_account(Ctx(pa["owner"]), a, network="facebook", handle="Alpha Page", external_id="fb-a")
    x_b = do_add_account(Ctx(pb["owner"]), b, network="x", handle="beta", external_id="x-b")
    return a, pa, b, pb, fb_a, x_b


def rows_of(page: str) -> list[str]:
    return re.findall(r'data-url="(/brands/\d+/inbox/\d+/)"', page)


def test_brand_inbox_lists_conversations_with_badges_labels_assignee_and_sla(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    cm = pa["community_manager"]
    conv = say(fb_a, "c1", "My order never arrived, I want a refund", who="ana", name="Ana Pérez",
               sentiment="negative", intent="complaint", urgency=0.9)
    Conversation.objects.filter(pk=conv.pk).update(assignee=cm)
    conv.labels.add(Label.objects.create(brand=a, name="refunds"))
    say(x_b, "b1", "Beta brand secret message", who="bob")
    client.force_login(cm)
    page = html(client.get(reverse("section_inbox", args=[a.pk])))
    assert rows_of(page) == [reverse("inbox_conversation", args=[a.pk, conv.pk])]
    assert "Ana Pérez" in page and "@ana" in page and "Facebook" in page
    assert "My order never arrived, I want a refund" in page
    assert "Negative" in page and "Complaint" in page and "Urgent 90" in page
    assert "refunds" in page and "Assigned to alpha_cm" in page
    assert 'data-sla="due"' in page and "First answer due in" in page
    assert "Beta brand secret message" not in page


def test_unified_inbox_shows_every_brand_of_mine_and_nothing_else(client, inbox, tenant):
    a, pa, b, pb, fb_a, x_b = inbox
    c_brand, pc = tenant("Gamma")
    from tertulia.core import services

    services.do_add_member(Ctx(pc["owner"]), c_brand, pa["community_manager"], "community_manager")
    x_c = do_add_account(Ctx(pc["owner"]), c_brand, network="x", handle="gamma", external_id="x-c")
    in_a = say(fb_a, "a1", "Hello from alpha", who="ana")
    in_c = say(x_c, "g1", "Hello from gamma", who="gus")
    say(x_b, "b1", "Hello from beta", who="bob")
    client.force_login(pa["community_manager"])
    response = client.get(reverse("inbox"))
    page = html(response)
    assert set(rows_of(page)) == {reverse("inbox_conversation", args=[a.pk, in_a.pk]),
                                  reverse("inbox_conversation", args=[c_brand.pk, in_c.pk])}
    assert "Hello from beta" not in page
    assert "Alpha Brand" in page and "Gamma Brand" in page  # the brand of each row
    # Narrowed to one brand through the filter; another brand's id is refused, not leaked.
    page = html(client.get(reverse("inbox"), {"brand": c_brand.pk}))
    assert rows_of(page) == [reverse("inbox_conversation", args=[c_brand.pk, in_c.pk])]
    page = html(client.get(reverse("inbox"), {"brand": b.pk}))
    assert "Unknown brand" in page and "Hello from beta" not in page


def test_the_side_menu_inbox_entry_opens_the_unified_inbox(client, inbox):
    a, pa, *_ = inbox
    client.force_login(pa["owner"])
    page = html(client.get(reverse("section_calendar", args=[a.pk])))
    assert f'href="{reverse("inbox")}" data-section="inbox"' in page
    page = html(client.get(reverse("inbox")))
    assert 'data-section="inbox" aria-current="page"' in page  # the menu stays, on the inbox


def test_filters_narrow_the_list_and_keep_in_the_form(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    complaint = say(fb_a, "c1", "Refund now", who="ana", sentiment="negative", intent="complaint")
    say(fb_a, "q1", "When do you open?", who="luis", intent="question")
    praise = say(fb_a, "p1", "Love it", who="eva", sentiment="positive", intent="praise", toxicity=0.9)
    client.force_login(pa["community_manager"])
    url = reverse("section_inbox", args=[a.pk])
    page = html(client.get(url, {"intent": "complaint"}))
    assert rows_of(page) == [reverse("inbox_conversation", args=[a.pk, complaint.pk])]
    assert '<option value="complaint" selected>' in page
    page = html(client.get(url, {"flagged": "1"}))
    assert rows_of(page) == [reverse("inbox_conversation", args=[a.pk, praise.pk])]
    page = html(client.get(url, {"sentiment": "positive", "network": "facebook"}))
    assert rows_of(page) == [reverse("inbox_conversation", args=[a.pk, praise.pk])]
    page = html(client.get(url, {"network": "x"}))
    assert rows_of(page) == []
    assert "No conversations match these filters." in page


@pytest.mark.parametrize("params", [
    {"status": "bogus"}, {"account": "12abc"}, {"sentiment": XSS}, {"assignee": "someone"}, {"flagged": "yes"},
    {"sort": "random"}, {"after": "not-a-cursor"}, {"label": "x" * 500}, {"brand": "1 OR 1=1"},
])
def test_malformed_filters_say_what_is_wrong_without_failing(client, inbox, params):
    a, pa, b, pb, fb_a, x_b = inbox
    say(fb_a, "c1", "Still listed", who="ana")
    client.force_login(pa["community_manager"])
    urls = [reverse("inbox")] if "brand" in params else [reverse("section_inbox", args=[a.pk]), reverse("inbox")]
    for url in urls:
        response = client.get(url, params)
        assert response.status_code == 200
        page = html(response)
        assert 'class="errors card" role="alert"' in page
        assert "<script>alert" not in page
        assert "Still listed" in page  # the page falls back to the default view


def test_keyset_next_page_follows_on_without_repeats(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    for i in range(57):
        say(fb_a, f"m{i}", f"message number {i}", who=f"u{i}", minutes_ago=200 - i)
    client.force_login(pa["community_manager"])
    url = reverse("section_inbox", args=[a.pk])
    first = html(client.get(url, {"intent": "question"}))
    assert len(rows_of(first)) == 50
    nxt = re.search(r'rel="next" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "intent=question" in nxt  # the filters stay
    second = html(client.get(f"{url}?{nxt}"))
    assert len(rows_of(second)) == 7
    assert not set(rows_of(first)) & set(rows_of(second))
    assert 'rel="next"' not in second and "First page" in second


def test_sla_timer_counts_down_turns_overdue_and_stops_when_answered(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    conv = say(fb_a, "c1", "Hello?", who="ana")
    now = timezone.now()
    client.force_login(pa["community_manager"])
    url = reverse("section_inbox", args=[a.pk])
    Conversation.objects.filter(pk=conv.pk).update(first_response_due_at=now + timedelta(minutes=42),
                                                   first_response_at=None)
    page = html(client.get(url))
    assert 'data-sla="due"' in page and re.search(r"First answer due in 4[01].minutes", page)
    Conversation.objects.filter(pk=conv.pk).update(first_response_due_at=now - timedelta(hours=3, minutes=5))
    page = html(client.get(url))
    assert 'data-sla="overdue"' in page and "First answer overdue by 3" in page
    Conversation.objects.filter(pk=conv.pk).update(first_response_at=now, resolution_due_at=now + timedelta(hours=5))
    page = html(client.get(url))
    assert re.search(r'data-sla="answered"[^>]*>Answered</span>', page) and "overdue" not in page.split("data-inbox-list")[1]
    assert re.search(r'class="sla-resolution">Resolution due in [45].hours', page)
    Conversation.objects.filter(pk=conv.pk).update(resolution_due_at=now - timedelta(minutes=20))
    page = html(client.get(url))
    assert 'data-sla="overdue"' in page and "Answered; resolution overdue by 20" in page
    Conversation.objects.filter(pk=conv.pk).update(status="closed", resolution_due_at=None)
    page = html(client.get(url, {"status": "all"}))
    assert re.search(r'data-sla="closed"[^>]*>Closed</span>', page)


def test_sla_timer_speaks_the_users_language_and_the_brands_zone(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    conv = say(fb_a, "c1", "Hola", who="ana")
    due = timezone.now() + timedelta(hours=2)
    Conversation.objects.filter(pk=conv.pk).update(first_response_due_at=due, first_response_at=None)
    cm = pa["community_manager"]
    cm.language = "es"
    cm.save()
    client.force_login(cm)
    client.cookies["django_language"] = "es"
    page = html(client.get(reverse("section_inbox", args=[a.pk]), HTTP_ACCEPT_LANGUAGE="es"))
    assert "Primera respuesta en" in page and "hora" in page
    local = timezone.localtime(due, a.tzinfo).strftime("%H:%M")  # Europe/Madrid
    assert local in page


def test_hostile_names_handles_and_texts_are_escaped_and_bounded(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    huge = "A" * 60000
    say(fb_a, "x1", f"{XSS} evil{RLO}gnp.exe {ZWSP}text", who="xss", handle=f"@evil{RLO}{ZWSP}{XSS}",
        name=f"{XSS}{RLO}Mallory")
    say(fb_a, "h1", huge, who="big")
    client.force_login(pa["community_manager"])
    page = html(client.get(reverse("section_inbox", args=[a.pk])))
    assert_escaped(page)
    assert RLO not in page and ZWSP not in page
    assert "A" * 200 not in page  # the excerpt is bounded
    assert "<bdi" in page


def test_bulk_actions_assign_label_close_and_reopen_with_a_count(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    cm = pa["community_manager"]
    c1 = say(fb_a, "c1", "one", who="u1")
    c2 = say(fb_a, "c2", "two", who="u2")
    c3 = say(fb_a, "c3", "three", who="u3")
    theirs = say(x_b, "b1", "beta", who="bob")
    client.force_login(cm)
    url = reverse("inbox_bulk")
    back = reverse("section_inbox", args=[a.pk])
    response = client.post(url, {"ids": [c1.pk, c2.pk, theirs.pk], "action": "assign_me", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert set(Conversation.objects.filter(assignee=cm).values_list("pk", flat=True)) == {c1.pk, c2.pk}
    assert Conversation.objects.get(pk=theirs.pk).assignee is None
    assert "2 of 3 conversations changed." in messages_of(client.get(back))
    client.post(url, {"ids": [c2.pk, c3.pk], "action": "label", "label": "vip"})
    assert set(Conversation.objects.filter(labels__name="vip").values_list("pk", flat=True)) == {c2.pk, c3.pk}
    client.post(url, {"ids": [c1.pk, c2.pk, c3.pk], "action": "close"})
    assert set(Conversation.objects.filter(brand=a, status="closed").values_list("pk", flat=True)) == {
        c1.pk, c2.pk, c3.pk}
    client.post(url, {"ids": [c1.pk], "action": "reopen"})
    assert Conversation.objects.get(pk=c1.pk).status == "open"
    client.post(url, {"ids": [c3.pk], "action": "assign", "assignee": str(pa["manager"].pk)})
    assert Conversation.objects.get(pk=c3.pk).assignee == pa["manager"]
    client.post(url, {"ids": [c3.pk], "action": "unassign"})
    assert Conversation.objects.get(pk=c3.pk).assignee is None
    assert Conversation.objects.get(pk=theirs.pk).status == "open"
    assert AuditEvent.objects.filter(brand=a, action="conversation.assign").exists()


@pytest.mark.parametrize("payload", [
    {"action": "close"},  # nothing selected
    {"ids": ["x"], "action": "close"},
    {"ids": ["1"], "action": "explode"},
    {"ids": ["1"], "action": "label"},  # no label
    {"ids": [str(i) for i in range(1, 600)], "action": "close"},  # too many
    {"ids": ["1"], "action": "label", "label": "l" * 61},
])
def test_bulk_refuses_malformed_requests_without_changes(client, inbox, payload):
    a, pa, b, pb, fb_a, x_b = inbox
    conv = say(fb_a, "c1", "one", who="u1")
    client.force_login(pa["community_manager"])
    response = client.post(reverse("inbox_bulk"), payload)
    assert response.status_code == 302
    assert Conversation.objects.get(pk=conv.pk).status == "open"
    assert not conv.labels.exists()


def test_bulk_with_an_outside_next_stays_on_the_site(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    conv = say(fb_a, "c1", "one", who="u1")
    client.force_login(pa["community_manager"])
    response = client.post(reverse("inbox_bulk"), {"ids": [conv.pk], "action": "close",
                                                    "next": "https://evil.example/"})
    assert response["Location"] == reverse("inbox")


def test_an_analyst_reads_the_inbox_but_cannot_act(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    conv = say(fb_a, "c1", "one", who="u1")
    client.force_login(pa["analyst"])
    page = html(client.get(reverse("section_inbox", args=[a.pk])))
    assert rows_of(page) and 'name="ids"' not in page and "bulk-bar" not in page
    assert client.post(reverse("inbox_bulk"), {"ids": [conv.pk], "action": "close"}).status_code == 403
    assert Conversation.objects.get(pk=conv.pk).status == "open"


def test_a_stranger_gets_404_for_another_brands_inbox(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    client.force_login(pb["community_manager"])
    assert client.get(reverse("section_inbox", args=[a.pk])).status_code == 404


def test_the_pages_carry_no_inline_script(client, inbox):
    a, pa, b, pb, fb_a, x_b = inbox
    say(fb_a, "c1", "one", who="u1")
    client.force_login(pa["community_manager"])
    page = html(client.get(reverse("section_inbox", args=[a.pk])))
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert not re.search(r"\son[a-z]+=", page)
    assert "inbox/inbox.js" in page and 'data-key="a"' in page and 'id="shortcut-help"' in page


def test_unified_inbox_offers_bulk_selection_only_where_i_may_reply(client, inbox, tenant):
    a, pa, b, pb, fb_a, x_b = inbox
    c_brand, pc = tenant("Gamma")
    from tertulia.core import services

    cm = pa["community_manager"]
    services.do_add_member(Ctx(pc["owner"]), c_brand, cm, "analyst")
    x_c = do_add_account(Ctx(pc["owner"]), c_brand, network="x", handle="gamma", external_id="x-c")
    mine = say(fb_a, "a1", "Alpha message", who="ana")
    read_only = say(x_c, "g1", "Gamma message", who="gus")
    client.force_login(cm)
    page = html(client.get(reverse("inbox")))
    assert f'name="ids" value="{mine.pk}"' in page and f'name="ids" value="{read_only.pk}"' not in page
    response = client.post(reverse("inbox_bulk"), {"ids": [mine.pk, read_only.pk], "action": "close"})
    assert response.status_code == 302
    assert Conversation.objects.get(pk=mine.pk).status == "closed"
    assert Conversation.objects.get(pk=read_only.pk).status == "open"
