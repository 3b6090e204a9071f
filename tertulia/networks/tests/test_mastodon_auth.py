"""Connecting a Mastodon account: app registration, the authorization-code flow with PKCE,
token exchange and revocation, against the fake's OAuth endpoints over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tertulia.networks.base import Credentials
from tertulia.networks.errors import AuthExpired, Permanent
from tertulia.networks.http import HttpConfig
from tertulia.networks.mastodon import (
    MastodonConnector,
    authorization_request,
    exchange_code,
    normalize_base_url,
    register_app,
    revoke,
)
from tests.fakes.mastodon import Fault

CONFIG = HttpConfig(allow_private_networks=True)
REDIRECT = "https://tertulia.example/accounts/mastodon/callback"


def _consent(url: str) -> dict[str, str]:
    """What the person's browser does: open the consent page and follow it back to us."""
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_connect_an_account_end_to_end(fake_mastodon):
    app = register_app(fake_mastodon.base_url, client_name="Tertulia", redirect_uri=REDIRECT,
                       website="https://tertulia.example", http_config=CONFIG)
    assert app.client_id and app.client_secret and app.scopes == "read write"
    registered = fake_mastodon.apps[app.client_id]
    assert registered["name"] == "Tertulia" and registered["redirect_uri"] == REDIRECT

    request = authorization_request(app)
    query = parse_qs(urlsplit(request.url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [request.state]
    assert query["scope"] == ["read write"] and query["response_type"] == ["code"]

    back = _consent(request.url)
    assert back["state"] == request.state  # the view must compare it with the session's
    credentials = exchange_code(app, back["code"], code_verifier=request.code_verifier, http_config=CONFIG)
    assert credentials.access_token and credentials.refresh_token == "" and credentials.expires_at is None

    with MastodonConnector(base_url=fake_mastodon.base_url, credentials=credentials, http_config=CONFIG) as c:
        assert c.fetch_profile().external_id == fake_mastodon.own["id"]
        assert c.needs_refresh() is False  # Mastodon tokens do not expire

    revoke(app, credentials.access_token, http_config=CONFIG)
    with MastodonConnector(base_url=fake_mastodon.base_url, credentials=credentials, http_config=CONFIG) as c:
        with pytest.raises(AuthExpired):
            c.fetch_profile()


def test_a_wrong_pkce_verifier_is_refused(fake_mastodon):
    app = register_app(fake_mastodon.base_url, client_name="Tertulia", redirect_uri=REDIRECT, http_config=CONFIG)
    request = authorization_request(app)
    back = _consent(request.url)
    with pytest.raises(Permanent) as info:
        exchange_code(app, back["code"], code_verifier="not-the-verifier", http_config=CONFIG)
    assert info.value.status == 400 and "invalid_grant" in info.value.detail


def test_a_code_works_once(fake_mastodon):
    app = register_app(fake_mastodon.base_url, client_name="Tertulia", redirect_uri=REDIRECT, http_config=CONFIG)
    request = authorization_request(app)
    back = _consent(request.url)
    exchange_code(app, back["code"], code_verifier=request.code_verifier, http_config=CONFIG)
    with pytest.raises(Permanent):
        exchange_code(app, back["code"], code_verifier=request.code_verifier, http_config=CONFIG)


def test_an_unknown_app_is_auth_expired(fake_mastodon):
    # The instance forgot our app (its admin deleted it): connecting must start again.
    app = register_app(fake_mastodon.base_url, client_name="Tertulia", redirect_uri=REDIRECT, http_config=CONFIG)
    del fake_mastodon.apps[app.client_id]
    with pytest.raises(AuthExpired) as info:
        exchange_code(app, "whatever", http_config=CONFIG)
    assert "invalid_client" in info.value.detail


def test_registration_needs_a_redirect_uri(fake_mastodon):
    with pytest.raises(Permanent) as info:
        register_app(fake_mastodon.base_url, client_name="Tertulia", redirect_uri="", http_config=CONFIG)
    assert "Redirect URI can't be blank" in info.value.detail


def test_a_server_that_is_not_mastodon(fake_mastodon):
    fake_mastodon.inject("POST /api/v1/apps", Fault.respond(200, {"hello": "I am a blog"}))
    with pytest.raises(Permanent) as info:
        register_app(fake_mastodon.base_url, client_name="Tertulia", redirect_uri=REDIRECT, http_config=CONFIG)
    assert "Mastodon" in str(info.value.user_message)


def test_refresh_is_not_offered():
    connector = MastodonConnector(base_url="https://mastodon.example", credentials=Credentials("t"))
    with pytest.raises(Permanent):
        connector.refresh_credentials()
    connector.close()


@pytest.mark.parametrize("typed, expected", [
    ("mastodon.social", "https://mastodon.social"),
    ("https://mastodon.social/", "https://mastodon.social"),
    ("  http://localhost:3000 ", "http://localhost:3000"),
])
def test_server_addresses_as_people_type_them(typed, expected):
    assert normalize_base_url(typed) == expected


def test_refresh_grant_rotates_tokens_and_invalid_grant_means_reconnect(fake_mastodon, mastodon_http_config):
    """Servers with Doorkeeper's refresh tokens (not stock Mastodon): the refresh grant renews
    the sign-in, an answer's refresh token replaces the old one, a dead one is AuthExpired."""
    from datetime import datetime, timedelta, timezone

    from tertulia.networks.base import Credentials, PostPayload
    from tertulia.networks.errors import AuthExpired
    from tertulia.networks.mastodon import MastodonConnector
    from tertulia.networks.mastodon import auth as mastodon_auth

    fake_mastodon.token_ttl = 7200
    client = mastodon_auth.register_app(fake_mastodon.base_url, client_name="Tertulia",
                                        redirect_uri="https://tertulia.example/cb", http_config=mastodon_http_config)
    import urllib.parse

    import httpx

    request = mastodon_auth.authorization_request(client)
    location = httpx.get(request.url, follow_redirects=False).headers["location"]
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    first = mastodon_auth.exchange_code(client, code, code_verifier=request.code_verifier,
                                        http_config=mastodon_http_config)
    assert first.refresh_token and first.expires_at > datetime.now(timezone.utc) + timedelta(hours=1)
    stored = []
    with MastodonConnector(base_url=fake_mastodon.base_url, credentials=first, http_config=mastodon_http_config,
                           oauth_client=client, credentials_listener=stored.append) as connector:
        assert connector.needs_refresh(timedelta(hours=3)) and not connector.needs_refresh(timedelta(minutes=5))
        fresh = connector.refresh_credentials()
        assert stored == [fresh] and connector.credentials == fresh
        assert fresh.access_token != first.access_token and fresh.refresh_token != first.refresh_token
        assert connector.publish(PostPayload(text="renovado")).external_id  # the new token works
    assert first.access_token in fake_mastodon.revoked  # the old access token was replaced
    with pytest.raises(AuthExpired):  # the spent refresh token is dead: reconnect
        mastodon_auth.refresh(client, first, http_config=mastodon_http_config)
    with pytest.raises(AuthExpired):
        mastodon_auth.refresh(client, Credentials(access_token="x"), http_config=mastodon_http_config)
