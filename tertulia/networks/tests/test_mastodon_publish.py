"""Publishing to Mastodon against the loopback fake: statuses, media, threads, idempotency,
delete, and what the server refuses."""

from __future__ import annotations

import json

import pytest

from tertulia.networks.base import Credentials, MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Permanent, Retryable
from tertulia.networks.http import HttpConfig
from tertulia.networks.mastodon import MastodonConnector
from tests.fakes.mastodon import Fault

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _sent(fake, method="POST", path="/api/v1/statuses"):
    return [json.loads(r.body) for r in fake.requests_to(method, path)]


def test_publish_text_with_every_option(mastodon, fake_mastodon):
    ref = mastodon.publish(PostPayload(text="Nuevo horario 🎉\n\nAbrimos a las 9.", language="es",
                                       content_warning="Horarios", visibility=Visibility.UNLISTED,
                                       marker="target-1"))
    status = fake_mastodon.statuses[ref.external_id]
    assert status["text"] == "Nuevo horario 🎉\n\nAbrimos a las 9."
    assert (status["spoiler_text"], status["visibility"], status["language"]) == ("Horarios", "unlisted", "es")
    assert status["html"] == "<p>Nuevo horario 🎉</p><p>Abrimos a las 9.</p>"
    assert ref.url == f"{fake_mastodon.base_url}/@mastodonpy_test/{ref.external_id}"
    assert ref.published_at is not None
    (request,) = fake_mastodon.requests_to("POST", "/api/v1/statuses")
    assert request.headers["idempotency-key"] == "target-1"
    assert request.headers["authorization"] == f"Bearer {fake_mastodon.token}"


@pytest.mark.parametrize("ours, theirs", [(Visibility.PUBLIC, "public"), (Visibility.UNLISTED, "unlisted"),
                                          (Visibility.FOLLOWERS, "private"), (Visibility.DIRECT, "direct")])
def test_visibility_maps_to_mastodon_words(mastodon, fake_mastodon, ours, theirs):
    ref = mastodon.publish(PostPayload(text="@admin hola", visibility=ours))
    assert fake_mastodon.statuses[ref.external_id]["visibility"] == theirs


def test_media_is_uploaded_with_alt_text_and_waited_for(mastodon, fake_mastodon):
    fake_mastodon.media_processing_seconds = 0.3
    ref = mastodon.publish(PostPayload(text="Mira", sensitive=True, media=(
        MediaItem("cartel.png", "image/png", content=PNG, alt_text="Cartel del concierto", focus=(0.1, -0.5)),
        MediaItem("foto.jpg", "image/jpeg", content=b"\xff\xd8\xff" + b"\x00" * 32, alt_text="Foto del público"),
    )))
    uploads = fake_mastodon.requests_to("POST", "/api/v2/media")
    assert [fake_mastodon.requests_to("POST", "/api/v2/media")[0].status, uploads[1].status] == [202, 202]
    polls = fake_mastodon.requests_to("GET", "/api/v1/media/:id")
    assert 206 in [p.status for p in polls] and polls[-1].status == 200  # polled until processed
    status = fake_mastodon.statuses[ref.external_id]
    media = [fake_mastodon.media[m] for m in status["media_ids"]]
    assert [m["description"] for m in media] == ["Cartel del concierto", "Foto del público"]
    assert media[0]["focus"] == (0.1, -0.5) and media[0]["size"] == len(PNG)
    assert status["sensitive"] is True
    # The status was created only after processing finished (the server refuses it before).
    assert fake_mastodon.requests_to("POST", "/api/v1/statuses")[0].at >= polls[-1].at


def test_media_processed_at_once_needs_no_polling(mastodon, fake_mastodon):
    fake_mastodon.media_processing_seconds = 0
    mastodon.publish(PostPayload(text="", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert fake_mastodon.requests_to("POST", "/api/v2/media")[0].status == 200
    assert fake_mastodon.requests_to("GET", "/api/v1/media/:id") == []


def test_media_that_fails_processing_is_permanent_with_the_server_text(mastodon, fake_mastodon):
    with pytest.raises(Permanent) as info:
        mastodon.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=b"CORRUPT"),)))
    assert info.value.detail == "Error processing thumbnail for uploaded media"
    assert fake_mastodon.own_statuses() == []


def test_media_still_processing_after_the_deadline_is_retryable(fake_mastodon, mastodon_http_config):
    fake_mastodon.media_processing_seconds = 30
    connector = MastodonConnector(base_url=fake_mastodon.base_url, credentials=Credentials(fake_mastodon.token),
                                  http_config=mastodon_http_config, media_timeout=0.4, media_poll_interval=0.1)
    with connector, pytest.raises(Retryable) as info:
        connector.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert "still processing" in info.value.detail
    assert fake_mastodon.own_statuses() == []


def test_media_type_the_server_refuses(mastodon, fake_mastodon):
    with pytest.raises(Permanent) as info:
        mastodon.publish(PostPayload(text="x", media=(MediaItem("a.exe", "application/x-msdownload", content=b"MZ"),)))
    assert "content type is invalid" in info.value.detail
    mastodon.limits()  # once the limits are known, the same file is refused before any upload
    uploads = len(fake_mastodon.requests_to("POST", "/api/v2/media"))
    with pytest.raises(Permanent):
        mastodon.publish(PostPayload(text="x", media=(MediaItem("a.exe", "application/x-msdownload", content=b"MZ"),)))
    assert len(fake_mastodon.requests_to("POST", "/api/v2/media")) == uploads


