"""Publishing to a Telegram channel against the loopback fake Bot API: text, photo, album,
markup safety, limits, delete."""

from __future__ import annotations

import time

import pytest
from django.utils import translation

from tertulia.networks.base import Credentials, MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Permanent
from tertulia.networks.telegram import TelegramConnector
from tests.fakes.telegram import CHANNEL_ID

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in the source language (they are translated for readers)."""
    with translation.override("en"):
        yield


def test_publish_text(telegram, fake_telegram):
    ref = telegram.publish(PostPayload(text="Nuevo horario 🎉\n\nAbrimos a las 9.", marker="t-1"))
    (post,) = fake_telegram.channel_posts()
    assert post["text"] == "Nuevo horario 🎉\n\nAbrimos a las 9."
    assert ref.external_id == str(post["message_id"])
    assert ref.url == f"https://t.me/cafetertulia/{post['message_id']}"
    assert ref.published_at is not None
    (request,) = fake_telegram.requests_to("sendMessage")
    assert request.method == "POST" and request.params["chat_id"] == "@cafetertulia"
    assert "authorization" not in request.headers  # the token is only in the path


@pytest.mark.parametrize("text", [
    "<b>negrita</b> & <a href=\"https://evil.example\">clic</a> <script>alert(1)</script>",
    "*bold* _italic_ [link](https://evil.example) `code` ~tachado~ ||spoiler|| \\_ 5 > 3.",
    "&amp; &lt;b&gt; literal entities stay literal",
])
def test_user_markup_arrives_verbatim_as_text(telegram, fake_telegram, text):
    telegram.publish(PostPayload(text=text))
    (request,) = fake_telegram.requests_to("sendMessage")
    assert "parse_mode" not in request.params and "entities" not in request.params
    (post,) = fake_telegram.channel_posts()
    assert post["text"] == text  # the fake really parses HTML/Markdown when asked: it was not


def test_the_fake_would_have_changed_the_text_with_a_parse_mode(fake_telegram, telegram):
    # The control for the test above: with parse_mode the same text loses its markup.
    telegram.call("sendMessage", {"chat_id": "@cafetertulia", "text": "<b>negrita</b> &amp; más",
                                  "parse_mode": "HTML"}, write=True)
    assert fake_telegram.channel_posts()[0]["text"] == "negrita & más"


def test_photo_with_caption(telegram, fake_telegram):
    ref = telegram.publish(PostPayload(text="La carta de otoño <i>nueva</i>", sensitive=True,
                                       media=(MediaItem("carta.png", "image/png", content=PNG, alt_text="Carta"),)))
    (request,) = fake_telegram.requests_to("sendPhoto")
    assert request.files["photo"] == ("carta.png", "image/png", PNG)
    assert request.params["caption"] == "La carta de otoño <i>nueva</i>" and "parse_mode" not in request.params
    (post,) = fake_telegram.channel_posts()
    assert post["caption"] == "La carta de otoño <i>nueva</i>" and post["photo"][0]["file_size"] == len(PNG)
    assert post["has_media_spoiler"] is True
    assert ref.external_id == str(post["message_id"])


def test_album_has_the_caption_on_the_first_item(telegram, fake_telegram):
    media = tuple(MediaItem(f"{i}.jpg", "image/jpeg", content=JPEG + bytes([i])) for i in range(3))
    ref = telegram.publish(PostPayload(text="Tres fotos del concierto", media=media))
    posts = fake_telegram.channel_posts()
    assert len(posts) == 3 and len({p["media_group_id"] for p in posts}) == 1
    assert [p.get("caption") for p in posts] == ["Tres fotos del concierto", None, None]
    assert ref.external_id == ",".join(str(p["message_id"]) for p in posts)
    assert ref.url.endswith(f"/{posts[0]['message_id']}")
    (request,) = fake_telegram.requests_to("sendMediaGroup")
    assert [m["media"] for m in request.params["media"]] == ["attach://file0", "attach://file1", "attach://file2"]
    assert sorted(request.files) == ["file0", "file1", "file2"]


def test_a_video_goes_with_send_video(telegram, fake_telegram):
    telegram.publish(PostPayload(text="vídeo", media=(MediaItem("v.mp4", "video/mp4", content=b"\x00\x00\x00 ftyp"),)))
    assert fake_telegram.requests_to("sendVideo") and fake_telegram.channel_posts()[0]["video"]


@pytest.mark.parametrize("payload, words", [
    (PostPayload(text="  \n "), "needs some text"),
    (PostPayload(text="a" * 4097), "4096"),
    (PostPayload(text="🎉" * 2049), "4096"),  # UTF-16: an emoji counts 2
    (PostPayload(text="b" * 1025, media=(MediaItem("a.png", "image/png", content=PNG),)), "1024"),
    (PostPayload(text="x", media=tuple(MediaItem(f"{i}.png", "image/png", content=PNG) for i in range(11))), "10"),
    (PostPayload(text="x", media=(MediaItem("a.gif", "image/gif", content=b"GIF89a"),)), "JPEG"),
    (PostPayload(text="x", visibility=Visibility.FOLLOWERS), "everyone"),
])
def test_what_telegram_would_refuse_is_refused_before_any_request(telegram, fake_telegram, payload, words):
    with pytest.raises(Permanent) as info:
        telegram.publish(payload)
    assert words in str(info.value.user_message)
    assert fake_telegram.requests == []


def test_exactly_the_limits_are_fine(telegram, fake_telegram):
    telegram.publish(PostPayload(text="a" * 4096))
    telegram.publish(PostPayload(text="b" * 1024, media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert len(fake_telegram.channel_posts()) == 2


def test_the_servers_own_length_check_is_permanent(telegram, fake_telegram):
    from tests.fakes.telegram import Fault

    fake_telegram.inject("sendMessage", Fault.respond(400, "Bad Request: message is too long"))
    with pytest.raises(Permanent) as info:
        telegram.publish(PostPayload(text="hola"))
    assert info.value.detail == "Bad Request: message is too long" and "4096" in str(info.value.user_message)


def test_a_private_channel_by_numeric_id(fake_telegram, telegram_http_config):
    for channel in (str(CHANNEL_ID), f"@{CHANNEL_ID}"):  # the handle field adds an @
        with TelegramConnector(base_url=fake_telegram.base_url, credentials=Credentials(fake_telegram.token),
                               channel=channel, http_config=telegram_http_config) as connector:
            fake_telegram.channel.pop("username", None)
            ref = connector.publish(PostPayload(text="privado"))
        assert ref.url == f"https://t.me/c/{str(CHANNEL_ID)[4:]}/{ref.external_id}"
    assert fake_telegram.requests_to("sendMessage")[0].params["chat_id"] == CHANNEL_ID


@pytest.mark.parametrize("channel", ["", "cafetertulia", "@ab", "@caf\u00e9", "@x/../getMe"])
def test_an_invalid_channel_is_refused_before_any_request(fake_telegram, telegram_http_config, channel):
    with TelegramConnector(base_url=fake_telegram.base_url, credentials=Credentials(fake_telegram.token),
                           channel=channel, http_config=telegram_http_config) as connector:
        with pytest.raises(Permanent):
            connector.publish(PostPayload(text="x"))
    assert fake_telegram.requests == []


def test_delete_a_message_then_again(telegram, fake_telegram):
    ref = telegram.publish(PostPayload(text="borrar"))
    assert telegram.delete(ref.external_id) is True
    assert fake_telegram.channel_posts() == []
    assert telegram.delete(ref.external_id) is False  # already gone: not an error


def test_delete_an_album_deletes_every_message(telegram, fake_telegram):
    media = tuple(MediaItem(f"{i}.png", "image/png", content=PNG) for i in range(2))
    ref = telegram.publish(PostPayload(text="álbum", media=media))
    assert telegram.delete(ref.external_id) is True
    assert fake_telegram.channel_posts() == []
    (request,) = fake_telegram.requests_to("deleteMessages")
    assert request.params["message_ids"] == [int(i) for i in ref.external_id.split(",")]


def test_delete_after_48_hours_is_permanent_with_the_reason(telegram, fake_telegram):
    ref = telegram.publish(PostPayload(text="viejo"))
    fake_telegram.age(CHANNEL_ID, int(ref.external_id), 49 * 3600)
    with pytest.raises(Permanent) as info:
        telegram.delete(ref.external_id)
    assert "48 hours" in str(info.value.user_message)
    assert len(fake_telegram.channel_posts()) == 1


@pytest.mark.parametrize("hostile", ["../getMe", "1?x=2", "", "1,2,x", "-5", "1" * 20])
def test_ids_cannot_steer_a_request(telegram, fake_telegram, hostile):
    with pytest.raises(Permanent):
        telegram.delete(hostile)
    if hostile:
        with pytest.raises(Permanent):
            telegram.publish(PostPayload(text="x", reply_to=hostile))
    with pytest.raises(Permanent):
        telegram.fetch_post_metrics([hostile])
    assert fake_telegram.requests == []


def test_post_metrics_are_unknown_not_zero(telegram):
    ref = telegram.publish(PostPayload(text="métricas"))
    metrics = telegram.fetch_post_metrics([ref.external_id])[ref.external_id]
    assert metrics.exists is True
    assert (metrics.impressions, metrics.likes, metrics.comments, metrics.shares) == (None, None, None, None)


def test_latency_is_tolerated(telegram, fake_telegram):
    fake_telegram.latency = 0.2
    started = time.monotonic()
    assert telegram.publish(PostPayload(text="lento")).external_id
    assert time.monotonic() - started >= 0.2
