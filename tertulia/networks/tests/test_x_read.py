"""Reading from X against the loopback fake (recorded tweepy payloads): the profile, post
metrics (public always, private where X allows), mentions with pagination and a resumable
cursor, replies found by conversation search, the plan's gaps, and hostile content staying
inert plain text."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import InteractionKind, PostPayload
from tertulia.networks.errors import Permanent
from tests.fakes.x import Fault, recorded
from tests.fakes.x_plugin import fake_x, x, x_http_config  # noqa: F401


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English; one test below checks the Spanish rendering."""
    from django.utils import translation

    with translation.override("en"):
        yield


def test_profile_from_the_recorded_users_me(x, fake_x):
    _status, _headers, me = recorded("test_client_get_me")
    profile = x.fetch_profile()
    assert profile.external_id == me["data"]["id"] and profile.handle == f"@{me['data']['username']}"
    assert profile.display_name == me["data"]["name"] == "Tweepy Testing"
    assert profile.url == "https://x.com/TweepyDev"
    assert (profile.followers, profile.following, profile.posts) == (1234, 56, 789)
    assert profile.bio == "Cuenta de pruebas & <b>café</b>"  # plain text: templates escape it
    assert profile.fields == {"website": "https://cafe.example/", "location": "Madrid", "joined": "2018-12-10"}
    fields = fake_x.requests_to("GET /2/users/me")[0].query["user.fields"].split(",")
    assert {"public_metrics", "description", "profile_image_url", "url", "created_at"} <= set(fields)


def test_metrics_public_for_old_posts_private_for_recent_own_posts(x, fake_x):
    ref = x.publish(PostPayload(text="Métricas"))
    tweet = fake_x.tweets[ref.external_id]
    tweet["public_metrics"].update(like_count=7, reply_count=2, retweet_count=3, quote_count=1, bookmark_count=4,
                                   impression_count=90)
    tweet["non_public_metrics"].update(impression_count=120, url_link_clicks=5, user_profile_clicks=2)
    old = "1577730467436138524"  # recorded, from 2022: older than 30 days
    fake_x.tweets[old]["public_metrics"].update(like_count=50, impression_count=900)
    metrics = x.fetch_post_metrics([ref.external_id, old, "1234567890123456789"])
    new = metrics[ref.external_id]
    assert (new.likes, new.comments, new.shares, new.saves, new.impressions, new.clicks) == (7, 2, 4, 4, 120, 7)
    assert new.reach is None and new.video_views is None  # X does not expose them: None, never 0
    assert metrics[old].likes == 50 and metrics[old].impressions == 900 and metrics[old].clicks is None
    assert metrics["1234567890123456789"].exists is False
    lookups = fake_x.requests_to("GET /2/tweets")
    assert lookups[0].query["ids"] == ref.external_id and "non_public_metrics" in lookups[0].query["tweet.fields"]
    assert "non_public_metrics" not in lookups[1].query["tweet.fields"]


def test_refused_private_metrics_do_not_lose_the_public_ones(x, fake_x):
    """A recent post of another account (ids the team tracks), or the private fields refused
    for the whole batch (403): the public counters still come back."""
    someone = fake_x.reply_from("vecina", "¡Qué buena pinta!", to="1577730467436138524")
    someone["public_metrics"]["like_count"] = 3
    metrics = x.fetch_post_metrics([someone["id"]])
    assert metrics[someone["id"]].likes == 3 and metrics[someone["id"]].clicks is None
    assert len(fake_x.requests_to("GET /2/tweets")) == 2

    ref = x.publish(PostPayload(text="Otra"))
    fake_x.inject("GET /2/tweets", Fault.not_enrolled())
    metrics = x.fetch_post_metrics([ref.external_id])
    assert metrics[ref.external_id].exists and metrics[ref.external_id].likes == 0


