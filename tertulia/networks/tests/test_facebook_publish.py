"""FacebookConnector against the fake Graph API: publishing (text, link, one photo, several
photos), deleting, replies and the first comment, and reconciliation after an ambiguous send."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Ambiguous, Permanent, Retryable
from tests.fakes.facebook import PAGE_ID, Fault
from tests.fakes.facebook_plugin import facebook, fake_graph, graph_http_config  # noqa: F401


@pytest.fixture(autouse=True)
def _english():
    """The messages are checked in English, whatever language an earlier test left active."""
    from django.utils import translation

    with translation.override("en"):
        yield


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_text_post_goes_to_the_page_feed_with_the_bearer_token(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Hoy tertulia a las 19 h <b>¡ven!</b> & trae un libro"))
    (post,) = fake_graph.page_posts()
    assert post["message"] == "Hoy tertulia a las 19 h <b>¡ven!</b> & trae un libro"
    assert ref.external_id == post["id"] and ref.external_id.startswith(PAGE_ID + "_")
    assert ref.url == f"https://www.facebook.com/{PAGE_ID}/posts/{post['id'].split('_')[1]}"
    (request,) = fake_graph.requests_to("POST /:id/feed")
    assert request.version == "v26.0"
    assert request.headers["authorization"] == f"Bearer {fake_graph.page_token}"
    assert "access_token" not in request.params and "link" not in request.params


def test_a_link_in_the_text_is_sent_as_the_link_for_the_preview(facebook, fake_graph):
    facebook.publish(PostPayload(text="Nueva carta: https://cafe.example/carta?x=1. ¡Pasa!"))
    (post,) = fake_graph.page_posts()
    assert post["link"] == "https://cafe.example/carta?x=1"


def test_one_photo_is_a_photo_post_with_caption_and_alt_text(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Cartel", media=(MediaItem("a.png", "image/png", PNG, alt_text="Un cartel"),)))
    (post,) = fake_graph.page_posts()
    assert ref.external_id == post["id"] and post["message"] == "Cartel"
    (photo,) = fake_graph.photos.values()
    assert photo["published"] and photo["alt"] == "Un cartel" and photo["size"] == len(PNG)
    assert post["attached_media"] == [photo["id"]]


def test_several_photos_are_unpublished_uploads_then_one_feed_post(facebook, fake_graph):
    media = tuple(MediaItem(f"{i}.png", "image/png", PNG) for i in range(3))
    ref = facebook.publish(PostPayload(text="Tres fotos", media=media))
    (post,) = fake_graph.page_posts()  # one post, not three
    assert ref.external_id == post["id"]
    photos = list(fake_graph.photos.values())
    assert len(photos) == 3 and not any(p["published"] for p in photos)
    assert post["attached_media"] == [p["id"] for p in photos]
    (feed,) = fake_graph.requests_to("POST /:id/feed")
    assert json.loads(feed.params["attached_media[0]"]) == {"media_fbid": photos[0]["id"]}


def test_a_lost_unpublished_upload_is_retryable_not_ambiguous(facebook, fake_graph):
    fake_graph.inject("POST /:id/photos", Fault.drop_after())
    media = (MediaItem("a.png", "image/png", PNG), MediaItem("b.png", "image/png", PNG))
    with pytest.raises(Retryable) as caught:
        facebook.publish(PostPayload(text="x", media=media))
    assert not isinstance(caught.value, Ambiguous)
    assert fake_graph.page_posts() == []


@pytest.mark.parametrize("payload, words", [
    (PostPayload(text="   "), "needs some text"),
    (PostPayload(text="x" * 63_207), "at most 63206"),
    (PostPayload(text="x", visibility=Visibility.FOLLOWERS), "public"),
    (PostPayload(text="x", media=(MediaItem("v.mp4", "video/mp4", b"00"),)), "videos"),
    (PostPayload(text="x", media=(MediaItem("a.svg", "image/svg+xml", b"<svg/>"),)), "JPEG"),
    (PostPayload(text="x", media=(MediaItem("a.png", "image/png", b"0" * (4 * 1024 * 1024 + 1)),)), "4 MB"),
    (PostPayload(text="x", media=tuple(MediaItem(f"{i}.png", "image/png", PNG) for i in range(11))), "10 photos"),
])
def test_content_facebook_refuses_is_refused_before_sending(facebook, fake_graph, payload, words):
    with pytest.raises(Permanent) as caught:
        facebook.publish(payload)
    assert words in str(caught.value.user_message)
    assert fake_graph.requests == []


def test_a_photo_facebook_cannot_read_is_permanent_with_its_words(facebook, fake_graph):
    with pytest.raises(Permanent) as caught:
        facebook.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", b"CORRUPT"),)))
    assert "invalid image" in caught.value.detail


def test_delete_then_delete_again_says_already_gone(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Efímero"))
    assert facebook.delete(ref.external_id) is True
    assert fake_graph.page_posts() == []
    assert facebook.delete(ref.external_id) is False


@pytest.mark.parametrize("bad", ["", "../me", "1 2", "12/feed", "x" * 80, "123_456_789"])
def test_ids_are_validated_before_they_reach_a_url(facebook, fake_graph, bad):
    with pytest.raises(Permanent):
        facebook.delete(bad)
    with pytest.raises(Permanent):
        facebook.reply(bad, "hola")
    assert fake_graph.requests == []


def test_reply_to_a_post_and_to_a_comment(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Pregunta del día"))
    comment = fake_graph.comment(ref.external_id, "¿A qué hora abrís?")
    first = facebook.reply(ref.external_id, "Primer comentario con el enlace")
    answer = facebook.reply(comment["id"], "A las 9 h, ¡te esperamos!")
    assert fake_graph.comments[first.external_id]["parent"] == ""
    assert fake_graph.comments[answer.external_id]["parent"] == comment["id"]
    assert fake_graph.comments[answer.external_id]["from"]["id"] == PAGE_ID


def test_ambiguous_post_is_found_by_its_words_not_reposted(facebook, fake_graph):
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    fake_graph.inject("POST /:id/feed", Fault.timeout_after(2.0))
    facebook.http.config = type(facebook.http.config)(read_timeout=0.5, allow_private_networks=True)
    facebook.http.close()
    payload = PostPayload(text="Una  sola\nvez, por favor", marker="t-1")
    with pytest.raises(Ambiguous):
        facebook.publish(payload)
    found = facebook.find_published(payload, since=since)
    (post,) = fake_graph.page_posts()
    assert found is not None and found.external_id == post["id"]
    # Another text, or a post older than the attempt, is not ours.
    assert facebook.find_published(PostPayload(text="Otra cosa"), since=since) is None
    assert facebook.find_published(payload, since=datetime.now(timezone.utc) + timedelta(minutes=5)) is None


def test_a_garbled_answer_to_a_post_is_ambiguous(facebook, fake_graph):
    fake_graph.inject("POST /:id/feed", Fault.malformed())
    with pytest.raises(Ambiguous):
        facebook.publish(PostPayload(text="¿Salió?"))
    assert len(fake_graph.page_posts()) == 1


def test_first_comment_after_an_ambiguous_send_is_found_among_the_pages_comments(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Post"))
    fake_graph.comment(ref.external_id, "Primer comentario")  # a reader wrote the same words
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    payload = PostPayload(text="Primer comentario", reply_to=ref.external_id, marker="t-1-c")
    assert facebook.find_published(payload, since=since) is None  # not by the Page
    fake_graph.inject("POST /:id/comments", Fault.drop_after())
    with pytest.raises(Ambiguous):
        facebook.reply(ref.external_id, payload.text)
    found = facebook.find_published(payload, since=since)
    assert found is not None and fake_graph.comments[found.external_id]["from"]["id"] == PAGE_ID
