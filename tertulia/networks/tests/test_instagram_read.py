"""Reading an Instagram account through the fake Graph API, which answers with the recorded
real payloads (python-facebook fixtures): profile, post metrics (with a deprecated metric that
must not break the others), comments, replies and mentions with a cursor, replies and the
first comment, and hostile content from the network staying plain data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.utils import translation

from tertulia.networks.base import InteractionKind, MediaItem, PostPayload
from tertulia.networks.errors import AuthExpired, Permanent
from tests.fakes.instagram import Fault, fixture
from tests.fakes.instagram_plugin import fake_instagram, instagram, instagram_http_config  # noqa: F401


@pytest.fixture(autouse=True)
def english():
    """Messages are lazy translations; read them in English here (the app default is Spanish)."""
    with translation.override("en"):
        yield

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def publish(instagram, text="Nuevo post"):
    return instagram.publish(PostPayload(text=text, media=(MediaItem("a.jpg", "image/jpeg", content=JPEG),)))


def test_profile_from_the_recorded_answer(instagram, fake_instagram):
    recorded = fixture("users/user_fields.json")
    profile = instagram.fetch_profile()
    assert profile.external_id == recorded["id"] and profile.handle == "@" + recorded["username"]
    assert profile.display_name == recorded["name"] and profile.bio == recorded["biography"]
    assert profile.followers == recorded["followers_count"] and profile.following == 312
    assert profile.posts == len(fake_instagram.media)
    assert profile.url == f"https://www.instagram.com/{recorded['username']}/"
    assert profile.avatar_url == recorded["profile_picture_url"]
    (request,) = fake_instagram.requests_to("GET node")
    assert set(request.params["fields"].split(",")) == {
        "id", "username", "name", "biography", "followers_count", "follows_count", "media_count",
        "profile_picture_url", "website"}


def test_metrics_of_a_new_post_use_the_current_metric_names(instagram, fake_instagram):
    ref = publish(instagram)
    metrics = instagram.fetch_post_metrics([ref.external_id])[ref.external_id]
    assert (metrics.impressions, metrics.reach, metrics.saves, metrics.shares, metrics.likes) == (120, 80, 3, 2, 11)
    assert metrics.video_views is None and metrics.clicks is None
    (request,) = fake_instagram.requests_to("GET insights")
    assert "impressions" not in request.params["metric"]  # deprecated for media since July 2024


def test_a_refused_metric_is_dropped_and_the_others_still_come(instagram, fake_instagram):
    ref = publish(instagram)
    fake_instagram.deprecated_metrics.add("total_interactions")
    fake_instagram.unsupported_metrics[ref.external_id] = {"shares"}
    metrics = instagram.fetch_post_metrics([ref.external_id])[ref.external_id]
    assert metrics.reach == 80 and metrics.saves == 3 and metrics.likes == 11
    assert metrics.shares is None  # refused: NULL, not zero
    asked = [r.params["metric"].split(",") for r in fake_instagram.requests_to("GET insights")]
    assert len(asked) == 3 and "shares" not in asked[-1] and "total_interactions" not in asked[-1]


def test_an_error_that_names_no_metric_drops_one_at_a_time_and_stops(instagram, fake_instagram):
    ref = publish(instagram)
    fake_instagram.inject("GET insights", Fault.graph_error(100, "(#100) Invalid parameter"), times=None)
    metrics = instagram.fetch_post_metrics([ref.external_id])[ref.external_id]
    # Every round refused: nothing from insights, the counters from the media node remain.
    assert metrics.reach is None and metrics.likes == 0 and metrics.exists
    assert len(fake_instagram.requests_to("GET insights")) == 7


def test_metrics_of_a_recorded_old_post_and_a_deleted_one(instagram, fake_instagram):
    old = fake_instagram.commented_media_id
    metrics = instagram.fetch_post_metrics([old, "17999999999999999", "not-an-id"])
    recorded = {row["name"]: row["values"][0]["value"] for row in fixture("medias/insights.json")["data"]}
    assert metrics[old].reach == recorded["reach"] and metrics[old].saves == recorded["saved"]
    assert metrics["17999999999999999"].exists is False
    assert "not-an-id" not in metrics


def test_expired_token_while_reading_is_auth_expired(instagram, fake_instagram):
    fake_instagram.inject("*", Fault.expired_token())
    with pytest.raises(AuthExpired):
        instagram.fetch_profile()


def test_interactions_comments_replies_and_mentions_oldest_first(instagram, fake_instagram):
    batch = instagram.fetch_interactions()
    comments = [i for i in batch.items if i.kind == InteractionKind.COMMENT]
    mentions = [i for i in batch.items if i.kind == InteractionKind.MENTION]
    recorded = fixture("medias/comments_p1.json")["data"] + fixture("medias/comments_p2.json")["data"]
    reply = fixture("comments/replies.json")["data"][0]
    assert {c.post.external_id for c in comments} == {c["id"] for c in recorded} | {reply["id"]}
    assert {m.post.external_id for m in mentions} == {m["id"] for m in fixture("users/tagged_medias.json")["data"]}
    times = [i.post.created_at for i in batch.items]
    assert times == sorted(times)
    (answer,) = [c for c in comments if c.post.external_id == reply["id"]]
    assert answer.post.in_reply_to == recorded[0]["id"] and answer.on_post == fake_instagram.commented_media_id
    assert answer.post.text == reply["text"] and answer.post.author.handle == "@lixiangguodu123"
    assert answer.post.author.url == "https://www.instagram.com/lixiangguodu123/"


def test_the_cursor_returns_only_what_is_new(instagram, fake_instagram):
    first = instagram.fetch_interactions()
    assert instagram.fetch_interactions(cursor=first.cursor).items == []
    new = fake_instagram.comment_as("nueva.clienta", "¿Abrís el domingo?", media_id=fake_instagram.commented_media_id)
    later = instagram.fetch_interactions(cursor=first.cursor)
    assert [i.post.external_id for i in later.items] == [new["id"]]
    assert later.items[0].post.text == "¿Abrís el domingo?"
    assert instagram.fetch_interactions(cursor=later.cursor).items == []


def test_since_and_thread_ids_narrow_the_poll(instagram, fake_instagram):
    ref = publish(instagram)
    fake_instagram.comment_as("lectora", "¡Qué bien!", media_id=ref.external_id)
    batch = instagram.fetch_interactions(since=datetime.now(timezone.utc) - timedelta(minutes=5),
                                         thread_ids=[ref.external_id, "<script>"])
    assert [(i.kind, i.post.text, i.on_post) for i in batch.items] == [("comment", "¡Qué bien!", ref.external_id)]


def test_comments_are_paged(instagram, fake_instagram):
    media = fake_instagram.commented_media_id
    for i in range(70):
        fake_instagram.comment_as(f"user{i}", f"comentario {i}", media_id=media, ago=100 - i)
    batch = instagram.fetch_interactions(thread_ids=[media])
    texts = {i.post.text for i in batch.items}
    assert {f"comentario {i}" for i in range(70)} <= texts
    pages = [r for r in fake_instagram.requests_to("GET comments") if r.object_id == media]
    assert len(pages) == 2 and pages[1].params["after"] == "50"
    assert "access_token" not in pages[1].params  # stripped from paging.next, sent as a header


def test_hostile_content_from_instagram_stays_plain_data(instagram, fake_instagram):
    media = fake_instagram.commented_media_id
    evil = fake_instagram.comment_as("x", "<script>alert(1)</script>\x00\x07" + "A" * 10000, media_id=media)
    evil["username"] = "<img src=x onerror=alert(1)>"
    evil["from"] = {"id": "javascript:alert(1)", "username": 123}
    evil["like_count"] = "lots"
    fake_instagram.tagged.append({"id": "17900000000000999", "caption": ["not", "a", "string"],
                                  "timestamp": "yesterday", "permalink": "javascript:alert(1)", "username": None})
    batch = instagram.fetch_interactions(thread_ids=[media])
    (item,) = [i for i in batch.items if i.post.external_id == evil["id"]]
    assert item.post.text.startswith("<script>alert(1)</script>A")  # plain text; templates escape it
    assert "\x00" not in item.post.text and len(item.post.text) <= 2200
    assert item.post.author.url == "" and item.post.author.external_id == "" and item.post.likes is None
    (mention,) = [i for i in batch.items if i.post.external_id == "17900000000000999"]
    assert mention.post.text == "" and mention.post.url == "" and mention.post.created_at is None


def test_reply_to_a_comment_and_first_comment_on_our_post(instagram, fake_instagram):
    comment_id = fixture("medias/comments_p2.json")["data"][0]["id"]
    ref = instagram.reply(comment_id, "¡Gracias por escribir!")
    (posted,) = fake_instagram.requests_to("POST replies")
    assert posted.object_id == comment_id and posted.params["message"] == "¡Gracias por escribir!"
    assert fake_instagram.comments[ref.external_id]["parent_id"] == comment_id
    post = publish(instagram)
    first = instagram.reply(post.external_id, "Más info en la bio 👆")
    (commented,) = fake_instagram.requests_to("POST comments")
    assert commented.object_id == post.external_id
    assert fake_instagram.comments[first.external_id]["media_id"] == post.external_id
    found = instagram.find_published(PostPayload(text="Más info en la bio 👆", reply_to=post.external_id),
                                     since=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert found is not None and found.external_id == first.external_id
    assert instagram.find_published(PostPayload(text="Otro texto", reply_to=post.external_id),
                                    since=datetime.now(timezone.utc) - timedelta(minutes=1)) is None


@pytest.mark.parametrize("bad", ["", "../../me", "123/comments", "1" * 40])
def test_reply_refuses_ids_that_are_not_instagram_ids(instagram, fake_instagram, bad):
    with pytest.raises(Permanent):
        instagram.reply(bad, "hola")
    assert fake_instagram.requests == []


def test_a_garbled_cursor_is_a_fresh_start(instagram):
    assert len(instagram.fetch_interactions(cursor="%%%not-base64").items) > 0
