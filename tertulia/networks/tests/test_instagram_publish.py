"""Publishing to Instagram through the container flow, against the loopback fake Graph API:
single image, reel, carousel; the quota checked first; a container stuck IN_PROGRESS then
ERROR; the container kept across attempts so a retry never makes a second post; and the
failure modes mapped to our error classes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.utils import translation

from tertulia.networks.base import Credentials, MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable, Unsupported
from tertulia.networks.instagram import InstagramConnector
from tertulia.networks.meta.containers import MemoryContainerStore
from tests.fakes.instagram import Fault
from tests.fakes.instagram_plugin import fake_instagram, instagram, instagram_http_config  # noqa: F401


@pytest.fixture(autouse=True)
def english():
    """Messages are lazy translations; read them in English here (the app default is Spanish)."""
    with translation.override("en"):
        yield

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200


def image(name="cartel.jpg", alt=""):
    return MediaItem(filename=name, mime_type="image/jpeg", content=JPEG + name.encode(), alt_text=alt)


def video(name="reel.mp4"):
    return MediaItem(filename=name, mime_type="video/mp4", content=MP4 + name.encode())


def endpoints(fake):
    return [r.endpoint for r in fake.requests]


def another(fake, config, store, **kw):
    """A second connector for the same account, sharing the container store (what the engine's
    next attempt gets from the account row)."""
    return InstagramConnector(base_url=fake.base_url, credentials=Credentials(fake.token), account_id=fake.ig_user_id,
                              media_url_for=fake.host, http_config=config, container_store=store,
                              poll_interval=0.0, max_wait=5.0, max_polls=4, sleep=lambda s: None, **kw)


def test_single_image_checks_quota_first_then_container_then_publish(instagram, fake_instagram):
    ref = instagram.publish(PostPayload(text="Hoy: tertulia a las 19 h ☕ #café @amiga", media=(image(alt="El cartel"),),
                                        marker="t1"))
    (media,) = fake_instagram.published_media()
    assert ref.external_id == media["id"] and ref.url == media["permalink"]
    assert ref.published_at is not None and abs(ref.published_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert media["caption"] == "Hoy: tertulia a las 19 h ☕ #café @amiga" and media["media_type"] == "IMAGE"
    assert media["alt_text"] == "El cartel"
    assert endpoints(fake_instagram)[:4] == ["GET content_publishing_limit", "POST media", "GET container",
                                             "POST media_publish"]
    (create,) = fake_instagram.requests_to("POST media")
    assert create.params["image_url"].startswith(fake_instagram.base_url + "/_media/")
    assert create.headers["authorization"] == f"Bearer {fake_instagram.token}"
    assert "access_token" not in create.path


def test_reel_polls_the_container_until_finished(instagram, fake_instagram):
    fake_instagram.video_polls = 2
    ref = instagram.publish(PostPayload(text="Nuestro reel", media=(video(),), marker="t2"))
    (create,) = fake_instagram.requests_to("POST media")
    assert create.params["media_type"] == "REELS" and create.params["share_to_feed"] == "true"
    assert "image_url" not in create.params
    assert len(fake_instagram.requests_to("GET container")) == 3  # IN_PROGRESS, IN_PROGRESS, FINISHED
    (media,) = fake_instagram.published_media()
    assert media["id"] == ref.external_id and media["media_product_type"] == "REELS"


def test_carousel_makes_children_then_the_album(instagram, fake_instagram):
    ref = instagram.publish(PostPayload(text="Tres fotos y un vídeo", marker="t3",
                                        media=(image("a.jpg"), image("b.jpg"), video("c.mp4"), image("d.jpg"))))
    creates = fake_instagram.requests_to("POST media")
    children, album = creates[:4], creates[4]
    assert all(c.params["is_carousel_item"] == "true" for c in children)
    assert children[2].params["media_type"] == "VIDEO" and "caption" not in children[0].params
    assert album.params["media_type"] == "CAROUSEL" and album.params["caption"] == "Tres fotos y un vídeo"
    assert len(album.params["children"].split(",")) == 4
    (media,) = fake_instagram.published_media()
    assert media["id"] == ref.external_id and media["media_type"] == "CAROUSEL_ALBUM" and media["children_count"] == 4


@pytest.mark.parametrize("payload, words", [
    (PostPayload(text="Solo texto"), "at least one image"),
    (PostPayload(text="x" * 2201, media=(image(),)), "2200"),
    (PostPayload(text=" ".join(f"#t{i}" for i in range(31)), media=(image(),)), "hashtags"),
    (PostPayload(text=" ".join(f"@u{i}" for i in range(21)), media=(image(),)), "mentions"),
    (PostPayload(text="once", media=tuple(image(f"{i}.jpg") for i in range(11))), "at most 10"),
    (PostPayload(text="png", media=(MediaItem("a.png", "image/png", content=b"\x89PNG"),)), "JPEG"),
    (PostPayload(text="privado", media=(image(),), visibility=Visibility.FOLLOWERS), "public"),
    (PostPayload(text="respuesta", media=(image(),), reply_to="17895731045244887"), "comment"),
])
def test_what_instagram_refuses_is_refused_before_any_request(instagram, fake_instagram, payload, words):
    with pytest.raises(Permanent) as err:
        instagram.publish(payload)
    assert words in str(err.value.user_message)
    assert fake_instagram.requests == []


def test_without_a_public_media_address_it_says_what_to_configure(fake_instagram, instagram_http_config):
    connector = InstagramConnector(base_url=fake_instagram.base_url, credentials=Credentials(fake_instagram.token),
                                   account_id=fake_instagram.ig_user_id, http_config=instagram_http_config)
    with connector, pytest.raises(Permanent) as err:
        connector.publish(PostPayload(text="Hola", media=(image(),)))
    assert "SITE_URL" in str(err.value.user_message)
    assert fake_instagram.requests == []


def test_media_instagram_cannot_download_is_a_permanent_error(instagram, fake_instagram):
    instagram.media_url_for = lambda item: "https://cdn.example.invalid/nope.jpg"
    with pytest.raises(Permanent) as err:
        instagram.publish(PostPayload(text="Hola", media=(image(),)))
    assert "9004" in err.value.detail and "could not be fetched" in err.value.detail
    assert "SITE_URL" in str(err.value.user_message) and "could not download" in str(err.value.user_message)
    assert fake_instagram.published_media() == []


def test_quota_exhausted_waits_for_the_oldest_post_and_creates_nothing(instagram, fake_instagram):
    # 25 posts in the last 24 h, the oldest 20 hours ago: it leaves the window in about 4 hours.
    now = datetime.now(timezone.utc)
    for i in range(25):
        when = now - timedelta(hours=20) + timedelta(minutes=i)
        fake_instagram.media[f"1790000000000{i:04d}"] = {
            "id": f"1790000000000{i:04d}", "caption": f"post {i}", "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "media_type": "IMAGE", "permalink": "https://www.instagram.com/p/x/", "username": fake_instagram.username}
    fake_instagram.set_quota_used(25)
    with pytest.raises(RateLimited) as err:
        instagram.publish(PostPayload(text="Uno más", media=(image(),), marker="q"))
    assert 4 * 3600 - 120 < err.value.retry_after < 4 * 3600 + 120
    assert "25 posts" in str(err.value.user_message) and "24 hours" in str(err.value.user_message)
    assert "quota_usage=25" in err.value.detail
    assert fake_instagram.requests_to("POST media") == [] and fake_instagram.requests_to("POST media_publish") == []


def test_quota_exhausted_without_readable_history_waits_an_hour(instagram, fake_instagram):
    fake_instagram.set_quota_used(25)
    with pytest.raises(RateLimited) as err:
        instagram.publish(PostPayload(text="Uno más", media=(image(),)))
    assert err.value.retry_after == 3600.0
    assert fake_instagram.requests_to("POST media") == []


def test_container_stuck_in_progress_then_error_reuses_the_same_container(fake_instagram, instagram_http_config):
    """The issue's case: first attempt times out waiting (Retryable, container kept); the next
    attempt asks the SAME container, which is now ERROR -> Permanent with Instagram's text."""
    store = MemoryContainerStore()
    fake_instagram.script_next_container(["IN_PROGRESS"] * 6 + ["ERROR"],
                                         "Error: Media upload has failed with error code 2207003")
    payload = PostPayload(text="Se atasca", media=(video(),), marker="stuck")
    with another(fake_instagram, instagram_http_config, store) as first, pytest.raises(Retryable) as err:
        first.publish(payload)
    assert not isinstance(err.value, RateLimited)
    assert "still processing" in str(err.value.user_message)
    (create,) = fake_instagram.requests_to("POST media")
    container = store.get("stuck")["id"]
    assert container in err.value.detail
    with another(fake_instagram, instagram_http_config, store) as second, pytest.raises(Permanent) as err:
        second.publish(payload)
    assert "2207003" in str(err.value.user_message)
    assert len(fake_instagram.requests_to("POST media")) == 1  # never a second container
    assert {r.object_id for r in fake_instagram.requests_to("GET container")} == {container}
    assert fake_instagram.requests_to("POST media_publish") == []
    assert store.get("stuck") is None


