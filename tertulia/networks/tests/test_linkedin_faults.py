"""LinkedIn's failure modes against the loopback fake: the versioned-API header, expired and
revoked tokens, 429, 5xx, timeouts after the write, garbled answers, and token refresh."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from django.utils import translation

from tertulia.networks.base import Credentials, MediaItem, PostPayload
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.http import HttpConfig
from tertulia.networks.linkedin import connector as li
from tertulia.networks.linkedin.connector import API_VERSION, LinkedInConnector
from tests.fakes.linkedin import ORG_ID, SUPPORTED_VERSIONS, Fault
from tests.fakes.linkedin_plugin import fake_linkedin, linkedin, linkedin_http_config  # noqa: F401

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English, whatever language an earlier test left active."""
    with translation.override("en"):
        yield


def test_the_pinned_version_is_one_linkedin_supports():
    assert len(API_VERSION) == 6 and API_VERSION.isdigit() and API_VERSION in SUPPORTED_VERSIONS


def test_the_fake_refuses_calls_without_the_version_header(fake_linkedin):
    url = f"{fake_linkedin.base_url}/rest/organizations/{ORG_ID}"
    auth = {"Authorization": f"Bearer {fake_linkedin.token}", "X-Restli-Protocol-Version": "2.0.0"}
    answer = httpx.get(url, headers=auth)
    assert answer.status_code == 400 and answer.json()["code"] == "VERSION_MISSING"
    answer = httpx.get(url, headers={**auth, "LinkedIn-Version": "202001"})
    assert answer.status_code == 426 and answer.json()["code"] == "NONEXISTENT_VERSION"
    answer = httpx.get(url, headers={"Authorization": auth["Authorization"], "LinkedIn-Version": API_VERSION})
    assert answer.status_code == 400  # Rest.li 2.0.0 is required for encoded keys


def test_a_sunset_version_is_a_clear_permanent_error(linkedin, fake_linkedin):
    fake_linkedin.supported_versions = {"209901"}  # the pinned version has been sunset
    with pytest.raises(Permanent) as err:
        linkedin.publish(PostPayload(text="x"))
    assert API_VERSION in str(err.value.user_message) and "Update Tertulia" in str(err.value.user_message)
    assert "NONEXISTENT_VERSION" in err.value.detail and err.value.status == 426
    assert fake_linkedin.live_posts() == []


def test_version_errors_on_reads_too(linkedin, fake_linkedin, monkeypatch):
    monkeypatch.setattr(li, "API_VERSION", "")
    with pytest.raises(Permanent) as err:
        linkedin.fetch_profile()
    assert "VERSION_MISSING" in err.value.detail


def test_expired_and_revoked_tokens(linkedin, fake_linkedin):
    fake_linkedin.expire_token()
    with pytest.raises(AuthExpired) as err:
        linkedin.publish(PostPayload(text="x"))
    assert err.value.status == 401 and "expired" in err.value.detail
    fake_linkedin.tokens[fake_linkedin.token]["expires"] += 10**9
    fake_linkedin.revoke_token()
    with pytest.raises(AuthExpired):
        linkedin.fetch_interactions()
    assert fake_linkedin.live_posts() == []


def test_rate_limited_with_retry_after(linkedin, fake_linkedin):
    fake_linkedin.inject("posts.create", Fault.rate_limited(retry_after=120))
    with pytest.raises(RateLimited) as err:
        linkedin.publish(PostPayload(text="x"))
    assert err.value.retry_after == 120 and "TOO_MANY_REQUESTS" not in str(err.value.user_message)
    assert "throttle" in err.value.detail


def test_rate_limited_without_headers_waits_a_default(linkedin, fake_linkedin):
    fake_linkedin.inject("posts.list", Fault.rate_limited())
    with pytest.raises(RateLimited) as err:
        linkedin.find_published(PostPayload(text="x"), since=datetime.now(timezone.utc))
    assert err.value.retry_after == 60


def test_server_errors(linkedin, fake_linkedin):
    fake_linkedin.inject("organizations.get", Fault.server_error(500))
    with pytest.raises(Retryable):
        linkedin.fetch_profile()
    fake_linkedin.inject("posts.create", Fault.server_error(504, after=True))
    with pytest.raises(Ambiguous):
        linkedin.publish(PostPayload(text="Puede que sí"))
    assert len(fake_linkedin.live_posts()) == 1  # it did go out: find_published must look


def test_a_500_after_the_post_was_created_is_ambiguous_and_then_found(linkedin, fake_linkedin):
    """LinkedIn answers 500 although it created the post: that is "maybe", never a plain retry
    (which would post twice, or meet 422 DUPLICATE and fail a post that is live)."""
    fake_linkedin.inject("posts.create", Fault.server_error(500, after=True))
    payload = PostPayload(text="Sale tras un 500")
    since = datetime.now(timezone.utc)
    with pytest.raises(Ambiguous):
        linkedin.publish(payload)
    (live,) = fake_linkedin.live_posts()
    assert linkedin.find_published(payload, since=since).external_id == live["id"]


