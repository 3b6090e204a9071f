"""Publishing on X (API v2) against the loopback fake: text with links, images with alt text,
chunked video with STATUS polling, GIFs, reply threads, deletion, and the checks made before
anything is sent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Permanent, Retryable
from tertulia.networks.x.connector import XConnector, match_key, snowflake_time
from tests.fakes.x_plugin import fake_x, x, x_http_config  # noqa: F401


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English; one test below checks the Spanish rendering."""
    from django.utils import translation

    with translation.override("en"):
        yield

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def image(name="foto.png", alt=""):
    return MediaItem(filename=name, mime_type="image/png", content=PNG, alt_text=alt)


def test_text_post_with_link_and_entities(x, fake_x):
    text = "Nueva carta de otoño & <b>castañas</b> → https://cafe.example/carta?x=1 #otoño"
    ref = x.publish(PostPayload(text=text, marker="t-1"))
    post = fake_x.own_posts()[0]
    assert post["id"] == ref.external_id
    assert post["source_text"] == text  # sent as typed: never escaped or marked up by us
    assert "https://t.co/" in post["text"] and "&amp;" in post["text"]  # X's own rendering
    assert ref.url == f"https://x.com/i/web/status/{ref.external_id}"  # the username is not known yet
    x.fetch_profile()
    assert x.publish(PostPayload(text="Otra")).url.startswith("https://x.com/TweepyDev/status/")
    assert abs(ref.published_at - datetime.now(timezone.utc)) < timedelta(seconds=30)
    request = fake_x.requests_to("POST /2/tweets")[0]
    assert request.json == {"text": text}
    assert request.headers["authorization"] == f"Bearer {x.credentials.access_token}"
    # The recorded limit of the endpoint came back in x-rate-limit-* and was recorded.
    states = {s.bucket: s for s in x.rate_limits}
    assert states["POST /2/tweets"].limit == 200 and states["POST /2/tweets"].remaining == 198


def test_images_with_alt_text_and_sensitive_flag(x, fake_x):
    items = (image("a.png", "Una taza de café"), image("b.png"), image("c.png", "x" * 1500))
    ref = x.publish(PostPayload(text="Tres fotos", media=items, sensitive=True))
    (post,) = fake_x.own_posts()
    assert post["id"] == ref.external_id
    keys = post["attachments"]["media_keys"]
    assert len(keys) == 3 and all(k.startswith("3_") for k in keys)
    uploads = fake_x.requests_to("POST /2/media/upload")
    assert [u.form["media_category"] for u in uploads] == ["tweet_image"] * 3
    assert uploads[0].files["media"][2] == PNG
    media = [fake_x.media[k.split("_", 1)[1]] for k in keys]
    assert media[0]["metadata"]["alt_text"] == {"text": "Una taza de café"}
    assert "alt_text" not in media[1]["metadata"]
    assert len(media[2]["metadata"]["alt_text"]["text"]) == 1000  # cut to X's limit
    assert all(m["metadata"]["sensitive_media_warning"]["other"] is True for m in media)
    assert fake_x.requests_to("POST /2/tweets")[0].json["media"]["media_ids"] == [m["id"] for m in media]


def test_video_is_chunked_and_waited_for(x, fake_x):
    fake_x.processing_polls = 2
    x.chunk_size = 1000
    video = bytes(range(256)) * 10  # 2,560 bytes: three segments of 1,000
    ref = x.publish(PostPayload(text="Vídeo", media=(MediaItem("v.mp4", "video/mp4", content=video),)))
    init = fake_x.requests_to("POST /2/media/upload/initialize")[0].json
    assert init == {"media_type": "video/mp4", "total_bytes": 2560, "media_category": "tweet_video"}
    appends = fake_x.requests_to("POST /2/media/upload/:id/append")
    assert [a.form["segment_index"] for a in appends] == ["0", "1", "2"]
    assert len(fake_x.requests_to("GET /2/media/upload")) == 3  # in_progress twice, then succeeded
    (post,) = fake_x.own_posts()
    assert post["id"] == ref.external_id and post["attachments"]["media_keys"][0].startswith("13_")
    media = fake_x.media[post["attachments"]["media_keys"][0].split("_", 1)[1]]
    assert media["data"] == video


def test_video_from_a_file_on_disk(x, fake_x, tmp_path):
    path = tmp_path / "clip.mov"
    path.write_bytes(b"\x00\x01" * 3000)
    x.chunk_size = 4096
    x.publish(PostPayload(text="", media=(MediaItem("clip.mov", "video/quicktime", path=path),)))
    (post,) = fake_x.own_posts()
    assert fake_x.media[post["attachments"]["media_keys"][0].split("_", 1)[1]]["data"] == path.read_bytes()


def test_gif_uses_the_gif_category_and_keeps_alt_text(x, fake_x):
    x.publish(PostPayload(text="GIF", media=(MediaItem("a.gif", "image/gif", content=b"GIF89a" + b"\x00" * 50,
                                                       alt_text="Un gato"),)))
    assert fake_x.requests_to("POST /2/media/upload/initialize")[0].json["media_category"] == "tweet_gif"
    (post,) = fake_x.own_posts()
    assert fake_x.media[post["attachments"]["media_keys"][0].split("_", 1)[1]]["metadata"]["alt_text"]["text"] == "Un gato"


def test_failed_video_processing_is_permanent_and_nothing_is_posted(x, fake_x):
    fake_x.video_fails = True
    with pytest.raises(Permanent) as caught:
        x.publish(PostPayload(text="Vídeo roto", media=(MediaItem("v.mp4", "video/mp4", content=b"x" * 10),)))
    assert "Unsupported video format" in str(caught.value.user_message)
    assert fake_x.own_posts() == [] and not fake_x.requests_to("POST /2/tweets")