def test_container_stuck_then_finished_is_published_once_on_the_retry(fake_instagram, instagram_http_config):
    store = MemoryContainerStore()
    fake_instagram.script_next_container(["IN_PROGRESS"] * 5 + ["FINISHED"])
    payload = PostPayload(text="Tarda pero sale", media=(image(),), marker="slow")
    with another(fake_instagram, instagram_http_config, store) as first, pytest.raises(Retryable):
        first.publish(payload)
    with another(fake_instagram, instagram_http_config, store) as second:
        ref = second.publish(payload)
    assert len(fake_instagram.requests_to("POST media")) == 1
    (media,) = fake_instagram.published_media()
    assert media["id"] == ref.external_id


def test_an_edited_post_does_not_reuse_the_old_container(fake_instagram, instagram_http_config):
    store = MemoryContainerStore()
    fake_instagram.script_next_container(["IN_PROGRESS"] * 8)
    with another(fake_instagram, instagram_http_config, store) as first, pytest.raises(Retryable):
        first.publish(PostPayload(text="Versión 1", media=(image(),), marker="edit"))
    with another(fake_instagram, instagram_http_config, store) as second:
        ref = second.publish(PostPayload(text="Versión 2", media=(image(),), marker="edit"))
    assert len(fake_instagram.requests_to("POST media")) == 2
    (media,) = fake_instagram.published_media()
    assert media["caption"] == "Versión 2" and media["id"] == ref.external_id


