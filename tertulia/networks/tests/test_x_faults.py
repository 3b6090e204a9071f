"""X's failure modes against the loopback fake: 429 with ``x-rate-limit-reset``, the paid-tier
refusals (403 ``client-not-enrolled``, 429 ``usage-capped``), an expired access token renewed
once with the rotating refresh token, server errors, a timeout after the post was created,
malformed JSON, and the proactive per-user limits."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import Credentials, PostPayload
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.http import HttpConfig
from tertulia.networks.ratelimit import BucketBook
from tertulia.networks.x.connector import XConnector
from tests.fakes.x import Fault
from tests.fakes.x_plugin import fake_x, x, x_http_config  # noqa: F401


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English; one test below checks the Spanish rendering."""
    from django.utils import translation

    with translation.override("en"):
        yield


def test_429_uses_x_rate_limit_reset(x, fake_x):
    fake_x.inject("POST /2/tweets", Fault.rate_limited(reset_in=120))
    with pytest.raises(RateLimited) as caught:
        x.publish(PostPayload(text="Demasiado pronto"))
    assert 100 <= caught.value.retry_after <= 121
    assert caught.value.status == 429
    assert "slow down" in str(caught.value.user_message) and "publishing posts" in str(caught.value.user_message)
    # The window is recorded as exhausted until the reset: the next call is not even sent.
    state = x.http.rate_book.get(x.account_key, "POST /2/tweets")
    assert state.remaining == 0 and state.reset_at > datetime.now(timezone.utc) + timedelta(seconds=100)
    with pytest.raises(RateLimited) as again:
        x.publish(PostPayload(text="Otra vez"))
    assert "not sent" in again.value.detail
    assert len(fake_x.requests_to("POST /2/tweets")) == 1
    assert fake_x.own_posts() == []


def test_429_reset_in_the_past_still_waits_a_little(x, fake_x):
    fake_x.inject("GET /2/users/me", Fault.rate_limited(reset_in=-30))
    with pytest.raises(RateLimited) as caught:
        x.fetch_profile()
    assert caught.value.retry_after >= 1.0


def test_client_not_enrolled_says_the_plan_lacks_the_feature(x, fake_x):
    fake_x.not_in_plan.add("POST /2/tweets")
    with pytest.raises(Permanent) as caught:
        x.publish(PostPayload(text="Sin plan"))
    message = str(caught.value.user_message)
    assert "plan" in message and "developer.x.com" in message and "publishing posts" in message
    assert "client-not-enrolled" in caught.value.detail and caught.value.status == 403
    assert "unknown" not in message.lower()
    from django.utils import translation

    with translation.override("es"):  # lazy: rendered in the reader's language, the feature too
        spanish = str(caught.value.user_message)
    assert "no incluye publicar" in spanish and "developer.x.com" in spanish


def test_client_not_enrolled_on_media_names_media(x, fake_x):
    fake_x.inject("POST /2/media/upload", Fault.not_enrolled())
    from tertulia.networks.base import MediaItem

    with pytest.raises(Permanent) as caught:
        x.publish(PostPayload(text="foto", media=(MediaItem("a.png", "image/png", content=b"\x89PNG"),)))
    assert "uploading images and videos" in str(caught.value.user_message)
    assert not fake_x.requests_to("POST /2/tweets")


def test_usage_capped_is_rate_limited_for_long_with_a_plain_message(x, fake_x):
    fake_x.inject("GET /2/users/:id/mentions", Fault.usage_capped())
    x.account_id = fake_x.own["id"]
    with pytest.raises(RateLimited) as caught:
        x.fetch_interactions()
    assert caught.value.retry_after >= 3600
    message = str(caught.value.user_message)
    assert "monthly quota" in message and "developer.x.com" in message and "reading mentions" in message


