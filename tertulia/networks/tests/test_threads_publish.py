"""Publishing on Threads against the loopback fake: the container flow for text, image, video and
carousel posts, replies, the publishing quota, media processing (stuck, then reused; ERROR),
deleting, and the checks made before any request."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Ambiguous, Permanent, RateLimited, Retryable
from tertulia.networks.threads.connector import ThreadsConnector, links_in, threads_length
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

PNG = MediaItem("cafe.png", "image/png", b"\x89PNG fake", alt_text="Una taza de café <b>humeante</b>")
JPG = MediaItem("tarta.jpg", "image/jpeg", b"\xff\xd8 fake")
MP4 = MediaItem("barista.mp4", "video/mp4", b"\x00\x00\x00 ftyp fake")


def test_text_post_is_a_container_then_a_publish(threads, fake_threads):
    ref = threads.publish(PostPayload(text="Hoy tertulia a las 19 h <b>¡ven!</b> & trae un libro ☕", marker="m1"))
    (post,) = fake_threads.posts()
    assert post["text"] == "Hoy tertulia a las 19 h <b>¡ven!</b> & trae un libro ☕"
    assert post["media_type"] == "TEXT_POST"
    assert ref.external_id == post["id"] and ref.url == post["permalink"]
    assert ref.published_at is not None and abs(ref.published_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    order = [r.endpoint for r in fake_threads.requests]
    assert order.index("GET /:id/threads_publishing_limit") < order.index("POST /:id/threads") \
        < order.index("POST /:id/threads_publish")
    (create,) = fake_threads.requests_to(r"^POST /:id/threads$")
    assert create.params["media_type"] == "TEXT" and "access_token" not in create.params
    assert create.headers["authorization"] == f"Bearer {fake_threads.token}"
    (publish,) = fake_threads.requests_to(r"^POST /:id/threads_publish$")
    assert publish.params["creation_id"] == post["container"]


def test_single_image_with_alt_text(threads, fake_threads):
    threads.publish(PostPayload(text="Nueva carta", media=(PNG,)))
    (post,) = fake_threads.posts()
    assert post["media_type"] == "IMAGE"
    (create,) = fake_threads.requests_to(r"^POST /:id/threads$")
    assert create.params["image_url"] == "https://media.example/cafe.png"
    assert create.params["alt_text"] == "Una taza de café <b>humeante</b>"
    assert "is_carousel_item" not in create.params
    assert fake_threads.requests_to(r"^GET /:id$")  # the container's status was read before publishing


def test_video_waits_until_processed(threads, fake_threads):
    fake_threads.video_polls = 3
    threads.publish(PostPayload(text="Así se hace un cortado", media=(MP4,)))
    (post,) = fake_threads.posts()
    assert post["media_type"] == "VIDEO"
    (create,) = fake_threads.requests_to(r"^POST /:id/threads$")
    assert create.params["media_type"] == "VIDEO" and create.params["video_url"].endswith("/barista.mp4")
    statuses = [r for r in fake_threads.requests_to(r"^GET /:id$") if r.params.get("fields") == "status,error_message"]
    assert len(statuses) == 4  # three IN_PROGRESS, then FINISHED


def test_carousel_of_mixed_media(threads, fake_threads):
    threads.publish(PostPayload(text="Tres momentos del día", media=(PNG, JPG, MP4)))
    (post,) = fake_threads.posts()
    assert post["media_type"] == "CAROUSEL_ALBUM" and len(post["children"]["data"]) == 3
    creates = fake_threads.requests_to(r"^POST /:id/threads$")
    children, parent = creates[:3], creates[3]
    assert all(c.params["is_carousel_item"] == "true" for c in children)
    assert all("text" not in c.params for c in children)
    assert parent.params["media_type"] == "CAROUSEL" and parent.params["text"] == "Tres momentos del día"
    assert parent.params["children"].split(",") == [c["id"] for c in fake_threads.containers.values()
                                                    if c["carousel_item"]]


def test_media_only_post_has_no_text(threads, fake_threads):
    threads.publish(PostPayload(text="", media=(JPG,)))
    (create,) = fake_threads.requests_to(r"^POST /:id/threads$")
    assert "text" not in create.params


def test_reply_and_first_comment(threads, fake_threads):
    root = threads.publish(PostPayload(text="¿Qué libro leemos en diciembre?"))
    answer = threads.reply(root.external_id, "Votad en los comentarios 👇", marker="c1")
    (reply,) = fake_threads.replies_of(root.external_id)
    assert reply["id"] == answer.external_id and reply["text"] == "Votad en los comentarios 👇"
    assert len(fake_threads.posts()) == 1  # a reply is not a new top-level post
    (limits,) = fake_threads.requests_to(r"threads_publishing_limit")[1:]
    assert limits.params["fields"] == "reply_quota_usage,reply_config"
    assert ThreadsConnector.supports_first_comment
    with pytest.raises(Permanent):
        threads.reply("not-an-id", "hola")


def test_quota_exhausted_is_rate_limited_before_any_container(threads, fake_threads):
    fake_threads.quota_usage = 250
    with pytest.raises(RateLimited) as caught:
        threads.publish(PostPayload(text="Hoy no"))
    assert caught.value.retry_after == 3600 and "250 posts a day" in str(caught.value.user_message)
    assert not fake_threads.requests_to(r"^POST")
    fake_threads.quota_usage = 0
    fake_threads.reply_quota_usage = 1000
    root = threads.publish(PostPayload(text="Sí"))
    with pytest.raises(RateLimited) as caught:
        threads.reply(root.external_id, "no cabe")
    assert "1000 replies a day" in str(caught.value.user_message)


def test_stuck_video_is_retryable_and_the_retry_reuses_the_container(threads, fake_threads):
    fake_threads.stuck = True
    payload = PostPayload(text="El vídeo del taller", media=(MP4,), marker="t-42")
    with pytest.raises(Retryable) as caught:
        threads.publish(payload)
    assert "still processing" in str(caught.value.user_message)
    assert not isinstance(caught.value, Ambiguous)
    assert fake_threads.posts() == []
    assert len(fake_threads.requests_to(r"^POST /:id/threads$")) == 1
    # Meta finishes processing; the retry checks the same container and publishes it.
    fake_threads.stuck = False
    ref = threads.publish(payload)
    assert len(fake_threads.requests_to(r"^POST /:id/threads$")) == 1  # no second upload
    (post,) = fake_threads.posts()
    assert post["id"] == ref.external_id
    assert threads.containers.get(threads._pending_key(payload)) is None


def test_stuck_carousel_reuses_its_children(threads, fake_threads):
    fake_threads.stuck = True
    payload = PostPayload(text="", media=(PNG, MP4), marker="t-7")
    with pytest.raises(Retryable):
        threads.publish(payload)
    assert len(fake_threads.requests_to(r"^POST /:id/threads$")) == 2  # the two children
    fake_threads.stuck = False
    threads.publish(payload)
    assert len(fake_threads.requests_to(r"^POST /:id/threads$")) == 3  # only the carousel itself
    assert len(fake_threads.posts()) == 1


def test_container_error_is_permanent_with_the_reason(threads, fake_threads):
    fake_threads.failing_media["barista"] = "FAILED_DOWNLOADING_VIDEO"
    with pytest.raises(Permanent) as caught:
        threads.publish(PostPayload(text="Vídeo roto", media=(MP4,), marker="t-9"))
    assert "could not download the video" in str(caught.value.user_message)
    assert "FAILED_DOWNLOADING_VIDEO" in caught.value.detail
    assert fake_threads.posts() == []
    assert not fake_threads.requests_to(r"threads_publish$")
    # A new attempt prepares a new container instead of reusing the failed one.
    fake_threads.failing_media.clear()
    threads.publish(PostPayload(text="Vídeo roto", media=(MP4,), marker="t-9"))
    assert len(fake_threads.requests_to(r"^POST /:id/threads$")) == 2


def test_unknown_container_error_still_reads(threads, fake_threads):
    fake_threads.failing_media["cafe"] = "<script>UNKNOWN</script>"
    with pytest.raises(Permanent) as caught:
        threads.publish(PostPayload(text="x", media=(PNG,)))
    assert "<script>UNKNOWN</script>" in str(caught.value.user_message)  # plain text; templates escape it


def test_container_timeout_is_retryable_not_ambiguous(threads, fake_threads):
    fake_threads.inject(r"^POST /:id/threads$", Fault.timeout_after(4.0))
    with pytest.raises(Retryable) as caught:
        threads.publish(PostPayload(text="Sin publicar"))
    assert not isinstance(caught.value, Ambiguous)
    assert fake_threads.posts() == []


def test_publish_timeout_is_ambiguous_and_found_later(threads, fake_threads):
    fake_threads.inject(r"^POST /:id/threads_publish$", Fault.timeout_after(4.0))
    started = datetime.now(timezone.utc)
    payload = PostPayload(text="Una  sola\nvez, por favor", marker="t-1")
    with pytest.raises(Ambiguous):
        threads.publish(payload)
    (post,) = fake_threads.posts()
    found = threads.find_published(payload, since=started)
    assert found is not None and found.external_id == post["id"] and found.url == post["permalink"]
    assert threads.find_published(PostPayload(text="Otra cosa"), since=started) is None
    assert threads.find_published(payload, since=started + timedelta(hours=1)) is None


def test_publish_answer_garbled_is_ambiguous(threads, fake_threads):
    fake_threads.inject(r"^POST /:id/threads_publish$", Fault.malformed())
    with pytest.raises(Ambiguous):
        threads.publish(PostPayload(text="¿Salió?"))
    assert len(fake_threads.posts()) == 1


def test_find_published_reply_matches_parent(threads, fake_threads):
    started = datetime.now(timezone.utc)
    a = threads.publish(PostPayload(text="A"))
    b = threads.publish(PostPayload(text="B"))
    threads.reply(a.external_id, "gracias")
    assert threads.find_published(PostPayload(text="gracias", reply_to=b.external_id), since=started) is None
    found = threads.find_published(PostPayload(text="gracias", reply_to=a.external_id), since=started)
    assert found is not None and fake_threads.media[found.external_id]["replied_to"] == {"id": a.external_id}


def test_delete(threads, fake_threads):
    ref = threads.publish(PostPayload(text="Borrar"))
    assert threads.delete(ref.external_id) is True
    assert fake_threads.posts() == []
    assert threads.delete(ref.external_id) is False  # already gone
    with pytest.raises(Permanent):
        threads.delete("../me")
    assert not fake_threads.requests_to(r"^DELETE /me")


@pytest.mark.parametrize("payload, words", [
    (PostPayload(text=""), "needs some text"),
    (PostPayload(text="a" * 501), "at most 500 characters"),
    (PostPayload(text="a" * 480 + "😀" * 6), "at most 500 characters"),  # 480 + 6×4 bytes
    (PostPayload(text=" ".join(f"https://site{i}.example/x" for i in range(6))), "at most 5 different links"),
    (PostPayload(text="x", media=(PNG,) * 21), "at most 20"),
    (PostPayload(text="x", media=(MediaItem("a.gif", "image/gif", b"GIF89a"),)), "JPEG or PNG"),
    (PostPayload(text="x", media=(MediaItem("big.png", "image/png", b"0" * (8 * 1024 * 1024 + 1)),)), "8 MB"),
    (PostPayload(text="x", media=(MediaItem("a.png", "image/png", b"x", alt_text="d" * 1001),)), "1,000"),
    (PostPayload(text="x", visibility=Visibility.FOLLOWERS), "public"),
    (PostPayload(text="x", content_warning="spoilers"), "no content warnings"),
])
def test_refused_before_any_request(threads, fake_threads, payload, words):
    with pytest.raises(Permanent) as caught:
        threads.publish(payload)
    assert words in str(caught.value.user_message)
    assert not fake_threads.requests


def test_media_without_a_public_address_fails_plainly(fake_threads, threads_http_config):
    from tertulia.networks.base import Credentials

    with ThreadsConnector(base_url=fake_threads.base_url, credentials=Credentials(fake_threads.token),
                          http_config=threads_http_config) as connector:
        with pytest.raises(Permanent) as caught:
            connector.publish(PostPayload(text="x", media=(PNG,)))
        assert "public web address" in str(caught.value.user_message)
        connector.publish(PostPayload(text="sin media sí"))  # text still works
    with ThreadsConnector(base_url=fake_threads.base_url, credentials=Credentials(fake_threads.token),
                          http_config=threads_http_config, media_url_for=lambda item: "javascript:alert(1)") as bad:
        with pytest.raises(Permanent) as caught:
            bad.publish(PostPayload(text="x", media=(PNG,)))
        assert "public https address" in str(caught.value.user_message)
    assert len(fake_threads.posts()) == 1


def test_counting_rules():
    assert threads_length("hola") == 4
    assert threads_length("☕") == 3 and threads_length("😀") == 4  # emoji: their UTF-8 bytes
    assert threads_length("ñandú") == 5  # letters count one each
    assert links_in("https://a.example/x www.a.example/x a.example/x, http://b.example") == {"a.example/x",
                                                                                              "b.example"}


def test_limits(threads):
    limits = threads.limits()
    assert limits.max_characters == 500 and limits.max_media == 20 and limits.max_alt_text == 1000
    assert "video/mp4" in limits.media_types and "image/gif" not in limits.media_types
    assert limits.visibilities == frozenset({"public"}) and limits.content_warnings is False


def test_retry_after_a_lost_publish_answer_never_posts_twice(threads, fake_threads):
    """Even if the post is not listed yet when the engine looks, the retry asks the container,
    which says PUBLISHED: Ambiguous again (look again), never a second post."""
    fake_threads.inject(r"^POST /:id/threads_publish$", Fault.timeout_after(4.0))
    payload = PostPayload(text="Solo una", marker="t-77")
    with pytest.raises(Ambiguous):
        threads.publish(payload)
    with pytest.raises(Ambiguous) as caught:
        threads.publish(payload)
    assert "PUBLISHED" in caught.value.detail
    assert len(fake_threads.posts()) == 1 and len(fake_threads.requests_to(r"threads_publish$")) == 1
    assert len(fake_threads.requests_to(r"^POST /:id/threads$")) == 1


def test_messages_render_in_the_readers_language(threads, fake_threads):
    from django.utils import translation

    fake_threads.quota_usage = 250
    with pytest.raises(RateLimited) as caught:
        threads.publish(PostPayload(text="Hoy no"))
    with translation.override("es"):
        assert str(caught.value.user_message).startswith("Threads permite 250 publicaciones al día")
    with translation.override("en"):
        assert str(caught.value.user_message).startswith("Threads allows 250 posts a day")