def test_an_expired_container_is_replaced_on_the_retry(fake_instagram, instagram_http_config):
    store = MemoryContainerStore()
    fake_instagram.script_next_container(["IN_PROGRESS"] * 8)
    payload = PostPayload(text="Caducó", media=(image(),), marker="exp")
    with another(fake_instagram, instagram_http_config, store) as first, pytest.raises(Retryable):
        first.publish(payload)
    fake_instagram.expire_container(store.get("exp")["id"])
    with another(fake_instagram, instagram_http_config, store) as second:
        second.publish(payload)
    assert len(fake_instagram.requests_to("POST media")) == 2 and len(fake_instagram.published_media()) == 1


def test_error_while_polling_is_permanent_with_the_status_text(instagram, fake_instagram):
    fake_instagram.script_next_container(["IN_PROGRESS", "ERROR"], "Error: The aspect ratio is not supported.")
    with pytest.raises(Permanent) as err:
        instagram.publish(PostPayload(text="Mal formato", media=(image(),), marker="err"))
    assert "aspect ratio is not supported" in str(err.value.user_message)
    assert fake_instagram.requests_to("POST media_publish") == []


def test_timeout_after_media_publish_is_ambiguous_and_found_without_a_duplicate(instagram, fake_instagram):
    fake_instagram.inject("POST media_publish", Fault.timeout_after(2.5))
    payload = PostPayload(text="Una sola vez  por favor", media=(image(),), marker="amb")
    started = datetime.now(timezone.utc)
    with pytest.raises(Ambiguous):
        instagram.publish(payload)
    (media,) = fake_instagram.published_media()  # Instagram did publish it
    ref = instagram.find_published(payload, since=started)
    assert ref is not None and ref.external_id == media["id"] and ref.url == media["permalink"]
    assert len(fake_instagram.requests_to("POST media_publish")) == 1