def test_too_many_attachments_once_limits_are_known(mastodon, fake_mastodon):
    mastodon.limits()
    items = tuple(MediaItem(f"{i}.png", "image/png", content=PNG) for i in range(5))
    with pytest.raises(Permanent) as info:
        mastodon.publish(PostPayload(text="x", media=items))
    assert "4" in str(info.value.user_message)
    assert fake_mastodon.requests_to("POST", "/api/v2/media") == []


def test_a_thread_is_a_chain_of_replies(mastodon, fake_mastodon):
    first = mastodon.publish(PostPayload(text="1/3 Hilo sobre el festival", marker="t-1"))
    second = mastodon.publish(PostPayload(text="2/3 Horarios", reply_to=first.external_id, marker="t-2"))
    third = mastodon.publish(PostPayload(text="3/3 Entradas", reply_to=second.external_id, marker="t-3"))
    statuses = fake_mastodon.statuses
    assert statuses[second.external_id]["in_reply_to_id"] == first.external_id
    assert statuses[third.external_id]["in_reply_to_id"] == second.external_id
    assert statuses[third.external_id]["in_reply_to_account_id"] == fake_mastodon.own["id"]


def test_replying_to_a_missing_post_is_permanent(mastodon, fake_mastodon):
    with pytest.raises(Permanent) as info:
        mastodon.publish(PostPayload(text="late reply", reply_to="1"))
    assert info.value.status == 404


def test_idempotency_key_prevents_a_duplicate(mastodon, fake_mastodon):
    payload = PostPayload(text="Solo una vez", marker="target-42")
    first = mastodon.publish(payload)
    again = mastodon.publish(payload)  # e.g. a retry after a lost answer
    assert again.external_id == first.external_id
    assert len(fake_mastodon.own_statuses()) == 1
    other = mastodon.publish(PostPayload(text="Solo una vez", marker="target-43"))  # another target
    assert other.external_id != first.external_id
    assert len(fake_mastodon.own_statuses()) == 2


def test_without_a_marker_mastodon_would_duplicate(mastodon, fake_mastodon):
    # The control for the test above: the key is what prevents the duplicate.
    mastodon.publish(PostPayload(text="Sin marca"))
    mastodon.publish(PostPayload(text="Sin marca"))
    assert len(fake_mastodon.own_statuses()) == 2


def test_delete_and_delete_again(mastodon, fake_mastodon):
    ref = mastodon.publish(PostPayload(text="borrar"))
    assert mastodon.delete(ref.external_id) is True
    assert fake_mastodon.own_statuses() == []
    assert mastodon.delete(ref.external_id) is False  # already gone: not an error


@pytest.mark.parametrize("hostile", ["../accounts/verify_credentials", "1?x=2", "", "1/context", "a" * 200])
def test_ids_cannot_steer_the_request_path(mastodon, fake_mastodon, hostile):
    before = len(fake_mastodon.requests)
    with pytest.raises(Permanent):
        mastodon.delete(hostile)
    if hostile:  # an empty reply_to just means "not a reply"
        with pytest.raises(Permanent):
            mastodon.publish(PostPayload(text="x", reply_to=hostile))
        with pytest.raises(Permanent):
            mastodon.fetch_post_metrics([hostile])
    assert len(fake_mastodon.requests) == before


def test_empty_post_is_refused_before_any_request(mastodon, fake_mastodon):
    with pytest.raises(Permanent):
        mastodon.publish(PostPayload(text="  \n "))
    assert fake_mastodon.requests == []


def test_huge_text_is_permanent_with_the_servers_422_text(mastodon, fake_mastodon):
    with pytest.raises(Permanent) as info:
        mastodon.publish(PostPayload(text="a" * 501, marker="big"))
    assert info.value.status == 422
    assert info.value.detail == "Validation failed: Text character limit of 500 exceeded"
    assert "Text character limit of 500 exceeded" in str(info.value.user_message)
    assert fake_mastodon.own_statuses() == []
    # Links count 23 whatever their length, so this long text fits.
    long_link = "https://example.com/" + "x" * 600
    mastodon.publish(PostPayload(text=f"{'b' * 470} {long_link}"))


def test_the_servers_own_language_passes_through(fake_mastodon):
    # Recorded: a Japanese-speaking server's 422 (test_lang_for_errors). We keep its words.
    config = HttpConfig(allow_private_networks=True, accept_language="ja")
    with MastodonConnector(base_url=fake_mastodon.base_url, credentials=Credentials(fake_mastodon.token),
                           http_config=config) as connector, pytest.raises(Permanent) as info:
        connector.publish(PostPayload(text="あ" * 501))
    assert info.value.detail == "バリデーションに失敗しました: Text上限は500文字です"


def test_an_unknown_visibility_is_refused(mastodon, fake_mastodon):
    with pytest.raises(Permanent):
        mastodon.publish(PostPayload(text="x", visibility="everyone"))
    assert fake_mastodon.requests_to("POST", "/api/v1/statuses") == []


def test_servers_without_v2_media_get_v1(mastodon, fake_mastodon):
    fake_mastodon.inject("POST /api/v2/media", Fault.respond(404, {"error": "Not Found"}))
    fake_mastodon.media_processing_seconds = 0
    ref = mastodon.publish(PostPayload(text="old server", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert fake_mastodon.requests_to("POST", "/api/v1/media")[0].status == 200
    assert len(fake_mastodon.statuses[ref.external_id]["media_ids"]) == 1

