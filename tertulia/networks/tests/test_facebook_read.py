"""FacebookConnector reading from the fake Graph API: the Page profile (the recorded Page),
post metrics and Page insights (a retired metric does not blank the others), the inbox
(the recorded comments, pagination, cursor) and hostile content staying inert."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tertulia.networks.base import InteractionKind, PostPayload
from tests.fakes.facebook import CORPUS_POST, PAGE_ID, recorded
from tests.fakes.facebook_plugin import facebook, fake_graph, graph_http_config  # noqa: F401


def test_profile_is_the_recorded_page(facebook, fake_graph):
    page = recorded("facebook/models/page.json")
    profile = facebook.fetch_profile()
    assert profile.external_id == PAGE_ID == page["id"]
    assert profile.handle == page["username"] and profile.display_name == page["name"]
    assert profile.bio == page["about"] and profile.url == page["link"]
    assert profile.avatar_url == page["picture"]["data"]["url"]
    assert profile.followers == page["fan_count"] + 1000  # followers_count, not likes
    (request,) = fake_graph.requests_to("GET /:id")
    assert request.params["fields"] == "id,name,username,link,fan_count,followers_count,about,picture"


def test_post_metrics_from_fields_and_insights(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Medible"))
    fake_graph.posts[ref.external_id].update(shares=4, reactions=17)
    fake_graph.comment(ref.external_id, "¡Bien!")
    fake_graph.set_insight(ref.external_id, "post_media_view", 340)
    fake_graph.set_insight(ref.external_id, "post_total_media_view_unique", 210)
    fake_graph.set_insight(ref.external_id, "post_clicks", 12)
    metrics = facebook.fetch_post_metrics([ref.external_id])[ref.external_id]
    assert (metrics.impressions, metrics.reach, metrics.clicks) == (340, 210, 12)
    assert (metrics.likes, metrics.comments, metrics.shares) == (17, 1, 4)
    assert metrics.saves is None and metrics.video_views is None  # not offered: unknown, not zero


def test_a_retired_metric_does_not_break_the_others(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Medible"))
    fake_graph.set_insight(ref.external_id, "post_media_view", 340)
    fake_graph.set_insight(ref.external_id, "post_total_media_view_unique", 210)
    fake_graph.retire_metric("post_clicks")
    metrics = facebook.fetch_post_metrics([ref.external_id])[ref.external_id]
    assert (metrics.impressions, metrics.reach, metrics.clicks) == (340, 210, None)
    # Graph refused the whole request once; then each metric alone; the retired one is remembered.
    asked = [r.params["metric"] for r in fake_graph.requests_to("GET /:id/insights")]
    assert asked == ["post_media_view,post_total_media_view_unique,post_clicks",
                     "post_media_view", "post_total_media_view_unique", "post_clicks"]
    facebook.fetch_post_metrics([ref.external_id])
    asked = [r.params["metric"] for r in fake_graph.requests_to("GET /:id/insights")]
    assert asked[-1] == "post_media_view,post_total_media_view_unique"


def test_page_insights_keep_working_with_a_retired_metric(facebook, fake_graph):
    fake_graph.retire_metric("page_views_total")
    fake_graph.set_insight(PAGE_ID, "page_follows", [{"value": 100, "end_time": "2026-11-20T08:00:00+0000"},
                                                     {"value": 104, "end_time": "2026-11-21T08:00:00+0000"}])
    insights = facebook.fetch_page_insights(since=datetime(2026, 11, 19, tzinfo=timezone.utc))
    assert "page_views_total" not in insights
    assert insights["page_follows"] == [(datetime(2026, 11, 20, 8, tzinfo=timezone.utc), 100),
                                        (datetime(2026, 11, 21, 8, tzinfo=timezone.utc), 104)]
    assert set(insights) == {"page_follows", "page_post_engagements", "page_media_view",
                             "page_total_media_view_unique"}


def test_metrics_of_a_deleted_post_say_it_is_gone(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Borrado"))
    facebook.delete(ref.external_id)
    assert facebook.fetch_post_metrics([ref.external_id])[ref.external_id].exists is False


def test_inbox_reads_the_recorded_comments_oldest_first_across_pages(facebook, fake_graph):
    recorded_comments = recorded("facebook/apidata/comments/comments_p1.json")["data"] + \
        recorded("facebook/apidata/comments/comments_p2.json")["data"]
    batch = facebook.fetch_interactions(thread_ids=[CORPUS_POST])
    assert len(batch.items) == len(recorded_comments)
    assert [i.post.text for i in batch.items] == [c["message"].strip() for c in
                                                  sorted(recorded_comments, key=lambda c: c["created_time"])]
    assert all(i.kind == InteractionKind.COMMENT and i.on_post == CORPUS_POST for i in batch.items)
    # Graph sent these without an author: a placeholder name, never a made-up id.
    assert batch.items[0].post.author.external_id == "" and batch.items[0].post.author.handle
    reply = next(i for i in batch.items if "reply_comment_id" in i.post.url)
    assert reply.post.in_reply_to != CORPUS_POST  # a reply names the comment it answers
    (request,) = fake_graph.requests_to("GET /:id/comments")[:1]
    assert request.params["filter"] == "stream" and request.params["order"] == "reverse_chronological"
    # Nothing new since: the cursor hands nothing twice.
    again = facebook.fetch_interactions(cursor=batch.cursor, thread_ids=[CORPUS_POST])
    assert again.items == []


def test_inbox_polls_recent_posts_and_skips_the_pages_own_comments(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="¿Qué libro leemos?"))
    first = facebook.fetch_interactions(since=datetime.now(timezone.utc) - timedelta(minutes=1))
    fake_graph.comment(ref.external_id, "Rayuela", name="Ana", age=0)
    facebook.reply(ref.external_id, "¡Buena idea!")
    batch = facebook.fetch_interactions(since=datetime.now(timezone.utc) - timedelta(minutes=1), cursor=first.cursor)
    assert [(i.post.text, i.post.author.display_name, i.on_post) for i in batch.items] == [
        ("Rayuela", "Ana", ref.external_id)]
    fake_graph.comment(ref.external_id, "Pedro Páramo", name="Luis")
    later = facebook.fetch_interactions(cursor=batch.cursor)
    assert [i.post.text for i in later.items] == ["Pedro Páramo"]


def test_paging_links_lose_the_token_graph_put_in_them(facebook, fake_graph):
    for n in range(120):
        fake_graph.comment(CORPUS_POST, f"c{n}", age=n)
    facebook.fetch_interactions(thread_ids=[CORPUS_POST])
    pages = fake_graph.requests_to("GET /:id/comments")
    assert len(pages) >= 2
    assert all("access_token" not in r.params for r in pages)
    assert all(r.token == fake_graph.page_token for r in pages)


def test_hostile_comments_stay_plain_inert_text(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Post"))
    fake_graph.comment(ref.external_id, "<script>alert(1)</script>\x00\x1b[31m" + "é" * 100_000,
                       name="<img src=x onerror=alert(1)>")
    comment = next(iter(c for c in fake_graph.comments.values() if c.get("from", {}).get("name", "").startswith("<img")))
    comment["permalink_url"] = "javascript:alert(1)"
    comment["like_count"] = "many"
    (item,) = facebook.fetch_interactions(thread_ids=[ref.external_id]).items
    assert item.post.text.startswith("<script>alert(1)</script>[31m")  # kept as text, control chars gone
    assert "\x00" not in item.post.text and len(item.post.text) <= 63_206
    assert item.post.url == "" and item.post.likes is None
    assert item.post.author.display_name == "<img src=x onerror=alert(1)>"


def test_a_garbled_cursor_starts_over_instead_of_failing(facebook, fake_graph):
    for cursor in ("{", json.dumps([1, 2]), json.dumps({"t": 5, "ids": "x"})):
        assert len(facebook.fetch_interactions(cursor=cursor, thread_ids=[CORPUS_POST]).items) > 0