def test_a_retry_after_a_lost_publish_answer_returns_the_post_instead_of_publishing_again(
        fake_instagram, instagram_http_config):
    """A 500 after media_publish was applied is Retryable for Graph; the retry sees the kept
    container PUBLISHED and finds the post rather than publishing a second one."""
    store = MemoryContainerStore()
    fake_instagram.inject("POST media_publish", Fault.server_error(500, after=True))
    payload = PostPayload(text="Sin duplicados", media=(image(),), marker="lost")
    with another(fake_instagram, instagram_http_config, store) as first, pytest.raises(Retryable):
        first.publish(payload)
    with another(fake_instagram, instagram_http_config, store) as second:
        ref = second.publish(payload)
    (media,) = fake_instagram.published_media()
    assert ref.external_id == media["id"]
    assert len(fake_instagram.requests_to("POST media_publish")) == 1
    assert len(fake_instagram.requests_to("POST media")) == 1


def test_an_edit_after_a_lost_publish_answer_never_publishes_a_second_post(fake_instagram, instagram_http_config):
    """media_publish went through (answer lost), then the CM edited the caption: the kept
    container is PUBLISHED, so the post is out with the old words. The retry must not upload
    the new caption as a second post: it says "maybe" (Ambiguous), and find_published, which
    cannot match the new caption, says "cannot tell" rather than "absent"."""
    store = MemoryContainerStore()
    fake_instagram.inject("POST media_publish", Fault.server_error(500, after=True))
    before = PostPayload(text="Primera versión", media=(image(),), marker="edited")
    with another(fake_instagram, instagram_http_config, store) as first, pytest.raises(Retryable):
        first.publish(before)
    after = PostPayload(text="Versión corregida", media=(image(),), marker="edited")
    with another(fake_instagram, instagram_http_config, store) as second:
        with pytest.raises(Ambiguous):
            second.publish(after)
        with pytest.raises(Retryable):
            second.find_published(after, since=datetime.now(timezone.utc))
    assert len(fake_instagram.published_media()) == 1
    assert len(fake_instagram.requests_to("POST media")) == 1


def test_find_published_does_not_match_another_caption_or_older_posts(instagram, fake_instagram):
    instagram.publish(PostPayload(text="Otra cosa", media=(image(),)))
    assert instagram.find_published(PostPayload(text="La nuestra", media=(image(),)),
                                    since=datetime.now(timezone.utc) - timedelta(minutes=5)) is None
    # The recorded 2021 posts are older than the attempt: never matched.
    assert instagram.find_published(PostPayload(text="", media=(image(),)),
                                    since=datetime.now(timezone.utc) + timedelta(hours=1)) is None


def test_expired_token_is_auth_expired(instagram, fake_instagram):
    fake_instagram.expire_token()
    with pytest.raises(AuthExpired) as err:
        instagram.publish(PostPayload(text="No saldrá", media=(image(),)))
    assert "code=190" in err.value.detail and "Reconnect" in str(err.value.user_message)
    assert fake_instagram.token not in err.value.detail


def test_throttling_is_rate_limited_with_metas_wait(instagram, fake_instagram):
    fake_instagram.inject("GET content_publishing_limit", Fault.throttled(minutes=12))
    with pytest.raises(RateLimited) as err:
        instagram.publish(PostPayload(text="Despacio", media=(image(),)))
    assert err.value.retry_after == 12 * 60


def test_5xx_before_anything_is_created_is_retryable(instagram, fake_instagram):
    fake_instagram.inject("POST media", Fault.server_error(503))
    with pytest.raises(Retryable) as err:
        instagram.publish(PostPayload(text="Luego", media=(image(),)))
    assert not isinstance(err.value, (Ambiguous, RateLimited))
    assert fake_instagram.published_media() == []