def test_slow_video_is_retryable_after_a_bounded_wait(x, fake_x):
    fake_x.processing_polls = 10**6
    x.media_timeout = 0.2
    x.media_poll_interval = 0.05
    with pytest.raises(Retryable):
        x.publish(PostPayload(text="Lento", media=(MediaItem("v.mp4", "video/mp4", content=b"x" * 10),)))
    assert not fake_x.requests_to("POST /2/tweets")
    assert len(fake_x.requests_to("GET /2/media/upload")) <= 5


@pytest.mark.parametrize("payload", [
    PostPayload(text=""),
    PostPayload(text="   "),
    PostPayload(text="a" * 281),
    PostPayload(text="漢" * 141),  # CJK weighs 2: 282 of 280
    PostPayload(text="hola", visibility=Visibility.FOLLOWERS),
    PostPayload(text="hola", content_warning="spoiler"),
    PostPayload(text="cinco", media=tuple(image(f"{i}.png") for i in range(5))),
    PostPayload(text="mezcla", media=(image(), MediaItem("v.mp4", "video/mp4", content=b"v"))),
    PostPayload(text="dos vídeos", media=(MediaItem("v.mp4", "video/mp4", content=b"v"),) * 2),
    PostPayload(text="pdf", media=(MediaItem("a.pdf", "application/pdf", content=b"%PDF"),)),
    PostPayload(text="grande", media=(MediaItem("big.png", "image/png", content=b"\x00" * (5 * 1024 * 1024 + 1)),)),
    PostPayload(text="respuesta", reply_to="../../2/users/me"),
])
def test_invalid_posts_are_refused_before_any_request(x, fake_x, payload):
    with pytest.raises(Permanent):
        x.publish(payload)
    assert [r for r in fake_x.requests if r.endpoint != "GET /2/users/me"] == []


def test_weighted_length_allows_280_and_links_count_23(x, fake_x):
    x.publish(PostPayload(text="a" * 280))
    x.publish(PostPayload(text="b" * 256 + " https://cafetertulia.es/carta/" + "c" * 100))  # 256 + 1 + 23
    assert len(fake_x.own_posts()) == 2


def test_thread_and_reply(x, fake_x):
    first = x.publish(PostPayload(text="1/2 Hilo de otoño"))
    second = x.publish(PostPayload(text="2/2 Fin", reply_to=first.external_id))
    tweet = fake_x.tweets[second.external_id]
    assert tweet["referenced_tweets"] == [{"type": "replied_to", "id": first.external_id}]
    assert tweet["conversation_id"] == first.external_id
    someone = fake_x.reply_from("lectora", "¿Hay versión vegana?", to=first.external_id)
    answer = x.reply(someone["id"], "¡Sí! Desde el lunes.", marker="c-1")
    assert fake_x.tweets[answer.external_id]["referenced_tweets"][0]["id"] == someone["id"]
    assert fake_x.requests_to("POST /2/tweets")[-1].json["reply"] == {"in_reply_to_tweet_id": someone["id"]}


def test_reply_to_a_deleted_post_is_permanent(x, fake_x):
    ref = x.publish(PostPayload(text="Se borrará"))
    assert x.delete(ref.external_id) is True
    with pytest.raises(Permanent):
        x.reply(ref.external_id, "tarde")


def test_delete_uses_the_recorded_answer_and_gone_is_false(x, fake_x):
    ref = x.publish(PostPayload(text="Borrar"))
    assert x.delete(ref.external_id) is True
    assert ref.external_id in fake_x.deleted
    assert x.delete(ref.external_id) is False  # 404: already gone
    with pytest.raises(Permanent):
        x.delete("1/../../users/me")


def test_duplicate_text_refused_by_x_returns_our_earlier_post(x, fake_x):
    """X refuses a text equal to a recent post (403 duplicate content). When that post is ours
    from an earlier attempt, it is the result; never a second post."""
    first = x.publish(PostPayload(text="Solo una vez https://cafe.example/a"))
    again = x.publish(PostPayload(text="Solo una vez https://cafe.example/a"))
    assert again.external_id == first.external_id
    assert len(fake_x.own_posts()) == 1


def test_duplicate_of_an_older_post_is_a_plain_permanent_error(x, fake_x):
    fake_x._store({"id": fake_x._next_id(datetime.now(timezone.utc) - timedelta(hours=10)), "text": "Repetido",
                   "source_text": "Repetido", "author_id": fake_x.own["id"], "new": True})
    with pytest.raises(Permanent) as caught:
        x.publish(PostPayload(text="Repetido"))
    assert "same as a recent post" in str(caught.value.user_message)


def test_limits_and_helpers():
    limits = XConnector(base_url="https://api.x.com").limits()
    assert limits.max_characters == 280 and limits.url_length == 23 and limits.counting == "twitter"
    assert limits.max_media == 4 and limits.max_alt_text == 1000
    assert limits.image_size_limit == 5 * 1024 * 1024 and limits.video_size_limit == 512 * 1024 * 1024
    assert "video/mp4" in limits.media_types and not limits.content_warnings
    assert snowflake_time("1456012973835788293") == datetime(2021, 11, 3, 21, 38, 39, 32000, tzinfo=timezone.utc)
    assert snowflake_time("12") is None and snowflake_time("nope") is None
    assert match_key("Hola &amp; adiós https://t.co/abc  https://t.co/def") == "Hola & adiós"
    assert match_key("Hola & adiós cafetertulia.es/menu") == "Hola & adiós"  # no scheme: still a link on X
