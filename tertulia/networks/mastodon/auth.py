"""Connecting a Mastodon account: one OAuth app per instance, then the authorization-code flow.

1. ``register_app`` (``POST /api/v1/apps``) once per instance; keep the client id and secret
   (encrypted) and reuse them for every account on that instance.
2. ``authorization_request`` gives the URL of the instance's consent page, with ``state`` and a
   PKCE challenge (Mastodon 4.3+ checks it; older servers ignore it). Keep ``state`` and
   ``code_verifier`` in the person's session.
3. The instance sends the person back to ``redirect_uri?code=…&state=…``; check ``state``, then
   ``exchange_code`` (``POST /oauth/token``) gives the access token.
4. ``MastodonConnector.fetch_profile`` (verify_credentials) tells whose token it is.

Mastodon tokens do not expire and there is no refresh token: a revoked token shows up as
``AuthExpired`` (401) and the account must be reconnected.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from urllib.parse import urlencode

from django.utils.translation import gettext_lazy as _

from ..base import AuthorizationRequest, Credentials, OAuthClient, pkce_pair
from ..errors import AuthExpired, Permanent
from ..http import HttpClient, HttpConfig

DEFAULT_SCOPES = "read write"
MSG_NO_REFRESH = _("The server no longer accepts this account's sign-in and cannot renew it. Reconnect the account.")
OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"


def normalize_base_url(value: str) -> str:
    """``mastodon.social`` or ``https://mastodon.social/`` -> ``https://mastodon.social``."""
    value = (value or "").strip().rstrip("/")
    if value and "://" not in value:
        value = "https://" + value
    return value


def _shape(data) -> str:
    """What an unexpected answer looked like, for the log: its keys, never its values (it may
    carry a token or a client secret)."""
    return f"keys={sorted(map(str, data))[:20]}" if isinstance(data, dict) else f"type={type(data).__name__}"


def _client(base_url: str, http_config: HttpConfig | None) -> HttpClient:
    return HttpClient(normalize_base_url(base_url), config=http_config, account_key=f"app:{base_url}",
                      network="mastodon")


def register_app(base_url: str, *, client_name: str, redirect_uri: str, scopes: str = DEFAULT_SCOPES,
                 website: str = "", http_config: HttpConfig | None = None) -> OAuthClient:
    http = _client(base_url, http_config)
    try:
        body = {"client_name": client_name, "redirect_uris": redirect_uri, "scopes": scopes}
        if website:
            body["website"] = website
        data = http.post("/api/v1/apps", json_body=body, auth=False).data
    finally:
        http.close()
    if not isinstance(data, dict) or not data.get("client_id") or not data.get("client_secret"):
        raise Permanent(_("The server did not register Tertulia as an app. Is it a Mastodon server?"),
                        detail=_shape(data))
    return OAuthClient(base_url=normalize_base_url(base_url), client_id=str(data["client_id"]),
                       client_secret=str(data["client_secret"]), redirect_uri=redirect_uri, scopes=scopes)


def authorization_request(client: OAuthClient, *, state: str | None = None,
                          force_login: bool = False) -> AuthorizationRequest:
    state = state or secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair()
    query = {"response_type": "code", "client_id": client.client_id, "redirect_uri": client.redirect_uri,
             "scope": client.scopes, "state": state, "code_challenge": challenge,
             "code_challenge_method": "S256"}
    if force_login:
        query["force_login"] = "true"
    return AuthorizationRequest(url=f"{client.base_url}/oauth/authorize?{urlencode(query)}", state=state,
                                code_verifier=verifier)


def exchange_code(client: OAuthClient, code: str, *, code_verifier: str = "",
                  http_config: HttpConfig | None = None) -> Credentials:
    http = _client(client.base_url, http_config)
    form = {"grant_type": "authorization_code", "code": code, "client_id": client.client_id,
            "client_secret": client.client_secret, "redirect_uri": client.redirect_uri,
            "scope": client.scopes}
    if code_verifier:
        form["code_verifier"] = code_verifier
    try:
        data = http.post("/oauth/token", data=form, auth=False, bucket="POST /oauth/token").data
    finally:
        http.close()
    if not isinstance(data, dict) or not data.get("access_token"):
        raise Permanent(_("The server did not give Tertulia access to the account. Try connecting again."),
                        detail=_shape(data))
    expires_at = None
    if isinstance(data.get("expires_in"), (int, float)) and data["expires_in"] > 0:
        created = data.get("created_at") or datetime.now(timezone.utc).timestamp()
        expires_at = datetime.fromtimestamp(float(created) + float(data["expires_in"]), timezone.utc)
    return Credentials(access_token=str(data["access_token"]), refresh_token=str(data.get("refresh_token") or ""),
                       expires_at=expires_at, scope=str(data.get("scope") or client.scopes),
                       token_type=str(data.get("token_type") or "Bearer"))


def refresh(client: OAuthClient, credentials: Credentials, *,
            http_config: HttpConfig | None = None) -> Credentials:
    """The OAuth refresh grant (RFC 6749 §6), for servers that issue refresh tokens (Doorkeeper
    with ``use_refresh_token``; stock Mastodon does not, and its tokens do not expire). An
    answer without a new refresh token keeps the old one. ``invalid_grant`` (400) means the
    refresh token is dead: ``AuthExpired``, the account must be reconnected."""
    if not credentials.refresh_token:
        raise AuthExpired(MSG_NO_REFRESH)
    http = _client(client.base_url, http_config)
    form = {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token,
            "client_id": client.client_id, "client_secret": client.client_secret}
    try:
        data = http.post("/oauth/token", data=form, auth=False, bucket="POST /oauth/token").data
    except Permanent as exc:
        if exc.status in (400, 401):  # invalid_grant / invalid_client
            raise AuthExpired(MSG_NO_REFRESH, detail=exc.detail, status=exc.status) from None
        raise
    finally:
        http.close()
    if not isinstance(data, dict) or not data.get("access_token"):
        raise Permanent(_("The server did not give Tertulia access to the account. Try connecting again."),
                        detail=_shape(data))
    fresh = _credentials(data, credentials.scope or client.scopes)
    if not fresh.refresh_token:
        fresh = Credentials(access_token=fresh.access_token, refresh_token=credentials.refresh_token,
                            expires_at=fresh.expires_at, scope=fresh.scope, token_type=fresh.token_type)
    return fresh


def _credentials(data: dict, default_scope: str) -> Credentials:
    expires_at = None
    if isinstance(data.get("expires_in"), (int, float)) and data["expires_in"] > 0:
        created = data.get("created_at") or datetime.now(timezone.utc).timestamp()
        expires_at = datetime.fromtimestamp(float(created) + float(data["expires_in"]), timezone.utc)
    return Credentials(access_token=str(data["access_token"]), refresh_token=str(data.get("refresh_token") or ""),
                       expires_at=expires_at, scope=str(data.get("scope") or default_scope),
                       token_type=str(data.get("token_type") or "Bearer"))


def revoke(client: OAuthClient, token: str, *, http_config: HttpConfig | None = None) -> None:
    http = _client(client.base_url, http_config)
    try:
        http.post("/oauth/revoke", data={"client_id": client.client_id, "client_secret": client.client_secret,
                                         "token": token}, auth=False, expect_json=False)
    finally:
        http.close()