def test_garbled_answer_to_media_publish_is_ambiguous(instagram, fake_instagram):
    fake_instagram.inject("POST media_publish", Fault.malformed())
    with pytest.raises(Ambiguous):
        instagram.publish(PostPayload(text="¿Salió?", media=(image(),)))


def test_delete_is_unsupported_with_a_plain_message(instagram, fake_instagram):
    with pytest.raises(Unsupported) as err:
        instagram.delete("17895731045244887")
    assert "Instagram app" in str(err.value.user_message)
    assert fake_instagram.requests == []


def test_limits_describe_instagram(instagram):
    limits = instagram.limits()
    assert limits.max_characters == 2200 and limits.max_media == 10
    assert limits.media_types == {"image/jpeg", "video/mp4", "video/quicktime"}
    assert limits.image_size_limit == 8 * 1024 * 1024 and not limits.content_warnings
    assert InstagramConnector.supports_first_comment and not InstagramConnector.supports_refresh


def test_quota_reached_between_the_check_and_media_publish_keeps_the_container(fake_instagram, instagram_http_config):
    """Another tool used the last slot meanwhile: Instagram refuses media_publish (code 9,
    subcode 2207042); the post waits with the real figures and the retry reuses the container."""
    store = MemoryContainerStore()
    real = fake_instagram._create_container

    def create_then_fill_quota(request):
        answer = real(request)
        fake_instagram.set_quota_used(25)
        return answer

    fake_instagram._create_container = create_then_fill_quota
    payload = PostPayload(text="Justo al límite", media=(image(),), marker="race")
    with another(fake_instagram, instagram_http_config, store) as first, pytest.raises(RateLimited) as err:
        first.publish(payload)
    assert "25 posts" in str(err.value.user_message)
    assert store.get("race") is not None and fake_instagram.published_media() == []
    fake_instagram.extra_quota_usage = 0
    fake_instagram._create_container = real
    with another(fake_instagram, instagram_http_config, store) as second:
        second.publish(payload)
    assert len(fake_instagram.requests_to("POST media")) == 1 and len(fake_instagram.published_media()) == 1


def test_dropped_connection_after_media_publish_is_ambiguous_and_found(instagram, fake_instagram):
    fake_instagram.inject("POST media_publish", Fault.drop_after())
    payload = PostPayload(text="Conexión cortada", media=(image(),), marker="drop")
    started = datetime.now(timezone.utc)
    with pytest.raises(Ambiguous):
        instagram.publish(payload)
    ref = instagram.find_published(payload, since=started)
    (media,) = fake_instagram.published_media()
    assert ref is not None and ref.external_id == media["id"]
    # Publishing again with the same marker returns the same post (the container is PUBLISHED).
    assert instagram.publish(payload).external_id == media["id"]
    assert len(fake_instagram.published_media()) == 1


def test_a_stored_container_instagram_no_longer_knows_is_replaced(fake_instagram, instagram_http_config):
    store = MemoryContainerStore()
    store.put("gone", {"id": "17999999999999991", "fp": InstagramConnector._fingerprint(
        PostPayload(text="Otra vez", media=(image(),))), "at": __import__("time").time()})
    with another(fake_instagram, instagram_http_config, store) as connector:
        ref = connector.publish(PostPayload(text="Otra vez", media=(image(),), marker="gone"))
    (media,) = fake_instagram.published_media()
    assert media["id"] == ref.external_id and store.get("gone") is None


def test_the_engines_public_link_is_used_when_no_hook_is_configured(fake_instagram, instagram_http_config):
    from dataclasses import replace

    item = image()
    item = replace(item, url=fake_instagram.host(item))
    connector = InstagramConnector(base_url=fake_instagram.base_url, credentials=Credentials(fake_instagram.token),
                                   account_id=fake_instagram.ig_user_id, http_config=instagram_http_config)
    with connector:
        ref = connector.publish(PostPayload(text="Con enlace firmado", media=(item,)))
    (create,) = fake_instagram.requests_to("POST media")
    assert create.params["image_url"] == item.url
    assert fake_instagram.published_media()[0]["id"] == ref.external_id
