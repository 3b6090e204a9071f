"""inbox.polling against the fake Graph API (Facebook Pages, recorded comments from the corpus):
several pages of comments, duplicates across polls, edits and deletions found by re-reading our
posts' threads, Meta's throttling and expired tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.inbox import polling
from tertulia.inbox.models import InboxSync, Interaction
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tests.fakes.facebook import CORPUS_POST, PAGE_ID, Fault, recorded
from tests.fakes.facebook_plugin import fake_graph  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def http_settings(polling_settings):
    polling_settings.INBOX_POLLING = {"JITTER": 0.0, "THREAD_DAYS": 100_000}


@pytest.fixture
def page(owner, fake_graph):
    ctx, brand = owner
    return do_add_account(ctx, brand, network="facebook", handle="facebookapp", access_token=fake_graph.page_token,
                          base_url=fake_graph.base_url, external_id=PAGE_ID)


def published(owner, account, external_id, *, hours_ago: float = 30.0):
    from tertulia.content.services import do_create_post
    from tertulia.publishing.models import PostTarget

    ctx, brand = owner
    post = do_create_post(ctx, brand, text="Novedades de la semana", accounts=[account])
    PostTarget.objects.filter(post=post).update(state=PostTarget.State.PUBLISHED, external_id=external_id,
                                                published_at=timezone.now() - timedelta(hours=hours_ago))


def make_due(account):
    InboxSync.objects.filter(account=account).update(next_poll_at=timezone.now() - timedelta(seconds=1))


def test_the_recorded_comments_on_our_post_are_read_across_pages_and_stored_once(fake_graph, owner, page):
    published(owner, page, CORPUS_POST)
    for n in range(150):  # with the recorded ones, more than one page of 100
        fake_graph.comment(CORPUS_POST, f"comentario {n}", name=f"Persona {n}", age=60 + n)
    recorded_comments = recorded("facebook/apidata/comments/comments_p1.json")["data"] + \
        recorded("facebook/apidata/comments/comments_p2.json")["data"]
    result = polling.poll_due_accounts()
    assert result["outcomes"] == {str(page.pk): "ok"}
    stored = Interaction.objects.filter(account=page)
    assert stored.count() == 150 + len(recorded_comments)
    assert {r.conversation.root_external_id for r in stored.select_related("conversation")} == {CORPUS_POST}
    assert len([r for r in fake_graph.requests_to("GET /:id/comments") if r.params.get("after")]) >= 1
    sync = InboxSync.objects.get(account=page)
    assert sync.cursor
    make_due(page)
    again = polling.poll_due_accounts()
    assert again["created"] == 0 and again["edited"] == 0 and again["deleted"] == 0
    assert Interaction.objects.filter(account=page).count() == 150 + len(recorded_comments)


def test_edits_and_deletions_on_facebook_are_reflected(fake_graph, owner, page):
    ref = fake_graph.posts
    post_id = next(p for p in ref if p.startswith(PAGE_ID))
    published(owner, page, post_id, hours_ago=2)
    edited = fake_graph.comment(post_id, "Llegó roto", name="Ana", age=30)
    removed = fake_graph.comment(post_id, "Spam spam", name="Bot", age=20)
    kept = fake_graph.comment(post_id, "Gracias", name="Luis", age=10)
    polling.poll_due_accounts()
    assert Interaction.objects.filter(account=page).count() >= 3
    fake_graph.edit_comment(edited["id"], "Llegó roto, ¿me lo cambiáis?")
    fake_graph.remove_comment(removed["id"])
    make_due(page)
    result = polling.poll_due_accounts()
    assert result["edited"] == 1 and result["deleted"] == 1
    assert Interaction.objects.get(external_id=edited["id"]).text == "Llegó roto, ¿me lo cambiáis?"
    gone = Interaction.objects.get(external_id=removed["id"])
    assert gone.deleted_at is not None and gone.text == "Spam spam"
    assert Interaction.objects.get(external_id=kept["id"]).deleted_at is None


def test_a_thread_cut_short_by_an_error_marks_nothing(fake_graph, owner, page):
    post_id = next(p for p in fake_graph.posts if p.startswith(PAGE_ID))
    published(owner, page, post_id, hours_ago=2)
    fake_graph.comment(post_id, "uno", age=5)
    polling.poll_due_accounts()
    fake_graph.inject("GET /:id/comments", Fault.server_error(500), times=10)
    make_due(page)
    result = polling.poll_due_accounts()
    assert result["outcomes"] == {str(page.pk): "retry"}
    assert Interaction.objects.filter(account=page, deleted_at__isnull=False).count() == 0
    assert InboxSync.objects.get(account=page).failures == 1


def test_meta_throttling_postpones_the_next_poll(fake_graph, page):
    fake_graph.inject("GET /:id/feed", Fault.throttled(minutes=20), times=5)
    start = timezone.now()
    assert polling.poll_due_accounts()["outcomes"] == {str(page.pk): "rate_limited"}
    assert InboxSync.objects.get(account=page).next_poll_at >= start + timedelta(minutes=20)


def test_an_expired_page_token_parks_the_account(fake_graph, page):
    fake_graph.expire_token()
    assert polling.poll_due_accounts()["outcomes"] == {str(page.pk): "needs_reconnect"}
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.NEEDS_RECONNECT
    assert "reconnect" in InboxSync.objects.get(account=page).last_error


def test_a_post_deleted_on_facebook_does_not_stop_the_polling(fake_graph, owner, page):
    post_id = next(p for p in fake_graph.posts if p.startswith(PAGE_ID))
    published(owner, page, post_id, hours_ago=2)
    comment = fake_graph.comment(post_id, "antes de borrar", age=5)
    polling.poll_due_accounts()
    fake_graph.deleted.add(post_id)  # the Page deleted the post itself
    make_due(page)
    assert polling.poll_due_accounts()["outcomes"] == {str(page.pk): "ok"}
    assert Interaction.objects.get(external_id=comment["id"]).deleted_at is None