def test_expired_access_token_is_renewed_once_and_the_call_repeated(x, fake_x):
    seen: list[Credentials] = []
    x.credentials_listener = seen.append
    old_access, old_refresh = x.credentials.access_token, x.credentials.refresh_token
    fake_x.expire_token(old_access)
    ref = x.publish(PostPayload(text="Tras renovar"))
    assert [p["id"] for p in fake_x.own_posts()] == [ref.external_id]
    (fresh,) = seen  # handed over at once: X already spent the old refresh token
    assert fresh.access_token != old_access and fresh.refresh_token != old_refresh
    assert fresh.expires_at and fresh.expires_at > datetime.now(timezone.utc) + timedelta(minutes=100)
    assert old_refresh in fake_x.spent_refresh and fresh.refresh_token in fake_x.refresh_tokens
    token_call = fake_x.requests_to("POST /2/oauth2/token")[0]
    assert token_call.form["grant_type"] == "refresh_token" and token_call.form["client_id"] == fake_x.client_id
    assert token_call.headers["authorization"].startswith("Basic ")
    assert [r.status for r in fake_x.requests_to("POST /2/tweets")] == [401, 201]


def test_token_about_to_expire_is_renewed_before_the_call(x, fake_x):
    x.credentials = Credentials(access_token=x.credentials.access_token, refresh_token=x.credentials.refresh_token,
                                expires_at=datetime.now(timezone.utc) + timedelta(seconds=30))
    x.fetch_profile()
    assert len(fake_x.requests_to("POST /2/oauth2/token")) == 1
    assert [r.status for r in fake_x.requests_to("GET /2/users/me")] == [200]


def test_refused_refresh_is_auth_expired_and_the_token_is_kept(x, fake_x):
    fake_x.expire_token(x.credentials.access_token)
    fake_x.refresh_tokens.clear()  # revoked on X
    stored = x.credentials.refresh_token
    with pytest.raises(AuthExpired) as caught:
        x.fetch_profile()
    assert "Reconnect" in str(caught.value.user_message)
    assert x.credentials.refresh_token == stored  # never dropped on a refusal


def test_401_without_a_refresh_token_is_auth_expired(fake_x, x_http_config):
    connector = XConnector(base_url=fake_x.base_url, credentials=Credentials(access_token="revoked"),
                           http_config=x_http_config, client_id=fake_x.client_id, client_secret="s")
    with connector, pytest.raises(AuthExpired):
        connector.publish(PostPayload(text="no"))
    assert not fake_x.requests_to("POST /2/oauth2/token")


def test_wrong_app_secret_on_refresh_is_a_plain_configuration_error(fake_x, x_http_config):
    answer = fake_x.issue(fake_x.own["id"])
    connector = XConnector(base_url=fake_x.base_url, credentials=Credentials(answer["access_token"],
                                                                              answer["refresh_token"]),
                           http_config=x_http_config, client_id=fake_x.client_id, client_secret="wrong")
    with connector, pytest.raises(Permanent) as caught:
        connector.refresh_credentials()
    assert "X_CLIENT_SECRET" in str(caught.value.user_message)
    assert answer["refresh_token"] in fake_x.refresh_tokens  # not spent


@pytest.mark.parametrize("status,error", [(503, Retryable), (500, Retryable), (502, Ambiguous), (504, Ambiguous)])
def test_server_errors_on_create(x, fake_x, status, error):
    fake_x.inject("POST /2/tweets", Fault.server_error(status))
    with pytest.raises(error):
        x.publish(PostPayload(text=f"Error {status}"))
    assert fake_x.own_posts() == []


def test_timeout_after_the_post_was_created_is_ambiguous_and_found(fake_x, x_http_config):
    answer = fake_x.issue(fake_x.own["id"])
    config = HttpConfig(connect_timeout=2.0, read_timeout=0.5, write_timeout=2.0, allow_private_networks=True)
    connector = XConnector(base_url=fake_x.base_url, credentials=Credentials(answer["access_token"]),
                           http_config=config, buckets=BucketBook())
    fake_x.inject("POST /2/tweets", Fault.timeout_after(1.5))
    payload = PostPayload(text="Una vez con enlace https://cafetertulia.es/otoño", marker="m-1")
    started = datetime.now(timezone.utc)
    with connector:
        with pytest.raises(Ambiguous):
            connector.publish(payload)
        time.sleep(1.2)  # the fake finishes answering the hung request
        found = connector.find_published(payload, since=started)
        assert found is not None
        (post,) = fake_x.own_posts()
        assert found.external_id == post["id"]
        assert len(fake_x.requests_to("POST /2/tweets")) == 1
        # A different text, or the same words as a reply, is not our post.
        assert connector.find_published(PostPayload(text="Otra cosa"), since=started) is None
        assert connector.find_published(PostPayload(text=payload.text, reply_to=post["id"]), since=started) is None


