"""Signing a YouTube channel in: Google's OAuth 2.0 for web server apps, with PKCE (S256) and
offline access (developers.google.com/identity/protocols/oauth2/web-server).

- consent page: ``{auth}/o/oauth2/v2/auth`` with ``response_type=code``, ``client_id``,
  ``redirect_uri``, ``scope``, ``state``, ``code_challenge``, ``access_type=offline`` (a refresh
  token) and ``prompt=consent`` (Google sends the refresh token only on a consent screen);
- token endpoint: ``{token}/token``, form-encoded, with the client id and secret in the form;
- access tokens last an hour; the refresh token is not rotated (an answer without one keeps
  the stored one). A revoked or expired refresh token answers ``400 invalid_grant``: the
  account needs reconnecting. (Apps still in Google's "testing" publishing status get refresh
  tokens that expire after seven days.)

The network calls only; the views keep the session and the messages.
"""

from __future__ import annotations

import secrets
from functools import partial

from django.utils.translation import gettext_lazy as _

from .. import oauth_flow
from ..base import AuthorizationRequest, Credentials
from ..errors import Permanent
from ..http import HttpClient, HttpConfig, publishing_http_config

DEFAULT_AUTH = "https://accounts.google.com"
DEFAULT_TOKEN = "https://oauth2.googleapis.com"  # nosec B105 # not a password: an empty value, a URL or a regex
DEFAULT_API = "https://www.googleapis.com"
# youtube.upload: videos.insert and thumbnails.set; youtube.force-ssl: read the channel,
# comments and statistics, reply to comments, delete videos.
SCOPES = "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.force-ssl"

MSG_CODE_REFUSED = _("Google did not accept the sign-in code. Start again.")
MSG_APP_REFUSED = _("Google did not accept Tertulia's Google app credentials. Check YOUTUBE_CLIENT_ID and "
                    "YOUTUBE_CLIENT_SECRET.")
MSG_REFRESH_REFUSED = _("Google no longer accepts this YouTube channel's sign-in (it was revoked, or it expired). "
                        "Reconnect the account.")
MSG_NO_TOKEN = _("Google did not give Tertulia access to the YouTube channel.")


http_config = publishing_http_config  # the deployment's connector settings


def auth_base() -> str:
    return oauth_flow.endpoint("youtube", "auth", DEFAULT_AUTH)


def token_base() -> str:
    return oauth_flow.endpoint("youtube", "token", DEFAULT_TOKEN)


def api_base() -> str:
    return oauth_flow.endpoint("youtube", "api", DEFAULT_API)


def app() -> tuple[str, str]:
    return oauth_flow.app_credentials("youtube")


def authorization_request(client_id: str, redirect_uri: str, *, auth_url: str = "",
                          scopes: str = SCOPES) -> AuthorizationRequest:
    return oauth_flow.pkce_authorization(f"{(auth_url or auth_base()).rstrip('/')}/o/oauth2/v2/auth",
                                         client_id, redirect_uri, scopes, access_type="offline",
                                         prompt="consent", include_granted_scopes="true")


def _token_call(token_url: str, client_id: str, client_secret: str, form: dict[str, str], *,
                http_config: HttpConfig | None, refreshing: bool) -> Credentials:
    form = {**form, "client_id": client_id, "client_secret": client_secret}
    client = HttpClient(token_url, config=http_config, network="youtube", account_key=f"youtube-oauth:{client_id}")
    try:
        response = client.request("POST", "/token", data=form, auth=False, bucket="POST /token",
                                  accept={400, 401, 403})
    finally:
        client.close()
    return oauth_flow.token_answer(response, refreshing=refreshing, app_refused=MSG_APP_REFUSED,
                                   refresh_refused=MSG_REFRESH_REFUSED, code_refused=MSG_CODE_REFUSED)


def exchange_code(token_url: str, client_id: str, client_secret: str, code: str, code_verifier: str,
                  redirect_uri: str, *, http_config: HttpConfig | None = None) -> Credentials:
    return oauth_flow.exchange_code(partial(_token_call, token_url, client_id, client_secret, http_config=http_config),
                                    code, code_verifier, redirect_uri, no_token=MSG_NO_TOKEN)


def refresh_tokens(token_url: str, client_id: str, client_secret: str, current: Credentials, *,
                   http_config: HttpConfig | None = None) -> Credentials:
    """Renew with the refresh token; Google normally sends no new one, so the stored one stays."""
    return oauth_flow.refresh_tokens(partial(_token_call, token_url, client_id, client_secret,
                                             http_config=http_config), current)


Approved = oauth_flow.Approved


def start(redirect_uri: str) -> AuthorizationRequest:
    client_id, _secret = app()
    return authorization_request(client_id, redirect_uri)


def finish(code: str, code_verifier: str, redirect_uri: str, *, config: HttpConfig | None = None) -> Approved:
    """Exchange the code and read which channel it is (``channels.list mine=true``)."""
    from .connector import YouTubeConnector
    from .quota import DatabaseLedger

    config = config or http_config()
    client_id, client_secret = app()
    credentials = exchange_code(token_base(), client_id, client_secret, code, code_verifier, redirect_uri,
                                http_config=config)
    if not credentials.refresh_token:
        # Without offline access the channel would need reconnecting every hour.
        raise Permanent(MSG_NO_TOKEN, detail="no refresh_token in the code exchange")
    base = api_base()
    with YouTubeConnector(base_url=base, credentials=credentials, http_config=config, client_id=client_id,
                          client_secret=client_secret, token_url=token_base(), quota=DatabaseLedger(),
                          account_key=f"connect:youtube:{secrets.token_hex(4)}") as connector:
        profile = connector.fetch_profile()
    return Approved(credentials=credentials, profile=profile, base_url=base)