def test_timeout_after_the_post_is_ambiguous_and_then_found(fake_linkedin):
    config = HttpConfig(connect_timeout=2.0, read_timeout=0.5, write_timeout=2.0, allow_private_networks=True)
    since = datetime.now(timezone.utc)
    with LinkedInConnector(base_url=fake_linkedin.base_url, credentials=Credentials(fake_linkedin.token),
                           account_id=str(ORG_ID), http_config=config) as connector:
        fake_linkedin.inject("posts.create", Fault.timeout_after(1.5))
        payload = PostPayload(text="¿Llegó? (sí)")
        with pytest.raises(Ambiguous):
            connector.publish(payload)
        found = connector.find_published(payload, since=since)
    (post,) = fake_linkedin.live_posts()
    assert found is not None and found.external_id == post["id"]


def test_a_created_post_without_its_id_is_ambiguous(linkedin, fake_linkedin, monkeypatch):
    original = fake_linkedin.api_posts_create

    def no_header(request):
        status, body, _headers = original(request)
        return status, body, {}

    monkeypatch.setattr(fake_linkedin, "api_posts_create", no_header)
    with pytest.raises(Ambiguous) as err:
        linkedin.publish(PostPayload(text="¿Cuál es su id?"))
    assert "did not say its id" in str(err.value.user_message)


def test_garbled_upload_answer_is_a_plain_retry(linkedin, fake_linkedin):
    fake_linkedin.inject("images.initialize", Fault.malformed())
    with pytest.raises(Retryable) as err:
        linkedin.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert not isinstance(err.value, Ambiguous)
    assert fake_linkedin.requests_to("posts.create") == []


def test_dropped_connection_on_a_comment_is_ambiguous(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Post")).external_id
    fake_linkedin.inject("comments.create", Fault.drop_after())
    with pytest.raises(Ambiguous):
        linkedin.reply(ref, "Primer comentario")
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    found = linkedin.find_published(PostPayload(text="Primer comentario", reply_to=ref), since=since)
    assert found is not None and found.external_id == fake_linkedin.comments[ref][0]["commentUrn"]


def test_refusals_keep_linkedins_words_for_the_log(linkedin, fake_linkedin):
    fake_linkedin.inject("posts.create", Fault.respond(422, "ERROR :: /commentary :: <b>bad</b>",
                                                       code="UNPROCESSABLE_ENTITY"))
    with pytest.raises(Permanent) as err:
        linkedin.publish(PostPayload(text="x"))
    assert "UNPROCESSABLE_ENTITY" in err.value.detail and "<b>bad</b>" in str(err.value.user_message)


# -- tokens ------------------------------------------------------------------------------------


def test_refresh_keeps_the_refresh_token_and_renews_for_sixty_days(fake_linkedin, linkedin_http_config):
    answer = fake_linkedin._grant("r_organization_social", refresh_expires=datetime.now().timestamp() + 300 * 86400)
    seen = []
    connector = LinkedInConnector(
        base_url=fake_linkedin.base_url, account_id=str(ORG_ID), http_config=linkedin_http_config,
        credentials=Credentials(answer["access_token"], answer["refresh_token"],
                                datetime.now(timezone.utc) + timedelta(minutes=5)),
        auth_base_url=fake_linkedin.base_url, client_id=fake_linkedin.client_id,
        client_secret=fake_linkedin.client_secret, credentials_listener=seen.append)
    with connector:
        assert connector.needs_refresh()
        new = connector.refresh_credentials()
        assert connector.fetch_profile().handle == "cafetertulia"  # the new token works
    assert seen == [new] and new.access_token != answer["access_token"]
    assert new.refresh_token == answer["refresh_token"]
    assert timedelta(days=59) < new.expires_at - datetime.now(timezone.utc) <= timedelta(days=60)
    (request,) = fake_linkedin.requests_to("token")
    assert b"grant_type=refresh_token" in request.body


def test_a_refused_refresh_token_needs_reconnecting(linkedin, fake_linkedin):
    linkedin.credentials = Credentials(fake_linkedin.token, "AQXnot-a-real-one")
    with pytest.raises(AuthExpired) as err:
        linkedin.refresh_credentials()
    assert "invalid_grant" not in str(err.value.user_message) and "expired" in err.value.detail


def test_no_refresh_token_means_reconnect(linkedin):
    with pytest.raises(AuthExpired) as err:
        linkedin.refresh_credentials()
    assert "Reconnect" in str(err.value.user_message)


def test_refresh_without_an_app_configured(fake_linkedin, linkedin_http_config, settings):
    settings.NETWORK_APPS = {"linkedin": {"client_id": "", "client_secret": ""}}
    connector = LinkedInConnector(base_url=fake_linkedin.base_url, account_id=str(ORG_ID),
                                  credentials=Credentials("a", "b"), http_config=linkedin_http_config)
    with connector, pytest.raises(Permanent) as err:
        connector.refresh_credentials()
    assert "LINKEDIN_CLIENT_ID" in str(err.value.user_message)