def test_dropped_connection_after_create_is_ambiguous(x, fake_x):
    fake_x.inject("POST /2/tweets", Fault.drop_after())
    with pytest.raises(Ambiguous):
        x.publish(PostPayload(text="Conexión cortada"))
    assert len(fake_x.own_posts()) == 1  # it exists: find_published is the next step


def test_malformed_json_after_create_is_ambiguous(x, fake_x):
    fake_x.inject("POST /2/tweets", Fault.malformed())
    with pytest.raises(Ambiguous):
        x.publish(PostPayload(text="JSON roto"))
    assert len(fake_x.own_posts()) == 1


def test_malformed_json_on_a_read_is_retryable(x, fake_x):
    fake_x.inject("GET /2/users/me", Fault.malformed('{"data": [', status=200))
    with pytest.raises(Retryable):
        x.fetch_profile()
    fake_x.inject("GET /2/users/me", Fault.malformed('{"data": "nope"}', status=200))
    with pytest.raises(Retryable):
        x.fetch_profile()


def test_dropped_upload_is_retryable_not_ambiguous(x, fake_x):
    from tertulia.networks.base import MediaItem

    fake_x.inject("POST /2/media/upload", Fault.drop_after())
    with pytest.raises(Retryable) as caught:
        x.publish(PostPayload(text="foto", media=(MediaItem("a.png", "image/png", content=b"\x89PNG"),)))
    assert not isinstance(caught.value, Ambiguous)
    assert fake_x.own_posts() == []


def test_proactive_limit_defers_without_sending(x, fake_x):
    """200 creates per 15 minutes per user (docs.x.com manage Posts): the 201st waits."""
    rules = [r for r in XConnector.rate_rules if r.matches("POST", "/2/tweets")]
    assert {r.capacity for r in rules} == {200, 300}
    assert not any(r.matches("POST", "/2/tweets/search/recent") for r in rules)
    for _ in range(200):
        assert x.http.buckets.reserve(x.account_key, rules, max_wait=0) == 0
    with pytest.raises(RateLimited) as caught:
        x.publish(PostPayload(text="La 201"))
    assert "proactive" in caught.value.detail and caught.value.retry_after > 1
    assert not fake_x.requests_to("POST /2/tweets")
    x.fetch_profile()  # other endpoints are not held back


def test_private_addresses_refused_by_default(fake_x):
    connector = XConnector(base_url=fake_x.base_url, credentials=Credentials("t"),
                           http_config=HttpConfig(connect_timeout=1.0, allow_private_networks=False))
    with connector, pytest.raises(Permanent):
        connector.fetch_profile()
    assert fake_x.requests == []


def test_ambiguous_post_with_an_image_is_found_by_words_and_media_count(fake_x):
    from tertulia.networks.base import MediaItem

    answer = fake_x.issue(fake_x.own["id"])
    config = HttpConfig(connect_timeout=2.0, read_timeout=0.5, write_timeout=2.0, allow_private_networks=True)
    connector = XConnector(base_url=fake_x.base_url, credentials=Credentials(answer["access_token"]),
                           http_config=config, buckets=BucketBook())
    photo = MediaItem("a.png", "image/png", content=b"\x89PNG" + b"\x00" * 20)
    payload = PostPayload(text="Foto del día en cafetertulia.es", media=(photo,))
    fake_x.inject("POST /2/tweets", Fault.timeout_after(1.2))
    started = datetime.now(timezone.utc)
    with connector:
        with pytest.raises(Ambiguous):
            connector.publish(payload)
        time.sleep(1.0)
        (post,) = fake_x.own_posts()
        assert post["text"].count("https://t.co/") == 2  # the link and the media link X appends
        assert connector.find_published(payload, since=started).external_id == post["id"]
        assert connector.find_published(PostPayload(text=payload.text), since=started) is None  # no media