def test_metrics_batches_of_100_and_ids_validated(x, fake_x):
    ids = [str(1577730467436138524 + i) for i in range(150)]
    metrics = x.fetch_post_metrics(ids)
    assert len(metrics) == 150 and not metrics[ids[5]].exists
    assert metrics["1577730467436138524"].exists
    assert [len(r.query["ids"].split(",")) for r in fake_x.requests_to("GET /2/tweets")] == [100, 50]
    with pytest.raises(Permanent):
        x.fetch_post_metrics(["1,2"])


def test_mentions_from_the_recording_with_authors(x, fake_x):
    _status, _headers, body = recorded("test_client_get_users_mentions")
    batch = x.fetch_interactions()
    assert [i.post.external_id for i in batch.items] == sorted(t["id"] for t in body["data"])
    first = next(i for i in batch.items if i.post.external_id == body["data"][0]["id"])
    assert first.kind == InteractionKind.MENTION
    assert first.post.author.handle.startswith("@lector") and first.post.author.display_name.startswith("Lector")
    assert first.post.url.startswith("https://x.com/lector") and "https://t.co/W5GxALkkZd" in first.post.text
    assert first.post.created_at == datetime(2022, 10, 7, 22, 43, 6, 945000, tzinfo=timezone.utc)  # from the snowflake id
    request = fake_x.requests_to("GET /2/users/:id/mentions")[0]
    assert request.path == f"/2/users/{fake_x.own['id']}/mentions"
    assert request.query["expansions"] == "author_id" and "since_id" not in request.query
    assert json.loads(batch.cursor)["m"] == body["meta"]["newest_id"]


def test_cursor_resumes_with_since_id_and_follows_pages(x, fake_x):
    batch = x.fetch_interactions()
    again = x.fetch_interactions(cursor=batch.cursor)
    assert again.items == [] and again.cursor == batch.cursor
    assert fake_x.requests_to("GET /2/users/:id/mentions")[-1].query["since_id"] == json.loads(batch.cursor)["m"]
    post = x.publish(PostPayload(text="¿Qué os apetece?"))
    for n in range(130):  # more than one page of 100
        fake_x.reply_from(f"fan{n}", f"¡Tarta {n}!", to=post.external_id)
    newer = x.fetch_interactions(cursor=batch.cursor)
    assert len(newer.items) == 130
    assert all(i.kind == InteractionKind.COMMENT and i.on_post == post.external_id for i in newer.items)
    ids = [i.post.external_id for i in newer.items]
    assert ids == sorted(ids, key=lambda v: (len(v), v))  # oldest first
    pages = fake_x.requests_to("GET /2/users/:id/mentions")[-2:]
    assert "pagination_token" not in pages[0].query and pages[1].query["pagination_token"] == "100"
    assert json.loads(newer.cursor)["m"] == max(ids, key=int)


def test_since_bounds_the_first_poll(x, fake_x):
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    post = x.publish(PostPayload(text="Nuevo"))
    fake_x.reply_from("ana", "hola", to=post.external_id)
    batch = x.fetch_interactions(since)
    assert [i.post.author.handle for i in batch.items] == ["@ana"]
    assert fake_x.requests_to("GET /2/users/:id/mentions")[0].query["start_time"].endswith("Z")


def test_replies_by_conversation_search(x, fake_x):
    post = x.publish(PostPayload(text="Hilo"))
    first = fake_x.reply_from("ana", "Me encanta", to=post.external_id)
    # A reply to Ana's reply: in our conversation, addressed to her, not to us.
    deep = fake_x._store({"id": fake_x._next_id(), "text": "@ana yo también", "author_id": fake_x.add_user("luis", "Luis")["id"],
                          "conversation_id": post.external_id, "in_reply_to_user_id": first["author_id"],
                          "referenced_tweets": [{"type": "replied_to", "id": first["id"]}]})
    batch = x.fetch_interactions(thread_ids=[post.external_id])
    found = {i.post.external_id: i for i in batch.items}
    assert found[first["id"]].kind == InteractionKind.COMMENT and found[first["id"]].on_post == post.external_id
    assert found[deep["id"]].kind == InteractionKind.COMMENT and found[deep["id"]].on_post == post.external_id
    search = fake_x.requests_to("GET /2/tweets/search/recent")[0]
    assert search.query["query"] == f"conversation_id:{post.external_id} is:reply"
    # Next poll: since the newest reply seen.
    x.fetch_interactions(cursor=batch.cursor, thread_ids=[post.external_id])
    assert fake_x.requests_to("GET /2/tweets/search/recent")[-1].query["since_id"] == deep["id"]


