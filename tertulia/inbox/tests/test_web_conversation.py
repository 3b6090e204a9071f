"""A conversation's page: the thread and its marks, the author's history, assign / labels /
status / hide / relabel, replying (saved replies, suggestions, retry), collision detection,
and hostile input, wrong tenant and wrong role on every route."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tertulia.core import services as core_services
from tertulia.core.models import Membership
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of
from tertulia.inbox import presence, replies
from tertulia.inbox.models import Conversation, Correction, Interaction, OutgoingReply, Presence, SavedReply
from tertulia.inbox.services import IncomingAuthor, IncomingInteraction, ingest_interactions
from tertulia.networks.services import do_add_account

from .test_web_inbox import RLO, ZWSP, say

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(brand_a, brand_b):
    (a, pa), (b, pb) = brand_a, brand_b
    fb_a = do_add_account(Ctx(pa["owner"]), a, network="facebook", handle="Alpha Page", external_id="fb-a")
    x_a = do_add_account(Ctx(pa["owner"]), a, network="x", handle="alpha", external_id="x-a")
    x_b = do_add_account(Ctx(pb["owner"]), b, network="x", handle="beta", external_id="x-b")
    conv = say(fb_a, "c1", "Where is my order?", who="ana", handle="@ana", name="Ana Pérez",
               sentiment="negative", intent="complaint", minutes_ago=30)
    theirs = say(x_b, "b1", "Beta secret complaint", who="bob", handle="@bob")
    return a, pa, b, pb, fb_a, x_a, x_b, conv, theirs


def url(conv):
    return reverse("inbox_conversation", args=[conv.brand_id, conv.pk])


def test_the_thread_shows_every_message_in_order_with_its_marks(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    ana = IncomingAuthor("ana", "@ana", display_name="Ana Pérez")
    now = timezone.now()
    ingest_interactions(fb_a, [
        IncomingInteraction(external_id="c2", kind="comment", author=ana, text="Hello? Second message",
                            created_at=now - timedelta(minutes=20), root_external_id="post-ana", intent="question",
                            sentiment="neutral", toxicity=0.0, urgency=0.1),
        IncomingInteraction(external_id="r1", kind="comment", direction="out", counterpart=ana,
                            author=IncomingAuthor("fb-a", "Alpha Page"), text="We are on it",
                            created_at=now - timedelta(minutes=15), root_external_id="post-ana"),
        IncomingInteraction(external_id="c3", kind="comment", author=ana, text="Third and rude",
                            created_at=now - timedelta(minutes=5), root_external_id="post-ana", toxicity=0.97,
                            sentiment="negative", intent="other", urgency=0.5),
    ])
    # An edit and a deletion on the network, a message hidden by the team
    ingest_interactions(fb_a, [IncomingInteraction(external_id="c2", kind="comment", author=ana,
                                                   text="Hello? Second message (edited)",
                                                   created_at=now - timedelta(minutes=20),
                                                   root_external_id="post-ana")])
    Interaction.objects.filter(external_id="c1").update(deleted_at=now)
    Interaction.objects.filter(external_id="c3").update(hidden=True)
    client.force_login(pa["community_manager"])
    page = html(client.get(url(conv)))
    order = [page.index(t) for t in ("Where is my order?", "Second message (edited)", "We are on it", "Third and rude")]
    assert order == sorted(order)
    articles = re.findall(r'<article class="msg ([^"]*)" id="m(\d+)">(.*?)</article>', page, re.S)
    marks = {Interaction.objects.get(pk=pk).external_id: (cls, body) for cls, pk, body in articles}
    assert "is-deleted" in marks["c1"][0] and "Deleted on the network" in marks["c1"][1]
    assert "Edited" in marks["c2"][1] and "Edited" not in marks["c1"][1]
    assert "msg-out" in marks["r1"][0] and "Sent by the brand" in marks["r1"][1]
    assert "is-hidden" in marks["c3"][0] and "Hidden" in marks["c3"][1] and "Toxic" in marks["c3"][1]
    assert "Complaint" in marks["c1"][1] and "Negative" in marks["c1"][1]
    assert "Correct the triage" in marks["c1"][1] and "Correct the triage" not in marks["r1"][1]


def test_the_author_box_and_page_give_the_history_across_the_brands_networks(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    # The same person on X (same handle), an old complaint, a recent one, and one offence
    say(x_a, "x1", "Still waiting for my refund", who="ana-x", handle="ana", sentiment="negative",
        intent="complaint")
    say(x_a, "x2", "you are all idiots", who="ana-x", handle="ana", sentiment="negative", intent="other",
        toxicity=0.95, minutes_ago=5)
    old = say(fb_a, "c0", "An old complaint", who="ana", handle="@ana", intent="complaint", minutes_ago=1)
    Interaction.objects.filter(external_id="c0").update(created_at=timezone.now() - timedelta(days=45))
    say(x_b, "b2", "Beta's ana complains", who="ana-b", handle="@ana", intent="complaint")  # another brand
    assert old.pk == conv.pk
    client.force_login(pa["community_manager"])
    page = html(client.get(url(conv)))
    box = page.split('class="card author-box"')[1]
    assert re.search(r'data-history="conversations">2<', box)  # facebook + x, not brand B's
    assert re.search(r'data-history="complaints">2<', box)  # the 45-day-old one does not count
    assert re.search(r'data-history="offences">1<', box)
    assert "Mostly negative" in box and "Facebook" in box and "X" in box
    author_url = reverse("inbox_author", args=[a.pk, conv.author_id])
    assert author_url in box
    page = html(client.get(author_url))
    assert "Still waiting for my refund" in page or "you are all idiots" in page
    assert "Beta's ana complains" not in page
    assert len(re.findall(r'data-url="/brands/\d+/inbox/\d+/"', page)) == 2


def test_assign_labels_and_status_from_the_conversation(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    cm = pa["community_manager"]
    client.force_login(cm)
    assert client.post(reverse("inbox_assign", args=[a.pk, conv.pk]), {"assignee": "me"}).status_code == 302
    assert Conversation.objects.get(pk=conv.pk).assignee == cm
    client.post(reverse("inbox_assign", args=[a.pk, conv.pk]), {"assignee": str(pa["manager"].pk)})
    assert Conversation.objects.get(pk=conv.pk).assignee == pa["manager"]
    # An analyst, a stranger and a member of another brand cannot be given the conversation
    for who in (pa["analyst"], pb["community_manager"]):
        response = client.post(reverse("inbox_assign", args=[a.pk, conv.pk]), {"assignee": str(who.pk)})
        assert "does not work this brand" in " ".join(messages_of(client.get(response["Location"])))
    assert Conversation.objects.get(pk=conv.pk).assignee == pa["manager"]
    client.post(reverse("inbox_assign", args=[a.pk, conv.pk]), {"assignee": "none"})
    assert Conversation.objects.get(pk=conv.pk).assignee is None
    client.post(reverse("inbox_labels", args=[a.pk, conv.pk]), {"add": "shipping"})
    assert list(conv.labels.values_list("name", flat=True)) == ["shipping"]
    page = html(client.get(url(conv)))
    assert 'name="remove" value="shipping"' in page
    client.post(reverse("inbox_labels", args=[a.pk, conv.pk]), {"remove": "shipping"})
    assert not conv.labels.exists()
    client.post(reverse("inbox_status", args=[a.pk, conv.pk]), {"status": "closed"})
    assert Conversation.objects.get(pk=conv.pk).status == "closed"
    client.post(reverse("inbox_status", args=[a.pk, conv.pk]), {"status": "open"})
    assert Conversation.objects.get(pk=conv.pk).status == "open"
    client.post(reverse("inbox_status", args=[a.pk, conv.pk]), {"status": "exploded"})
    assert Conversation.objects.get(pk=conv.pk).status == "open"


def test_relabel_stores_a_correction_and_hide_asks_the_network(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    client.force_login(pa["community_manager"])
    msg = conv.interactions.get()
    response = client.post(reverse("inbox_relabel", args=[a.pk, msg.pk]), {"field": "sentiment", "value": "neutral"})
    assert response.status_code == 302
    msg.refresh_from_db()
    assert msg.sentiment == "neutral"
    assert Correction.objects.filter(interaction=msg, field="sentiment", old_value="negative",
                                     new_value="neutral").exists()
    client.post(reverse("inbox_relabel", args=[a.pk, msg.pk]), {"field": "intent", "value": "<b>bogus</b>"})
    msg.refresh_from_db()
    assert msg.intent == "complaint"
    client.post(reverse("inbox_relabel", args=[a.pk, msg.pk]), {"field": "toxic", "value": "yes"})
    assert Conversation.objects.get(pk=conv.pk).flagged
    client.post(reverse("inbox_hide", args=[a.pk, msg.pk]), {"hidden": "1"})
    msg.refresh_from_db()
    assert msg.hidden
    page = html(client.get(url(conv)))
    assert "Show again on the network" in page
    client.post(reverse("inbox_hide", args=[a.pk, msg.pk]), {"hidden": "0"})
    msg.refresh_from_db()
    assert not msg.hidden


def test_reply_is_queued_and_oversized_or_empty_ones_are_refused(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    client.force_login(pa["community_manager"])
    reply_url = reverse("inbox_reply", args=[a.pk, conv.pk])
    for text in ("", "   ", "x" * 10001):
        response = client.post(reply_url, {"text": text})
        assert response.status_code == 200 and 'class="error" role="alert"' in html(response)
    on_x = say(x_a, "x1", "Hi on X", who="xu")
    response = client.post(reverse("inbox_reply", args=[a.pk, on_x.pk]), {"text": "y" * 400})
    assert response.status_code == 200 and 'class="error" role="alert"' in html(response)  # X's 280
    assert not OutgoingReply.objects.exists()
    response = client.post(reply_url, {"text": f"Sorry Ana {XSS}, we are checking"})
    assert response.status_code == 302
    reply = OutgoingReply.objects.get()
    assert reply.conversation == conv and reply.created_by == pa["community_manager"]
    assert reply.in_reply_to == conv.interactions.get()
    page = html(client.get(url(conv)))
    assert_escaped(page)
    assert 'data-reply-state="queued"' in page


def test_a_failed_reply_can_be_sent_again(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    failed = OutgoingReply.objects.create(brand=a, conversation=conv, account=fb_a, text="Lost answer",
                                          marker="m1", state="failed", error="The network said no.")
    client.force_login(pa["community_manager"])
    page = html(client.get(url(conv)))
    assert 'data-reply-state="failed"' in page and "The network said no." in page and "Try again" in page
    client.post(reverse("inbox_reply_retry", args=[a.pk, failed.pk]))
    failed.refresh_from_db()
    assert failed.state == "queued"


def test_saved_replies_insert_rendered_text_and_suggestions_show(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    saved = SavedReply.objects.create(brand=a, title="Order delay", language="en",
                                      text="Hi {name}, sorry about your order. {agent}")
    other = SavedReply.objects.create(brand=b, title="Beta reply", language="en", text="Beta secret {name}")
    core_services.do_save_knowledge(Ctx(pa["owner"]), a, kind="department", title="Orders and shipping",
                                    answer="Write to orders@example.com", department="Logistics",
                                    contact="orders@example.com", keywords="order, pedido")
    cm = pa["community_manager"]
    cm.first_name = "Carla"
    cm.save()
    client.force_login(cm)
    page = html(client.get(url(conv)))
    assert "Order delay" in page and "Beta reply" not in page
    assert f'hx-get="{url(conv)}?saved={saved.pk}"' in page
    page = html(client.get(url(conv), {"saved": saved.pk}))
    assert "Hi Ana Pérez, sorry about your order. Carla</textarea>" in page
    fragment = html(client.get(url(conv), {"saved": saved.pk}, HTTP_HX_REQUEST="true"))
    assert fragment.lstrip().startswith("<textarea") and "Hi Ana Pérez" in fragment and "<html" not in fragment
    page = html(client.get(url(conv), {"saved": other.pk}))
    assert "Beta secret" not in page
    page = html(client.get(url(conv)))
    assert "Suggestions" in page and "Logistics" in page


def test_collision_a_reply_after_a_colleagues_answer_asks_first(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    cm, manager = pa["community_manager"], pa["manager"]
    manager.first_name = "Diego"
    manager.save()
    client.force_login(cm)
    page = html(client.get(url(conv)))
    opened_at = re.search(r'name="opened_at" value="([\d.]+)"', page).group(1)
    # Diego answers while the page is open
    replies.do_reply(Ctx(manager), conv, "Diego's answer")
    reply_url = reverse("inbox_reply", args=[a.pk, conv.pk])
    response = client.post(reply_url, {"text": "My answer", "opened_at": opened_at})
    assert response.status_code == 409
    page = html(response)
    assert "Diego answered this conversation after you opened it" in page and "Send anyway" in page
    assert "My answer</textarea>" in page and 'name="confirm" value="True"' in page
    assert OutgoingReply.objects.filter(created_by=cm).count() == 0
    response = client.post(reply_url, {"text": "My answer", "opened_at": opened_at, "confirm": "True"})
    assert response.status_code == 302
    assert OutgoingReply.objects.filter(created_by=cm).count() == 1
    # Opened after Diego's answer: no question asked
    page = html(client.get(url(conv)))
    fresh = re.search(r'name="opened_at" value="([\d.]+)"', page).group(1)
    response = client.post(reply_url, {"text": "Another", "opened_at": fresh})
    assert response.status_code == 302


def test_presence_shows_who_is_viewing_and_who_is_replying(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    cm, manager = pa["community_manager"], pa["manager"]
    manager.first_name, manager.last_name = "Diego", "Luna"
    manager.save()
    presence_url = reverse("inbox_presence", args=[a.pk, conv.pk])
    client.force_login(manager)
    client.get(url(conv))
    client.force_login(cm)
    assert "Diego Luna is viewing this conversation" in html(client.get(url(conv)))
    assert "viewing" not in html(client.get(presence_url)).replace("Diego Luna is viewing", "")  # not myself
    client.force_login(manager)
    response = client.post(presence_url, {"text": "Hola Ana, lo estamos"})  # typing in the reply box
    assert "alpha_cm is viewing this conversation" in html(response)
    client.force_login(cm)
    assert "Diego Luna is replying to this conversation" in html(client.get(presence_url))
    client.force_login(manager)
    client.post(presence_url)  # a poll without the box keeps the mark
    client.force_login(cm)
    assert "Diego Luna is replying" in html(client.get(presence_url))
    client.force_login(manager)
    client.post(presence_url, {"text": "  "})  # the box emptied (sent, or cleared)
    client.force_login(cm)
    assert "Diego Luna is viewing this conversation" in html(client.get(presence_url))
    # Gone quiet for more than 30 seconds: no longer here
    Presence.objects.filter(user=manager).update(seen_at=timezone.now() - timedelta(seconds=31))
    assert "Diego" not in html(client.get(presence_url))
    # Removed from the brand: never shown again
    Presence.objects.filter(user=manager).update(seen_at=timezone.now())
    Membership.objects.filter(brand=a, user=manager).delete()
    assert "Diego" not in html(client.get(presence_url))
    assert presence.others(cm, conv) == []


def test_an_analyst_sees_the_conversation_without_controls_and_cannot_act(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    msg = conv.interactions.get()
    failed = OutgoingReply.objects.create(brand=a, conversation=conv, account=fb_a, text="x", marker="m",
                                          state="failed")
    client.force_login(pa["analyst"])
    page = html(client.get(url(conv)))
    assert "Where is my order?" in page
    for control in ('id="reply-text"', "inbox_assign", "/assign/", "/labels/", "/status/", "/hide/", "/relabel/",
                    "/retry/"):
        assert control not in page, control
    posts = [
        (reverse("inbox_assign", args=[a.pk, conv.pk]), {"assignee": "me"}),
        (reverse("inbox_labels", args=[a.pk, conv.pk]), {"add": "x"}),
        (reverse("inbox_status", args=[a.pk, conv.pk]), {"status": "closed"}),
        (reverse("inbox_reply", args=[a.pk, conv.pk]), {"text": "hi"}),
        (reverse("inbox_hide", args=[a.pk, msg.pk]), {"hidden": "1"}),
        (reverse("inbox_relabel", args=[a.pk, msg.pk]), {"field": "sentiment", "value": "positive"}),
        (reverse("inbox_reply_retry", args=[a.pk, failed.pk]), {}),
    ]
    for path, data in posts:
        assert client.post(path, data).status_code == 403, path
    conv.refresh_from_db()
    msg.refresh_from_db()
    assert conv.assignee is None and conv.status == "open" and not msg.hidden and msg.sentiment == "negative"
    assert OutgoingReply.objects.filter(conversation=conv).count() == 1
    # Presence: the analyst polling does not claim to be writing
    client.post(reverse("inbox_presence", args=[a.pk, conv.pk]), {"text": "I am not allowed to answer"})
    assert not Presence.objects.get(user=pa["analyst"]).composing


def test_another_brands_ids_are_404_on_every_conversation_route(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    their_msg = theirs.interactions.get()
    their_reply = OutgoingReply.objects.create(brand=b, conversation=theirs, account=x_b, text="Beta answer",
                                               marker="mb", state="failed")
    client.force_login(pa["owner"])
    gets = [
        reverse("inbox_conversation", args=[a.pk, theirs.pk]),
        reverse("inbox_presence", args=[a.pk, theirs.pk]),
        reverse("inbox_author", args=[a.pk, theirs.author_id]),
    ]
    posts = [
        (reverse("inbox_assign", args=[a.pk, theirs.pk]), {"assignee": "me"}),
        (reverse("inbox_labels", args=[a.pk, theirs.pk]), {"add": "x"}),
        (reverse("inbox_status", args=[a.pk, theirs.pk]), {"status": "closed"}),
        (reverse("inbox_reply", args=[a.pk, theirs.pk]), {"text": "hi"}),
        (reverse("inbox_hide", args=[a.pk, their_msg.pk]), {"hidden": "1"}),
        (reverse("inbox_relabel", args=[a.pk, their_msg.pk]), {"field": "sentiment", "value": "positive"}),
        (reverse("inbox_reply_retry", args=[a.pk, their_reply.pk]), {}),
        (reverse("inbox_presence", args=[a.pk, theirs.pk]), {"composing": "1"}),
    ]
    for path in gets:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Beta secret complaint" not in html(response)
    for path, data in posts:
        assert client.post(path, data).status_code == 404, path
    # And B's own brand id, by a member of A only
    assert client.get(reverse("inbox_conversation", args=[b.pk, theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    their_reply.refresh_from_db()
    assert theirs.assignee is None and theirs.status == "open" and not theirs.labels.exists()
    assert their_reply.state == "failed" and not Presence.objects.filter(conversation=theirs).exists()
    assert OutgoingReply.objects.filter(conversation=theirs).count() == 1


def test_hostile_texts_names_and_handles_are_escaped_and_bounded_on_the_conversation(client, world):
    a, pa, b, pb, fb_a, x_a, x_b, conv, theirs = world
    bad = say(fb_a, "e1", f"{XSS}\n{RLO}evil {ZWSP}text " + "B" * 70000, who="mal",
              handle=f"@mal{RLO}{XSS}", name=f"{XSS}{ZWSP}Mallory")
    client.force_login(pa["community_manager"])
    page = html(client.get(url(bad)))
    assert_escaped(page)
    assert RLO not in page and ZWSP not in page
    assert "B" * 5001 not in page and "Shortened: the message has" in page
    page = html(client.get(reverse("inbox_author", args=[a.pk, bad.author_id])))
    assert_escaped(page)
    assert RLO not in page and ZWSP not in page
