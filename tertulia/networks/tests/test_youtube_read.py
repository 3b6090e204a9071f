"""YouTube reads and the inbox side against the loopback fake: the channel, video statistics,
comment threads into interactions, replies, the sign-in's refresh, the daily quota and faults."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import Credentials, InteractionKind
from tertulia.networks.errors import AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.youtube import quota as q
from tertulia.networks.youtube.connector import YouTubeConnector
from tests.fakes.youtube import Fault


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English (the catalog's Spanish is tested by the i18n tests)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def test_profile(youtube, fake_youtube):
    profile = youtube.fetch_profile()
    assert profile.external_id == fake_youtube.channel["id"]
    assert profile.handle == "@cafetertulia"
    assert profile.followers == 1234 and profile.posts == 1
    assert profile.bio == "Recetas & <b>charlas</b>"  # plain text, escaped by templates
    assert profile.url == "https://www.youtube.com/@cafetertulia"


def test_video_statistics(youtube, fake_youtube):
    vid = next(iter(fake_youtube.videos))
    fake_youtube.add_comment(vid, "¡Qué rico!")
    metrics = youtube.fetch_post_metrics([vid, "gone1234567"])
    assert metrics[vid].video_views == 1500 and metrics[vid].likes == 120 and metrics[vid].comments == 1
    assert metrics[vid].impressions is None and metrics[vid].reach is None  # not in the Data API
    assert metrics["gone1234567"].exists is False


def test_comment_threads_become_interactions(youtube, fake_youtube):
    vid = next(iter(fake_youtube.videos))
    now = datetime.now(timezone.utc)
    top = fake_youtube.add_comment(vid, "<script>alert(1)</script> ¿Lleva piloncillo?", author="Ana",
                                   when=now - timedelta(minutes=10))
    for i in range(7):  # more than the five replies YouTube embeds
        fake_youtube.add_comment(vid, f"respuesta {i}", author="Luis", parent=top["id"],
                                 when=now - timedelta(minutes=9 - i))
    fake_youtube.add_comment(vid, "nuestra respuesta", author="Café Tertulia", author_id=fake_youtube.channel["id"],
                             parent=top["id"], when=now - timedelta(minutes=1))
    batch = youtube.fetch_interactions(now - timedelta(hours=1))
    texts = [i.post.text for i in batch.items]
    assert texts[0] == "<script>alert(1)</script> ¿Lleva piloncillo?"  # raw, escaped where shown
    assert len(batch.items) == 8 and "nuestra respuesta" not in texts  # the channel's own left out
    first = batch.items[0]
    assert first.kind == InteractionKind.COMMENT and first.on_post == vid and first.post.in_reply_to == vid
    assert batch.items[1].post.in_reply_to == top["id"]
    assert len(fake_youtube.requests_to("GET /youtube/v3/comments")) == 1  # replies past the embedded five
    # The next poll with the cursor: only what is new or edited.
    fake_youtube.edit_comment(top["id"], "¿Lleva piloncillo o azúcar?", when=now + timedelta(seconds=5))
    again = youtube.fetch_interactions(cursor=batch.cursor)
    assert [i.post.text for i in again.items] == ["¿Lleva piloncillo o azúcar?"]
    assert again.items[0].post.edited_at is not None


def test_page_bound_goes_on_from_the_next_page(youtube, fake_youtube):
    vid = next(iter(fake_youtube.videos))
    now = datetime.now(timezone.utc)
    for i in range(130):
        fake_youtube.add_comment(vid, f"comentario {i}", when=now - timedelta(minutes=200 - i))
    youtube.interaction_pages = 1
    first = youtube.fetch_interactions(now - timedelta(days=1))
    assert len(first.items) == 100 and first.more
    second = youtube.fetch_interactions(cursor=first.cursor)
    assert len(second.items) == 30 and not second.more
    assert {i.post.text for i in first.items + second.items} == {f"comentario {i}" for i in range(130)}
    assert youtube.fetch_interactions(cursor=second.cursor).items == []


def test_chunk_server_errors_back_off_and_resume(youtube, fake_youtube, tmp_path):
    from tertulia.networks.base import MediaItem, PostPayload

    waits = []
    youtube.sleep = waits.append
    path = tmp_path / "v.mp4"
    path.write_bytes(b"\1" * 300_000)
    fake_youtube.inject("PUT /upload/youtube/v3/videos", Fault.server_error(503), times=2)
    ref = youtube.publish(PostPayload(text="Hola", media=(MediaItem("v.mp4", "video/mp4", path=str(path)),),
                                      marker="tertulia-3-1"))
    assert fake_youtube.videos[ref.external_id]["content"] == path.read_bytes()
    assert waits == [1.0, 2.0]


def test_reply_from_the_inbox(youtube, fake_youtube):
    vid = next(iter(fake_youtube.videos))
    top = fake_youtube.add_comment(vid, "¿Hay receta escrita?")
    ref = youtube.reply(top["id"], "¡Sí! En la descripción.")
    assert ref.external_id.startswith(top["id"] + ".")
    assert fake_youtube.threads[top["id"]]["replies"][-1]["snippet"]["textOriginal"] == "¡Sí! En la descripción."
    # A reply to a reply goes under the thread's top-level comment.
    ref2 = youtube.reply(ref.external_id, "Y en el blog.")
    assert ref2.external_id.startswith(top["id"] + ".")
    assert youtube.quota_used() == 100


@pytest.mark.parametrize("target, text, fragment", [
    ("Ugabc", "", "needs some text"),
    ("Ugabc", "x" * 10_001, "10,000"),
    ("../../videos?id=1", "hola", "not a valid YouTube id"),
])
def test_reply_refusals(youtube, fake_youtube, target, text, fragment):
    with pytest.raises(Permanent) as caught:
        youtube.reply(target, text)
    assert fragment in str(caught.value.user_message)
    assert fake_youtube.requests == []


def test_reply_where_comments_are_off(youtube, fake_youtube):
    vid = next(iter(fake_youtube.videos))
    top = fake_youtube.add_comment(vid, "hola")
    fake_youtube.comments_disabled.add(vid)
    with pytest.raises(Permanent) as caught:
        youtube.reply(top["id"], "gracias")
    assert "turned off" in str(caught.value.user_message)


def test_access_token_refreshed_before_expiry_and_on_401(youtube, fake_youtube):
    seen = []
    youtube.credentials_listener = seen.append
    youtube.credentials = Credentials(access_token=youtube.credentials.access_token,
                                      refresh_token=youtube.credentials.refresh_token,
                                      expires_at=datetime.now(timezone.utc) + timedelta(seconds=30))
    youtube.fetch_profile()
    assert len(seen) == 1 and seen[0].refresh_token == youtube.credentials.refresh_token  # kept (not rotated)
    fake_youtube.expire_token(youtube.credentials.access_token)  # revoked early: 401
    youtube.fetch_profile()
    assert len(seen) == 2 and len(fake_youtube.requests_to("POST /token")) == 2


def test_revoked_refresh_token_needs_reconnecting(youtube, fake_youtube):
    fake_youtube.revoke(youtube.credentials.refresh_token)
    fake_youtube.expire_token(youtube.credentials.access_token)
    with pytest.raises(AuthExpired) as caught:
        youtube.fetch_profile()
    assert "Reconnect" in str(caught.value.user_message)


def test_quota_ledger_refuses_work_past_the_daily_units(youtube, fake_youtube):
    youtube.quota = q.MemoryLedger(limit=1650)
    youtube.quota.try_spend(youtube.project, 1590)
    vid = next(iter(fake_youtube.videos))
    top = fake_youtube.add_comment(vid, "hola")
    youtube.reply(top["id"], "gracias")  # 50 units: 1640, fine
    with pytest.raises(RateLimited) as caught:
        youtube.reply(top["id"], "otra vez")  # 1640 + 50 > 1650: not sent
    assert len(fake_youtube.requests_to("POST /youtube/v3/comments")) == 1
    message = str(caught.value.user_message)
    assert "1,600 units" in message and "midnight Pacific time" in message and "1640 of 1650" in message
    assert 0 < caught.value.retry_after <= 25 * 3600


def test_reads_stop_short_to_keep_units_for_uploads(youtube, fake_youtube):
    youtube.quota = q.MemoryLedger(limit=10_000)
    youtube.quota.try_spend(youtube.project, 10_000 - q.READ_RESERVE)  # reads have used their share
    with pytest.raises(RateLimited) as caught:
        youtube.fetch_interactions()
    assert "keeps the last" in str(caught.value.user_message) and fake_youtube.requests == []
    vid = next(iter(fake_youtube.videos))
    top = fake_youtube.add_comment(vid, "hola")
    youtube.reply(top["id"], "gracias")  # a write still goes out


def test_quota_exceeded_from_youtube_blocks_until_the_reset(youtube, fake_youtube):
    fake_youtube.quota_limit = 0  # another program used the project's units up
    with pytest.raises(RateLimited) as caught:
        youtube.fetch_profile()
    assert caught.value.retry_after > 60
    assert youtube.quota_used() == youtube.quota.limit  # the day is marked as used up
    before = len(fake_youtube.requests)
    with pytest.raises(RateLimited):
        youtube.fetch_post_metrics(["abc"])
    assert len(fake_youtube.requests) == before


def test_pacific_day_and_reset():
    # 07:30 UTC on 1 July is 00:30 PDT: a new quota day; the reset is the next 07:00 UTC.
    at = datetime(2026, 7, 1, 7, 30, tzinfo=timezone.utc)
    assert str(q.quota_day(at)) == "2026-07-01"
    assert q.next_reset(at) == datetime(2026, 7, 2, 7, 0, tzinfo=timezone.utc)
    winter = datetime(2026, 1, 10, 7, 30, tzinfo=timezone.utc)  # 23:30 PST the day before
    assert str(q.quota_day(winter)) == "2026-01-09"
    assert q.next_reset(winter) == datetime(2026, 1, 10, 8, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("fault, error", [
    (Fault.server_error(503), Retryable),
    (Fault.rate_limited(30, retry_after=30), RateLimited),
    (Fault.malformed(), Retryable),
    (Fault.malformed('{"items": "nope"}'), Retryable),
    (Fault.expired_token(), AuthExpired),
])
def test_faults_on_reads(fake_youtube, youtube_http_config, fault, error):
    answer = fake_youtube.issue()
    connector = YouTubeConnector(base_url=fake_youtube.base_url, credentials=Credentials(
        access_token=answer["access_token"]), http_config=youtube_http_config)  # no refresh possible
    fake_youtube.inject("GET /youtube/v3/videos", fault, times=None)
    with connector, pytest.raises(error):
        connector.fetch_post_metrics(["abc"])


def test_publish_start_timeout_is_retryable_not_ambiguous(youtube, fake_youtube, tmp_path):
    """A session start whose answer is lost created no video: retry without looking."""
    from tertulia.networks.base import MediaItem, PostPayload

    path = tmp_path / "v.mp4"
    path.write_bytes(b"\0" * 1000)
    fake_youtube.inject("POST /upload/youtube/v3/videos", Fault.drop_after())
    with pytest.raises(Retryable) as caught:
        youtube.publish(PostPayload(text="Hola", media=(MediaItem("v.mp4", "video/mp4", path=str(path)),),
                                    marker="tertulia-1-1"))
    assert type(caught.value) is Retryable


def test_long_threads_are_reread_only_when_their_reply_count_changes(youtube, fake_youtube):
    vid = next(iter(fake_youtube.videos))
    now = datetime.now(timezone.utc)
    top = fake_youtube.add_comment(vid, "hilo largo", when=now - timedelta(minutes=30))
    for i in range(7):
        fake_youtube.add_comment(vid, f"r{i}", parent=top["id"], when=now - timedelta(minutes=29 - i))
    first = youtube.fetch_interactions(now - timedelta(hours=1))
    assert len(fake_youtube.requests_to("GET /youtube/v3/comments")) == 1
    fake_youtube.add_comment(vid, "otro hilo", when=now + timedelta(seconds=1))  # the thread list changes
    second = youtube.fetch_interactions(cursor=first.cursor)
    assert [i.post.text for i in second.items] == ["otro hilo"]
    assert len(fake_youtube.requests_to("GET /youtube/v3/comments")) == 1  # the long thread did not change
    fake_youtube.add_comment(vid, "r nueva", parent=top["id"], when=now + timedelta(seconds=2))
    third = youtube.fetch_interactions(cursor=second.cursor)
    assert [i.post.text for i in third.items] == ["r nueva"]
    assert len(fake_youtube.requests_to("GET /youtube/v3/comments")) == 2  # it grew: read again


def test_cursor_stays_within_what_the_inbox_stores():
    from tertulia.networks.youtube.connector import _dump_cursor, _load_cursor

    counts = {f"Ug{i:024d}": 6 + i for i in range(500)}
    text = _dump_cursor({"w": datetime.now(timezone.utc), "r": counts})
    assert len(text) <= 3900
    loaded = _load_cursor(text)
    assert loaded["w"] is not None and 0 < len(loaded["r"]) <= 80 and "Ug" + "0" * 24 in loaded["r"]
    assert _load_cursor('{"r": {"../x": 3, "Ugok": "7"}}')["r"] == {}


def _lost_reply(youtube, fake_youtube, text):
    from tertulia.networks.errors import Ambiguous

    vid = next(iter(fake_youtube.videos))
    top = fake_youtube.add_comment(vid, "¿Hay receta?", when=datetime.now(timezone.utc) - timedelta(minutes=5))
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    fake_youtube.inject("POST /youtube/v3/comments", Fault.drop_after())
    with pytest.raises(Ambiguous):
        youtube.reply(top["id"], text)
    return top, since


def test_a_lost_reply_is_found_in_its_thread(youtube, fake_youtube):
    from tertulia.networks.base import PostPayload

    top, since = _lost_reply(youtube, fake_youtube, "¡Sí!  En la\ndescripción.")
    # Someone else writing the same words is not our reply.
    fake_youtube.add_comment(next(iter(fake_youtube.videos)), "¡Sí! En la descripción.", parent=top["id"])
    ours = [c for c in fake_youtube.threads[top["id"]]["replies"]
            if c["snippet"]["authorChannelId"]["value"] == fake_youtube.channel["id"]]
    assert len(ours) == 1  # it did go out
    ref = youtube.find_published(PostPayload(text="¡Sí! En la descripción.", reply_to=top["id"], marker="r-1"),
                                 since=since)
    assert ref is not None and ref.external_id == ours[0]["id"]
    assert youtube.find_published(PostPayload(text="Otra cosa", reply_to=top["id"], marker="r-1"),
                                  since=since) is None


def test_a_reply_that_cannot_be_checked_says_so(youtube, fake_youtube):
    from tertulia.networks.base import PostPayload
    from tertulia.networks.errors import ConnectorError

    top, since = _lost_reply(youtube, fake_youtube, "hola")
    fake_youtube.inject("GET /youtube/v3/comments", Fault.server_error(503), times=5)
    with pytest.raises(ConnectorError):
        youtube.find_published(PostPayload(text="hola", reply_to=top["id"] + ".abc", marker="r-2"), since=since)