def test_search_outside_the_plan_leaves_mentions_working(x, fake_x):
    fake_x.not_in_plan.add("GET /2/tweets/search/recent")
    post = x.publish(PostPayload(text="Plan básico"))
    reply = fake_x.reply_from("ana", "hola", to=post.external_id)
    batch = x.fetch_interactions(thread_ids=[post.external_id, "1577730467436138524"])
    assert reply["id"] in {i.post.external_id for i in batch.items}  # it mentions us
    assert len(fake_x.requests_to("GET /2/tweets/search/recent")) == 1  # not asked again per thread
    with pytest.raises(Permanent) as caught:
        x.search("café")
    assert "searching posts" in str(caught.value.user_message)


def test_mentions_outside_the_plan_is_a_plain_permanent(x, fake_x):
    fake_x.not_in_plan.add("GET /2/users/:id/mentions")
    with pytest.raises(Permanent) as caught:
        x.fetch_interactions()
    assert "reading mentions" in str(caught.value.user_message) and "developer.x.com" in str(caught.value.user_message)
    # Publishing is a different endpoint: unaffected.
    assert x.publish(PostPayload(text="Sigo publicando")).external_id


def test_search(x, fake_x):
    x.publish(PostPayload(text="Tarta de queso del día"))
    results = x.search("tarta queso", limit=5)
    assert [r.text for r in results] == ["Tarta de queso del día"]
    assert x.search("   ") == []


def test_hostile_content_stays_inert(x, fake_x):
    evil = fake_x.add_user("evil", "<script>alert(1)</script>", profile_image_url="javascript:alert(1)")
    post = x.publish(PostPayload(text="Hola"))
    bad = fake_x._store({"id": fake_x._next_id(), "author_id": evil["id"], "conversation_id": post.external_id,
                         "text": "@TweepyDev &lt;img src=x onerror=alert(1)&gt;\x00\x07 " + "A" * 40_000,
                         "in_reply_to_user_id": fake_x.own["id"], "lang": {"no": "string"},
                         "referenced_tweets": [{"type": "replied_to", "id": "../../etc"}],
                         "public_metrics": {"like_count": "muchos", "reply_count": True}})
    weird_user = fake_x.add_user("bad name!", "x" * 5000)
    fake_x._store({"id": fake_x._next_id(), "author_id": weird_user["id"], "text": ["@TweepyDev"],
                   "conversation_id": "1"})
    batch = x.fetch_interactions()
    item = next(i for i in batch.items if i.post.external_id == bad["id"])
    assert item.post.author.display_name == "<script>alert(1)</script>"  # plain text, escaped when shown
    assert item.post.author.avatar_url == ""
    assert item.post.text.startswith("@TweepyDev <img src=x onerror=alert(1)>")
    assert "\x00" not in item.post.text and len(item.post.text) <= 25_000
    assert item.post.language == "" and item.post.in_reply_to == "" and item.post.likes is None
    assert item.kind == InteractionKind.MENTION  # no valid reply target
    profile_user = fake_x.users[fake_x.own["id"]]
    profile_user["name"] = "<b>Café</b>\x1b"
    profile_user["public_metrics"] = {"followers_count": "lots"}
    profile = x.fetch_profile()
    assert profile.display_name == "<b>Café</b>" and profile.followers is None
