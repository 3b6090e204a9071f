"""Reading from Mastodon against the loopback fake: profile, metrics, the inbox (mentions,
replies, messages), replies from Tertulia, search, and the instance's limits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import Credentials, InteractionKind, PostPayload, Visibility
from tertulia.networks.errors import Permanent
from tertulia.networks.http import HttpConfig
from tertulia.networks.mastodon import MastodonConnector


def _now():
    return datetime.now(timezone.utc)


def _connector(fake, **kwargs):
    return MastodonConnector(base_url=fake.base_url, credentials=Credentials(fake.token),
                             http_config=HttpConfig(allow_private_networks=True), **kwargs)


# -- profile and metrics -----------------------------------------------------------------------


def test_fetch_profile_from_the_recorded_account(mastodon, fake_mastodon):
    fake_mastodon.own["followers_count"] = 1234
    mastodon.publish(PostPayload(text="uno"))
    profile = mastodon.fetch_profile()
    assert profile.external_id == "117020565966271181"  # the recorded account's id
    assert profile.handle == f"@mastodonpy_test@{fake_mastodon.netloc}"
    assert profile.display_name == "John Lennon"
    assert (profile.followers, profile.following, profile.posts) == (1234, 1, 1)
    assert profile.bio == "I walk funny"  # the recorded note is "<p>I walk funny</p>"
    assert profile.fields == {"bread": "toasty.", "lasagna": "no!!!"}
    assert mastodon.account_id == profile.external_id


def test_fetch_post_metrics(mastodon, fake_mastodon):
    a = mastodon.publish(PostPayload(text="a"))
    b = mastodon.publish(PostPayload(text="b"))
    gone = mastodon.publish(PostPayload(text="c"))
    fake_mastodon.set_counts(a.external_id, favourites=12, reblogs=3)
    fake_mastodon.post_as("admin", "@mastodonpy_test ¡bien!", in_reply_to=a.external_id)
    mastodon.delete(gone.external_id)
    metrics = mastodon.fetch_post_metrics([a.external_id, b.external_id, gone.external_id])
    assert (metrics[a.external_id].likes, metrics[a.external_id].shares, metrics[a.external_id].comments) == (12, 3, 1)
    assert metrics[a.external_id].impressions is None and metrics[a.external_id].reach is None
    assert metrics[b.external_id].likes == 0 and metrics[b.external_id].exists
    assert metrics[gone.external_id].exists is False and metrics[gone.external_id].likes is None
    # One batch request for the three, then one check that the missing one is really gone.
    assert len(fake_mastodon.requests_to("GET", "/api/v1/statuses")) == 1
    assert len(fake_mastodon.requests_to("GET", "/api/v1/statuses/:id")) == 1


def test_fetch_post_metrics_on_a_server_without_batch_lookup(fake_mastodon):
    fake_mastodon.batch_statuses = False
    with _connector(fake_mastodon) as connector:
        refs = [connector.publish(PostPayload(text=str(i))) for i in range(3)]
        metrics = connector.fetch_post_metrics([r.external_id for r in refs])
        assert all(m.exists and m.likes == 0 for m in metrics.values())
        connector.fetch_post_metrics([r.external_id for r in refs])
    assert len(fake_mastodon.requests_to("GET", "/api/v1/statuses")) == 1  # learnt after the first 404
    assert len(fake_mastodon.requests_to("GET", "/api/v1/statuses/:id")) == 6


# -- the inbox -----------------------------------------------------------------------------


def test_fetch_interactions_sorts_mentions_comments_and_messages(mastodon, fake_mastodon):
    since = _now() - timedelta(minutes=1)
    ours = mastodon.publish(PostPayload(text="¿Qué os pareció el concierto?"))
    comment = fake_mastodon.post_as("admin", "@mastodonpy_test ¡Genial!", in_reply_to=ours.external_id)
    mention = fake_mastodon.post_as("mastodonpy_test_2", "Gracias @mastodonpy_test por la organización")
    dm = fake_mastodon.post_as("admin", "@mastodonpy_test ¿tenéis entradas?", visibility="direct")
    fake_mastodon.post_as("admin", "esto no va con nosotros")
    batch = mastodon.fetch_interactions(since)
    by_id = {i.post.external_id: i for i in batch.items}
    assert set(by_id) == {comment["id"], mention["id"], dm["id"]}
    assert by_id[comment["id"]].kind == InteractionKind.COMMENT
    assert by_id[comment["id"]].on_post == ours.external_id
    assert by_id[mention["id"]].kind == InteractionKind.MENTION
    assert by_id[dm["id"]].kind == InteractionKind.DM
    assert by_id[dm["id"]].conversation_id  # from the conversations API
    assert by_id[comment["id"]].post.text == "@mastodonpy_test ¡Genial!"
    assert by_id[comment["id"]].post.author.handle == f"@admin@{fake_mastodon.netloc}"
    assert [i.post.created_at for i in batch.items] == sorted(i.post.created_at for i in batch.items)


def test_the_cursor_resumes_where_the_last_poll_stopped(mastodon, fake_mastodon):
    fake_mastodon.post_as("admin", "@mastodonpy_test uno")
    first = mastodon.fetch_interactions(_now() - timedelta(minutes=1))
    assert [i.post.text for i in first.items] == ["@mastodonpy_test uno"]
    second = mastodon.fetch_interactions(cursor=first.cursor)
    assert second.items == []
    fake_mastodon.post_as("admin", "@mastodonpy_test dos")
    fake_mastodon.post_as("mastodonpy_test_2", "@mastodonpy_test tres")
    third = mastodon.fetch_interactions(cursor=second.cursor)
    assert [i.post.text for i in third.items] == ["@mastodonpy_test dos", "@mastodonpy_test tres"]
    assert json.loads(third.cursor)["n"] > json.loads(first.cursor)["n"]
    request = fake_mastodon.requests_to("GET", "/api/v1/notifications")[-1]
    assert request.q("min_id") == json.loads(second.cursor)["n"]


def test_the_cursor_walks_forward_through_many_pages(mastodon, fake_mastodon):
    first = mastodon.fetch_interactions(_now() - timedelta(minutes=1))
    for i in range(95):
        fake_mastodon.post_as("admin", f"@mastodonpy_test n{i}")
    batch = mastodon.fetch_interactions(cursor=first.cursor)
    assert [i.post.text for i in batch.items] == [f"@mastodonpy_test n{i}" for i in range(95)]


def test_since_bounds_the_first_poll(mastodon, fake_mastodon):
    old = fake_mastodon.post_as("admin", "@mastodonpy_test viejo", created_at=_now() - timedelta(days=2))
    new = fake_mastodon.post_as("admin", "@mastodonpy_test nuevo")
    # The fake dates notifications by their status: an old mention is an old notification.
    batch = mastodon.fetch_interactions(_now() - timedelta(hours=1))
    assert [i.post.external_id for i in batch.items] == [new["id"]]
    everything = {i.post.external_id for i in mastodon.fetch_interactions(None).items}  # no bound: latest page
    assert {old["id"], new["id"]} <= everything


def test_replies_that_did_not_notify_are_found_in_the_thread(mastodon, fake_mastodon):
    since = _now() - timedelta(minutes=1)
    ours = mastodon.publish(PostPayload(text="Sorteo: responde con tu canción favorita"))
    first = fake_mastodon.post_as("admin", "@mastodonpy_test Imagine", in_reply_to=ours.external_id)
    # A reply to a reply that dropped our mention: no notification, but it is in the thread.
    deep = fake_mastodon.post_as("mastodonpy_test_2", "@admin ¡Yesterday!", in_reply_to=first["id"])
    batch = mastodon.fetch_interactions(since)
    by_id = {i.post.external_id: i for i in batch.items}
    assert by_id[deep["id"]].kind == InteractionKind.COMMENT
    assert by_id[deep["id"]].on_post == ours.external_id
    assert by_id[first["id"]].notification_id  # the first one came from notifications
    # Explicit threads (the engine knows which posts are recent) work the same.
    again = mastodon.fetch_interactions(since, thread_ids=[ours.external_id])
    assert deep["id"] in {i.post.external_id for i in again.items}


def test_network_html_is_data_not_markup(mastodon, fake_mastodon):
    # A hostile or careless server sends raw HTML; we keep it and show only plain text.
    hostile = ('<p>Hola <script>alert("x")</script><img src=x onerror=alert(1)>'
               '<a href="javascript:alert(1)">@mastodonpy_test</a> &amp;lt;b&amp;gt; &eacute;&#x1F600;</p>'
               '<style>p{}</style><p>adiós\u202e\x00</p>')
    status = fake_mastodon.post_as("admin", "ignored", raw_html=hostile)
    (item,) = mastodon.fetch_interactions(_now() - timedelta(minutes=1)).items
    assert item.post.external_id == status["id"]
    assert item.post.html == hostile  # kept as received, for the record
    assert item.post.text == "Hola @mastodonpy_test &lt;b&gt; é😀\n\nadiós"
    assert "<" not in item.post.text.replace("&lt;", "")


def test_interactions_skip_our_own_posts(mastodon, fake_mastodon):
    ours = mastodon.publish(PostPayload(text="@admin hola"))
    mastodon.publish(PostPayload(text="@admin seguimos", reply_to=ours.external_id))
    fake_mastodon.post_as("admin", "@mastodonpy_test ok", in_reply_to=ours.external_id)
    items = mastodon.fetch_interactions(_now() - timedelta(minutes=1)).items
    assert [i.post.author.external_id for i in items] == [fake_mastodon.account_named("admin")["id"]]


def test_a_garbage_cursor_starts_over_safely(mastodon, fake_mastodon):
    fake_mastodon.post_as("admin", "@mastodonpy_test hola")
    for cursor in ("not json", '{"n": "../../x"}', "[1, 2]"):
        items = mastodon.fetch_interactions(_now() - timedelta(minutes=1), cursor=cursor).items
        assert len(items) == 1


# -- replying --------------------------------------------------------------------------------


def test_reply_mentions_the_author_and_keeps_the_audience(mastodon, fake_mastodon):
    question = fake_mastodon.post_as("admin", "@mastodonpy_test ¿abrís mañana?", spoiler_text="horarios",
                                     visibility="private")
    ref = mastodon.reply(question["id"], "Sí, de 10 a 14 h.", marker="reply-1")
    status = fake_mastodon.statuses[ref.external_id]
    assert status["text"] == "@admin Sí, de 10 a 14 h."
    assert status["in_reply_to_id"] == question["id"]
    assert status["visibility"] == "private"  # never wider than the question
    assert status["spoiler_text"] == "horarios"
    assert fake_mastodon.requests_to("POST", "/api/v1/statuses")[0].headers["idempotency-key"] == "reply-1"
    # The author is notified, like any Mastodon client's reply.
    assert any(n["status_id"] == ref.external_id for n in fake_mastodon.notifications.values())


def test_reply_to_a_message_stays_private(mastodon, fake_mastodon):
    dm = fake_mastodon.post_as("admin", "@mastodonpy_test hola", visibility="direct")
    ref = mastodon.reply(dm["id"], "@admin ¡hola!")
    status = fake_mastodon.statuses[ref.external_id]
    assert status["visibility"] == "direct" and status["text"] == "@admin ¡hola!"  # not mentioned twice


def test_reply_to_our_own_post_does_not_mention_ourselves(mastodon, fake_mastodon):
    ours = mastodon.publish(PostPayload(text="1/2", visibility=Visibility.UNLISTED))
    ref = mastodon.reply(ours.external_id, "2/2")
    assert fake_mastodon.statuses[ref.external_id]["text"] == "2/2"
    assert fake_mastodon.statuses[ref.external_id]["visibility"] == "unlisted"


def test_reply_to_a_deleted_post_is_permanent(mastodon, fake_mastodon):
    with pytest.raises(Permanent) as info:
        mastodon.reply("999", "hola")
    assert info.value.status == 404


# -- search --------------------------------------------------------------------------------


def test_search_a_hashtag_reads_its_timeline(mastodon, fake_mastodon):
    since = _now() - timedelta(hours=1)
    hit = fake_mastodon.post_as("admin", "Vamos al #Festival2026 esta noche")
    fake_mastodon.post_as("admin", "Un #festival2026 privado", visibility="private")
    fake_mastodon.post_as("admin", "Antiguo #festival2026", created_at=_now() - timedelta(days=3))
    fake_mastodon.post_as("admin", "sin etiqueta")
    results = mastodon.search("#festival2026", since=since)
    assert [p.external_id for p in results] == [hit["id"]]
    assert results[0].text == "Vamos al #Festival2026 esta noche"
    assert fake_mastodon.requests_to("GET", "/api/v1/timelines/tag/:tag")[0].path.endswith("/festival2026")


def test_search_words_uses_full_text_search(mastodon, fake_mastodon):
    hit = fake_mastodon.post_as("mastodonpy_test_2", "El mejor café de Valencia")
    fake_mastodon.post_as("admin", "té verde")
    results = mastodon.search("café", since=_now() - timedelta(hours=1))
    assert [p.external_id for p in results] == [hit["id"]]
    request = fake_mastodon.requests_to("GET", "/api/v2/search")[0]
    assert request.q("type") == "statuses" and request.q("q") == "café"


def test_search_on_a_server_without_full_text_search_finds_nothing(mastodon, fake_mastodon):
    fake_mastodon.full_text_search = False
    fake_mastodon.post_as("admin", "café")
    assert mastodon.search("café") == []
    assert mastodon.search("   ") == []


def test_search_pages_a_busy_hashtag_up_to_the_limit(mastodon, fake_mastodon):
    for i in range(60):
        fake_mastodon.post_as("admin", f"#lluvia {i}")
    results = mastodon.search("#lluvia", limit=50)
    assert len(results) == 50 and len({p.external_id for p in results}) == 50


# -- limits ----------------------------------------------------------------------------------


def test_limits_from_the_v2_instance(mastodon, fake_mastodon):
    limits = mastodon.limits()
    assert (limits.max_characters, limits.url_length, limits.max_media) == (500, 23, 4)
    assert limits.counting == "mastodon" and limits.content_warnings
    assert "image/png" in limits.media_types and limits.image_size_limit == 16777216
    assert limits.visibilities == {"public", "unlisted", "followers", "direct"}
    mastodon.limits()
    assert len(fake_mastodon.requests_to("GET", "/api/v2/instance")) == 1  # cached


def test_limits_follow_the_instance(fake_mastodon):
    fake_mastodon.max_characters = 5000
    with _connector(fake_mastodon) as connector:
        assert connector.limits().max_characters == 5000


def test_limits_on_an_older_server_come_from_v1(fake_mastodon):
    fake_mastodon.v2_instance = False
    fake_mastodon.max_characters = 1000
    with _connector(fake_mastodon) as connector:
        limits = connector.limits()
    assert limits.max_characters == 1000 and limits.max_media == 4
    assert fake_mastodon.requests_to("GET", "/api/v1/instance")


def test_old_threads_are_not_reread_every_poll(fake_mastodon):
    with _connector(fake_mastodon, context_days=1) as connector:
        old = connector.publish(PostPayload(text="post de la semana pasada"))
        fake_mastodon.statuses[old.external_id]["created_at"] -= timedelta(days=5)
        fresh = connector.publish(PostPayload(text="post de hoy"))
        fake_mastodon.post_as("admin", "@mastodonpy_test a", in_reply_to=old.external_id)
        fake_mastodon.post_as("admin", "@mastodonpy_test b", in_reply_to=fresh.external_id)
        items = connector.fetch_interactions(_now() - timedelta(minutes=1)).items
    assert len(items) == 2  # both replies notified us
    read = [r.path for r in fake_mastodon.requests_to("GET", "/api/v1/statuses/:id/context")]
    assert read == [f"/api/v1/statuses/{fresh.external_id}/context"]
