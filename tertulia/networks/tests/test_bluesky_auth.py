"""Bluesky app-password sessions against the fake PDS: createSession, refreshSession on an
expired access JWT (once), rotation that never drops a refresh token, and AuthExpired when the
refresh JWT is rejected too."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks import registry
from tertulia.networks.base import Connector, Credentials, PostPayload
from tertulia.networks.bluesky import BlueskyConnector, jwt_expiry, session_from
from tertulia.networks.errors import AuthExpired, Permanent
from tests.fakes.bluesky import Fault


def _connector(fake, config, **kwargs):
    return BlueskyConnector(base_url=fake.base_url, http_config=config, **kwargs)


def test_bluesky_is_registered():
    assert registry.connector_class("bluesky") is BlueskyConnector
    assert registry.is_available("bluesky") and issubclass(BlueskyConnector, Connector)
    assert BlueskyConnector.supports_refresh and BlueskyConnector.supports_search


def test_login_with_an_app_password(fake_bluesky, bluesky_http_config):
    sessions = []
    with _connector(fake_bluesky, bluesky_http_config, identifier="test.marshal.dev",
                    app_password=fake_bluesky.password, on_credentials=sessions.append) as connector:
        profile = connector.fetch_profile()
    assert profile.external_id == fake_bluesky.own_did and profile.handle == "@test.marshal.dev"
    (session,) = sessions
    assert session.did == fake_bluesky.own_did and session.handle == "test.marshal.dev"
    assert session.credentials.access_token in fake_bluesky.access
    assert session.credentials.refresh_token in fake_bluesky.refresh
    # The expiry comes from the JWT itself, so the engine can refresh before it runs out.
    assert session.credentials.expires_at is not None
    assert session.credentials.expires_at > datetime.now(timezone.utc) + timedelta(hours=1)
    (request,) = fake_bluesky.requests_to("com.atproto.server.createSession")
    assert request.method == "POST" and "authorization" not in request.headers


@pytest.mark.parametrize("identifier", ["test.marshal.dev", "did:plc:kvwvcn5iqfooopmyzvb4qzba",
                                        "test.marshal.dev@example.com"])
def test_login_with_handle_did_or_email(fake_bluesky, bluesky_http_config, identifier):
    with _connector(fake_bluesky, bluesky_http_config, identifier=identifier,
                    app_password=fake_bluesky.password) as connector:
        assert connector.login().did == fake_bluesky.own_did


def test_wrong_app_password_is_auth_expired_with_the_servers_words(fake_bluesky, bluesky_http_config):
    with _connector(fake_bluesky, bluesky_http_config, identifier="test.marshal.dev",
                    app_password="wrong-pass-word-1234") as connector:
        with pytest.raises(AuthExpired) as info:
            connector.fetch_profile()
    assert info.value.detail == "AuthenticationRequired: Invalid identifier or password"
    assert info.value.status == 401


def test_no_session_and_no_password_is_auth_expired(fake_bluesky, bluesky_http_config):
    with _connector(fake_bluesky, bluesky_http_config) as connector:
        with pytest.raises(AuthExpired):
            connector.fetch_profile()
    assert fake_bluesky.requests == []


def test_expired_access_token_is_refreshed_once_and_the_call_repeated(bluesky, fake_bluesky):
    bluesky.fetch_profile()  # knows its DID already
    old_refresh = bluesky.credentials.refresh_token
    fake_bluesky.expire_access_tokens()
    ref = bluesky.publish(PostPayload(text="sigue funcionando"))
    assert ref.external_id and len(fake_bluesky.posts_of()) == 1
    creates = fake_bluesky.requests_to("com.atproto.repo.createRecord")
    assert [r.status for r in creates] == [400, 200]  # ExpiredToken, then the repeat
    assert len(fake_bluesky.requests_to("com.atproto.server.refreshSession")) == 1
    # Rotation: the new refresh JWT replaced the old one, which the PDS no longer accepts.
    assert bluesky.credentials.refresh_token != old_refresh
    assert bluesky.credentials.refresh_token in fake_bluesky.refresh
    assert old_refresh not in fake_bluesky.refresh


def test_a_transparent_refresh_is_handed_over_to_be_stored(fake_bluesky, bluesky_http_config):
    stored = []
    credentials = Credentials(fake_bluesky.access_jwt, fake_bluesky.refresh_jwt)
    with _connector(fake_bluesky, bluesky_http_config, credentials=credentials, account_id=fake_bluesky.own_did,
                    on_credentials=stored.append) as connector:
        fake_bluesky.expire_access_tokens()
        connector.fetch_profile()
        assert [s.credentials for s in stored] == [connector.credentials]
    assert stored[0].credentials.refresh_token in fake_bluesky.refresh  # the live one, not the spent one
    assert fake_bluesky.refresh_jwt not in fake_bluesky.refresh


def test_refresh_sends_the_refresh_jwt_as_bearer(bluesky, fake_bluesky):
    refresh = bluesky.credentials.refresh_token
    credentials = bluesky.refresh_credentials()
    (request,) = fake_bluesky.requests_to("com.atproto.server.refreshSession")
    assert request.headers["authorization"] == f"Bearer {refresh}"
    assert credentials is bluesky.credentials and credentials.refresh_token and credentials.access_token
    assert jwt_expiry(credentials.access_token) == credentials.expires_at


def test_refresh_before_expiry(fake_bluesky, bluesky_http_config):
    fake_bluesky.access_ttl = 30  # shorter than the connector's one-minute margin
    session = fake_bluesky.issue_session(fake_bluesky.own_did)
    fake_bluesky.access_ttl = 7200  # the refreshed one lasts
    credentials = Credentials(session["accessJwt"], session["refreshJwt"], jwt_expiry(session["accessJwt"]))
    with _connector(fake_bluesky, bluesky_http_config, credentials=credentials) as connector:
        assert connector.needs_refresh()
        connector.fetch_profile()
    assert len(fake_bluesky.requests_to("com.atproto.server.refreshSession")) == 1
    assert [r.status for r in fake_bluesky.requests_to("app.bsky.actor.getProfile")] == [200]


def test_injected_invalid_token_is_refreshed_too(bluesky, fake_bluesky):
    fake_bluesky.inject("GET app.bsky.actor.getProfile", Fault.invalid_token())
    assert bluesky.fetch_profile().external_id == fake_bluesky.own_did
    assert len(fake_bluesky.requests_to("com.atproto.server.refreshSession")) == 1


def test_refresh_jwt_rejected_too_is_auth_expired_and_keeps_the_token(bluesky, fake_bluesky):
    refresh = bluesky.credentials.refresh_token
    fake_bluesky.expire_access_tokens()
    fake_bluesky.expire_refresh_tokens()
    with pytest.raises(AuthExpired) as info:
        bluesky.publish(PostPayload(text="no"))
    assert info.value.detail == "ExpiredToken: Token has expired"
    assert bluesky.credentials.refresh_token == refresh  # never dropped, even when refused
    assert fake_bluesky.posts_of() == []
    assert len(fake_bluesky.requests_to("com.atproto.server.refreshSession")) == 1  # once, no loop


def test_still_expired_after_refresh_is_auth_expired_not_a_loop(bluesky, fake_bluesky):
    fake_bluesky.inject("GET app.bsky.actor.getProfile", Fault.expired_token(), times=None)
    with pytest.raises(AuthExpired):
        bluesky.fetch_profile()
    assert len(fake_bluesky.requests_to("app.bsky.actor.getProfile")) == 2
    assert len(fake_bluesky.requests_to("com.atproto.server.refreshSession")) == 1


def test_revoked_session_with_an_app_password_opens_a_new_one(fake_bluesky, bluesky_http_config):
    session = fake_bluesky.issue_session(fake_bluesky.own_did)
    credentials = Credentials(session["accessJwt"], session["refreshJwt"])
    fake_bluesky.revoke_sessions()
    with _connector(fake_bluesky, bluesky_http_config, credentials=credentials, identifier="test.marshal.dev",
                    app_password=fake_bluesky.password) as connector:
        assert connector.fetch_profile().external_id == fake_bluesky.own_did
    assert len(fake_bluesky.requests_to("com.atproto.server.createSession")) == 1


def test_a_session_for_another_account_is_refused(fake_bluesky, bluesky_http_config):
    other = fake_bluesky.add_account("otra.bsky.social", password="pass-word-pass-word")
    with _connector(fake_bluesky, bluesky_http_config, account_id=fake_bluesky.own_did,
                    identifier="otra.bsky.social", app_password="pass-word-pass-word") as connector:
        with pytest.raises(AuthExpired):
            connector.login()
    assert other["did"] != fake_bluesky.own_did


def test_session_answers_without_a_refresh_jwt_keep_the_old_one():
    previous = Credentials("old-access", "old-refresh")
    session = session_from({"accessJwt": "new-access", "did": "did:plc:abc", "handle": "a.test"}, previous)
    assert session.credentials.refresh_token == "old-refresh"
    assert session.credentials.access_token == "new-access"
    with pytest.raises(Permanent):
        session_from({"error": "nope"}, previous)
    with pytest.raises(Permanent):
        session_from(["not", "a", "session"], previous)


def test_jwt_expiry_tolerates_garbage():
    assert jwt_expiry("") is None and jwt_expiry("a.b.c") is None and jwt_expiry("not a jwt") is None


@pytest.mark.django_db
def test_connector_for_an_account(brand_a, fake_bluesky):
    from tertulia.core.services import Ctx
    from tertulia.networks import services
    from tertulia.networks.http import HttpConfig

    brand, people = brand_a
    account = services.do_add_account(Ctx(people["owner"], via="test"), brand, network="bluesky",
                                      handle="@test.marshal.dev", base_url=fake_bluesky.base_url,
                                      access_token=fake_bluesky.access_jwt)
    account.refresh_from_db()
    with registry.connector_for(account, http_config=HttpConfig(allow_private_networks=True)) as connector:
        assert isinstance(connector, BlueskyConnector)
        assert connector.fetch_profile().external_id == fake_bluesky.own_did
    assert connector.account_key == f"account:{account.pk}"
