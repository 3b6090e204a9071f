"""Reading from Threads against the loopback fake: profile and followers, post insights (a
retired metric must not break the others), replies and mentions for the inbox with paging and
a cursor, and hostile content staying inert."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import InteractionKind, PostPayload
from tertulia.networks.errors import AuthExpired
from tertulia.networks.threads import connector as threads_module
from tests.fakes.threads import Fault
from tests.fakes.threads_plugin import (  # noqa: F401
    fake_threads,
    threads,
    threads_http_config,
    threads_media_urls,
)


@pytest.fixture(autouse=True)
def english():
    """The assertions read the English source; the Spanish catalog is checked separately."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fresh_metrics():
    threads_module._RETIRED_METRICS.clear()
    yield
    threads_module._RETIRED_METRICS.clear()


def permission_error(code: int = 10) -> Fault:
    body = json.dumps({"error": {"message": "(#10) Application does not have permission for this action",
                                 "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}})
    return Fault("status", status=400, body=body)


def test_profile_with_followers(threads, fake_threads):
    profile = threads.fetch_profile()
    assert profile.external_id == fake_threads.user_id and profile.handle == "cafetertulia"
    assert profile.display_name == "Café Tertulia" and profile.followers == 1280
    assert profile.url == "https://www.threads.com/@cafetertulia"
    assert profile.bio == "Café y libros en Sevilla ☕📚"
    assert profile.avatar_url.startswith("https://scontent")
    (me,) = fake_threads.requests_to(r"^GET /me$")
    assert set(me.params["fields"].split(",")) == {"id", "username", "name", "threads_profile_picture_url",
                                                   "threads_biography"}


def test_profile_without_insights_permission_still_reads(threads, fake_threads):
    fake_threads.inject(r"threads_insights", permission_error())
    profile = threads.fetch_profile()
    assert profile.handle == "cafetertulia" and profile.followers is None  # unknown, not zero


def test_hostile_profile_stays_inert(threads, fake_threads):
    fake_threads.user.update({"name": "<script>alert(1)</script>" + "x" * 5000, "username": "<img src=x>",
                              "threads_profile_picture_url": "javascript:alert(1)",
                              "threads_biography": ["not", "a", "string"]})
    profile = threads.fetch_profile()
    assert profile.display_name.startswith("<script>") and len(profile.display_name) <= 200  # plain, escaped later
    assert profile.handle == fake_threads.user_id and profile.url == ""  # an impossible username is not used
    assert profile.avatar_url == ""


def test_post_metrics(threads, fake_threads):
    ref = threads.publish(PostPayload(text="Medir"))
    fake_threads.set_insights(ref.external_id, views=900, likes=41, replies=7, reposts=3, quotes=2, shares=5)
    metrics = threads.fetch_post_metrics([ref.external_id])[ref.external_id]
    assert (metrics.impressions, metrics.likes, metrics.comments, metrics.shares) == (900, 41, 7, 10)
    assert metrics.exists and metrics.saves is None and metrics.clicks is None  # not offered: NULL, not zero
    (request,) = fake_threads.requests_to(r"^GET /:id/insights$")
    assert request.params["metric"] == "views,likes,replies,reposts,quotes,shares"


def test_retired_metric_does_not_break_the_others(threads, fake_threads):
    a = threads.publish(PostPayload(text="uno"))
    b = threads.publish(PostPayload(text="dos"))
    fake_threads.set_insights(a.external_id, views=10, likes=2, reposts=1, quotes=1)
    fake_threads.set_insights(b.external_id, views=20, likes=4)
    fake_threads.retired_metrics.add("shares")
    first = threads.fetch_post_metrics([a.external_id])[a.external_id]
    assert (first.impressions, first.likes, first.shares) == (10, 2, 2)
    # Learnt once: the next post is asked without the retired metric, in one request.
    before = len(fake_threads.requests_to(r"^GET /:id/insights$"))
    second = threads.fetch_post_metrics([b.external_id])[b.external_id]
    assert (second.impressions, second.likes) == (20, 4)
    (request,) = fake_threads.requests_to(r"^GET /:id/insights$")[before:]
    assert "shares" not in request.params["metric"]


def test_metrics_of_a_deleted_post(threads, fake_threads):
    ref = threads.publish(PostPayload(text="efímero"))
    fake_threads.deleted.add(ref.external_id)
    metrics = threads.fetch_post_metrics([ref.external_id, "not-an-id"])
    assert metrics == {ref.external_id: metrics[ref.external_id]}
    assert metrics[ref.external_id].exists is False


def test_comments_and_mentions_with_a_cursor(threads, fake_threads):
    post = threads.publish(PostPayload(text="¿Café o té?"))
    first = fake_threads.reply_from("ana", "Café, siempre", to=post.external_id)
    nested = fake_threads.reply_from("luis", "@ana ¡y con leche!", to=first["id"])
    threads.reply(post.external_id, "¡Gracias!")  # ours: not an inbox item
    mention = fake_threads.mention_from("marta", "Mañana voy a @cafetertulia")
    batch = threads.fetch_interactions(thread_ids=[post.external_id])
    by_id = {i.post.external_id: i for i in batch.items}
    assert set(by_id) == {first["id"], nested["id"], mention["id"]}
    assert by_id[first["id"]].kind == InteractionKind.COMMENT and by_id[first["id"]].on_post == post.external_id
    assert by_id[nested["id"]].post.in_reply_to == first["id"]
    assert by_id[first["id"]].post.author.handle == "ana"
    assert by_id[first["id"]].post.author.url == "https://www.threads.com/@ana"
    assert by_id[mention["id"]].kind == InteractionKind.MENTION
    # The next poll with the cursor brings only what is new.
    again = threads.fetch_interactions(cursor=batch.cursor, thread_ids=[post.external_id])
    assert again.items == []
    later = fake_threads.reply_from("pepe", "Té verde", to=post.external_id,
                                    when=datetime.now(timezone.utc) + timedelta(seconds=2))
    third = threads.fetch_interactions(cursor=again.cursor, thread_ids=[post.external_id])
    assert [i.post.external_id for i in third.items] == [later["id"]]


def test_interactions_page_through_and_read_recent_posts(threads, fake_threads):
    fake_threads.page_size = 2
    post = threads.publish(PostPayload(text="Muchos comentarios"))
    replies = [fake_threads.reply_from(f"u{i}", f"comentario {i}", to=post.external_id) for i in range(7)]
    batch = threads.fetch_interactions()  # no thread ids: our recent posts are read first
    assert {i.post.external_id for i in batch.items} == {r["id"] for r in replies}
    pages = fake_threads.requests_to(r"^GET /:id/conversation$")
    assert len(pages) == 4 and all("access_token" not in r.params or r.token for r in pages)
    assert all(r.headers.get("authorization") for r in pages)  # the token in the header, even when paging


def test_mentions_without_permission_keep_comments(threads, fake_threads):
    post = threads.publish(PostPayload(text="x"))
    reply = fake_threads.reply_from("ana", "hola", to=post.external_id)
    fake_threads.mentions_permission = False
    batch = threads.fetch_interactions(thread_ids=[post.external_id])
    assert [i.post.external_id for i in batch.items] == [reply["id"]]


def test_expired_token_while_reading_is_auth_expired(threads, fake_threads):
    fake_threads.expire_token()
    with pytest.raises(AuthExpired):
        threads.fetch_interactions(thread_ids=["123"])


def test_hostile_replies_stay_inert(threads, fake_threads):
    post = threads.publish(PostPayload(text="x"))
    evil = fake_threads.reply_from("ana", "<script>alert(1)</script>\x00\x1b[31m" + "y" * 20000, to=post.external_id)
    weird = fake_threads.reply_from("luis", "ok", to=post.external_id)
    fake_threads.media[weird["id"]].update({"text": {"html": "<b>"}, "username": "<img src=x onerror=alert(1)>",
                                            "permalink": "javascript:alert(1)", "timestamp": 12345,
                                            "profile_picture_url": "data:text/html,<script>"})
    bogus = fake_threads.reply_from("x", "y", to=post.external_id)
    fake_threads.media[bogus["id"]]["id"] = "../../me"  # a non-numeric id is dropped
    batch = threads.fetch_interactions(thread_ids=[post.external_id])
    by_id = {i.post.external_id: i.post for i in batch.items}
    text = by_id[evil["id"]].text
    assert text.startswith("<script>alert(1)</script>") and "\x00" not in text and "\x1b" not in text
    assert len(text) <= 10000
    odd = by_id[weird["id"]]
    assert odd.text == "" and odd.author.handle == "" and odd.url == "" and odd.author.avatar_url == ""
    assert odd.created_at is None
    assert "../../me" not in by_id


def test_hostile_reply_fields_are_cleaned():
    connector = threads_module.ThreadsConnector(base_url="https://graph.threads.net")
    post = connector._network_post({"id": "123", "text": {"html": "<b>"}, "username": "<img src=x>",
                                    "permalink": "javascript:alert(1)", "timestamp": "2026-11-25T10:00:00+0000",
                                    "profile_picture_url": "data:text/html,x", "replied_to": "not a dict"})
    assert post is not None and post.text == "" and post.author.handle == "" and post.url == ""
    assert post.author.avatar_url == "" and post.in_reply_to == ""
    assert post.created_at == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    assert connector._network_post({"id": ["1"]}) is None
