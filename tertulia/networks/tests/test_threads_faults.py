"""How Threads' failures become the connector vocabulary, against the loopback fake: an expired
token (OAuthException 190), Meta's throttling (code 4 with its usage headers), server errors,
garbled answers, and renewing the long-lived token."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import Credentials, PostPayload
from tertulia.networks.errors import AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.threads.connector import ThreadsConnector
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


def test_expired_token_is_auth_expired(threads, fake_threads):
    fake_threads.expire_token()
    with pytest.raises(AuthExpired) as caught:
        threads.publish(PostPayload(text="No saldrá"))
    assert "Reconnect the account" in str(caught.value.user_message)
    assert "code=190" in caught.value.detail
    assert fake_threads.posts() == []


def test_token_expiring_mid_flow_is_auth_expired(threads, fake_threads):
    fake_threads.inject(r"threads_publish$", Fault.expired_token())
    with pytest.raises(AuthExpired):
        threads.publish(PostPayload(text="No saldrá"))
    assert fake_threads.posts() == []


def test_throttling_waits_as_long_as_meta_says(threads, fake_threads):
    fake_threads.inject(r"^POST /:id/threads$", Fault.throttled(minutes=30))
    with pytest.raises(RateLimited) as caught:
        threads.publish(PostPayload(text="Despacio"))
    assert caught.value.retry_after == 30 * 60
    assert fake_threads.posts() == []


def test_server_error_is_retryable_and_nothing_posted(threads, fake_threads):
    fake_threads.inject(r"^GET /:id/threads_publishing_limit$", Fault.server_error(500))
    with pytest.raises(Retryable):
        threads.publish(PostPayload(text="Luego"))
    assert not fake_threads.requests_to(r"^POST")


def test_malformed_read_is_retryable(threads, fake_threads):
    fake_threads.inject(r"^GET /me$", Fault.malformed('{"id": "12', after=False))
    with pytest.raises(Retryable):
        threads.fetch_profile()


def test_dropped_publish_is_ambiguous_and_reconciled(threads, fake_threads):
    from tertulia.networks.errors import Ambiguous

    fake_threads.inject(r"threads_publish$", Fault.drop_after())
    started = datetime.now(timezone.utc)
    payload = PostPayload(text="¿Llegó?")
    with pytest.raises(Ambiguous):
        threads.publish(payload)
    assert threads.find_published(payload, since=started).external_id == fake_threads.posts()[0]["id"]


def test_permanent_refusal_carries_metas_words(threads, fake_threads):
    fake_threads.inject(r"^POST /:id/threads$", Fault("status", status=400, body=(
        '{"error":{"message":"Param text is invalid","type":"OAuthException","code":100,'
        '"error_subcode":4279009,"error_user_msg":"El texto no es válido","fbtrace_id":"X"}}')))
    with pytest.raises(Permanent) as caught:
        threads.publish(PostPayload(text="¿?"))
    assert "El texto no es válido" in str(caught.value.user_message)


def test_refresh_renews_the_long_lived_token(threads, fake_threads, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []
    threads.credentials_listener = seen.append
    old = threads.credentials.access_token
    fresh = threads.refresh_credentials()
    assert fresh.access_token != old and fresh.refresh_token == fresh.access_token
    assert fresh.expires_at - datetime.now(timezone.utc) > timedelta(days=59)
    assert seen == [fresh] and threads.credentials == fresh
    (request,) = fake_threads.requests_to(r"^GET /refresh_access_token$")
    assert request.params["grant_type"] == "th_refresh_token" and request.params["access_token"] == old
    assert old not in caplog.text and fresh.access_token not in caplog.text  # redacted from httpx's log
    threads.publish(PostPayload(text="Con el token nuevo"))
    assert fake_threads.requests_to(r"threads_publish$")[-1].token == fresh.access_token


def test_refresh_of_an_expired_token_is_auth_expired(fake_threads, threads_http_config):
    token = fake_threads.new_token(seconds=-10)
    connector = ThreadsConnector(base_url=fake_threads.base_url, http_config=threads_http_config,
                                 credentials=Credentials(token, refresh_token=token))
    with connector, pytest.raises(AuthExpired):
        connector.refresh_credentials()
    assert ThreadsConnector.supports_refresh
    assert connector.needs_refresh(now=datetime.now(timezone.utc)) is False  # no expiry known


def test_a_post_published_behind_a_500_is_never_posted_again(threads, fake_threads):
    """threads_publish answers 500 although it published. The next attempt, minutes later,
    finds its container PUBLISHED: it asks instead of posting, and find_published searches back
    to when the container was made, not just to this attempt's start."""
    from tertulia.networks.errors import Ambiguous

    fake_threads.inject(r"threads_publish$", Fault.server_error(500, after=True), times=1)
    payload = PostPayload(text="Sale tras un 500", marker="m-500")
    with pytest.raises(Retryable):
        threads.publish(payload)
    assert len(fake_threads.posts()) == 1  # it did go out
    later = datetime.now(timezone.utc) + timedelta(minutes=10)  # the retry's attempt started later
    with pytest.raises(Ambiguous):
        threads.publish(payload)
    ref = threads.find_published(payload, since=later)
    assert ref.external_id == fake_threads.posts()[0]["id"]
    assert len(fake_threads.posts()) == 1 and len(fake_threads.requests_to(r"threads_publish$")) == 1


def test_a_published_container_not_listed_yet_is_cannot_tell_not_absent(threads, fake_threads):
    """If the listing does not show the post yet, find_published must not say "absent" (the
    engine would post again): a PUBLISHED container means it exists."""
    from tertulia.networks.errors import Ambiguous

    fake_threads.inject(r"threads_publish$", Fault.drop_after(), times=1)
    payload = PostPayload(text="Aún no listado", marker="m-unlisted")
    with pytest.raises(Ambiguous):
        threads.publish(payload)
    fake_threads.listing_lag = True  # Meta's listing has not caught up
    with pytest.raises(Retryable):
        threads.find_published(payload, since=datetime.now(timezone.utc))
    fake_threads.listing_lag = False
    assert threads.find_published(payload, since=datetime.now(timezone.utc)).external_id == fake_threads.posts()[0]["id"]
