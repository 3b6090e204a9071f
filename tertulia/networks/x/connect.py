"""Signing an X account in: OAuth 2.0 Authorization Code with PKCE (docs.x.com,
fundamentals/authentication/oauth-2-0/authorization-code and user-access-token).

- consent page: ``{auth}/i/oauth2/authorize`` with ``response_type=code``, ``client_id``,
  ``redirect_uri``, ``scope``, ``state``, ``code_challenge`` (S256);
- token endpoint: ``{api}/2/oauth2/token``, form-encoded; Tertulia is a *confidential* client
  (it keeps a client secret), so it authenticates with HTTP Basic (client id : secret);
- access tokens last two hours; ``offline.access`` adds a refresh token, and every refresh
  returns a NEW refresh token and spends the old one (the caller must store it at once).

The network calls only; the views keep the session and the messages. Every call goes through
``HttpClient`` (timeouts, error mapping, SSRF guard).
"""

from __future__ import annotations

import base64
import secrets
from functools import partial

from django.utils.translation import gettext_lazy as _

from ..base import AuthorizationRequest, Credentials
from ..http import HttpClient, HttpConfig, publishing_http_config
from .. import oauth_flow

DEFAULT_AUTH = "https://x.com"
DEFAULT_API = "https://api.x.com"
# tweet.read/users.read: read posts and the profile; tweet.write: publish, reply, delete;
# media.write: upload images and videos; offline.access: a refresh token (else 2 hours);
# tweet.moderate.write: hide replies to the account's posts from the inbox.
SCOPES = "tweet.read tweet.write users.read media.write offline.access tweet.moderate.write"

MSG_CODE_REFUSED = _("X did not accept the sign-in code. Start again.")
MSG_APP_REFUSED = _("X did not accept Tertulia's X app credentials. Check X_CLIENT_ID and X_CLIENT_SECRET.")
MSG_REFRESH_REFUSED = _("X no longer accepts this account's sign-in. Reconnect the account.")
MSG_NO_TOKEN = _("X did not give Tertulia access to the account.")


http_config = publishing_http_config  # the deployment's connector settings


def auth_base() -> str:
    return oauth_flow.endpoint("x", "auth", DEFAULT_AUTH)


def api_base() -> str:
    return oauth_flow.endpoint("x", "api", DEFAULT_API)


def app() -> tuple[str, str]:
    return oauth_flow.app_credentials("x")


def authorization_request(client_id: str, redirect_uri: str, *, auth_url: str = "",
                          scopes: str = SCOPES) -> AuthorizationRequest:
    return oauth_flow.pkce_authorization(f"{(auth_url or auth_base()).rstrip('/')}/i/oauth2/authorize",
                                         client_id, redirect_uri, scopes)


def _token_call(api_url: str, client_id: str, client_secret: str, form: dict[str, str], *,
                http_config: HttpConfig | None, refreshing: bool) -> Credentials:
    headers = {}
    if client_secret:
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    form = {**form, "client_id": client_id}
    client = HttpClient(api_url, config=http_config, network="x", account_key=f"x-oauth:{client_id}")
    try:
        response = client.request("POST", "/2/oauth2/token", data=form, headers=headers, auth=False,
                                   bucket="POST /2/oauth2/token", accept={400, 401, 403})
    finally:
        client.close()
    return oauth_flow.token_answer(response, refreshing=refreshing, app_refused=MSG_APP_REFUSED,
                                   refresh_refused=MSG_REFRESH_REFUSED, code_refused=MSG_CODE_REFUSED)


def exchange_code(api_url: str, client_id: str, client_secret: str, code: str, code_verifier: str,
                  redirect_uri: str, *, http_config: HttpConfig | None = None) -> Credentials:
    return oauth_flow.exchange_code(partial(_token_call, api_url, client_id, client_secret, http_config=http_config),
                                    code, code_verifier, redirect_uri, no_token=MSG_NO_TOKEN)


def refresh_tokens(api_url: str, client_id: str, client_secret: str, current: Credentials, *,
                   http_config: HttpConfig | None = None) -> Credentials:
    """Renew with the refresh token; X rotates it (``oauth_flow.refresh_tokens``)."""
    return oauth_flow.refresh_tokens(partial(_token_call, api_url, client_id, client_secret,
                                             http_config=http_config), current)


Approved = oauth_flow.Approved


def start(redirect_uri: str) -> AuthorizationRequest:
    client_id, _secret = app()
    return authorization_request(client_id, redirect_uri)


def finish(code: str, code_verifier: str, redirect_uri: str, *, config: HttpConfig | None = None) -> Approved:
    """Exchange the code and learn whose account it is (``GET /2/users/me``). Raises the
    connector errors (``errors.py``)."""
    from .connector import XConnector

    config = config or http_config()
    client_id, client_secret = app()
    base = api_base()
    credentials = exchange_code(base, client_id, client_secret, code, code_verifier, redirect_uri,
                                http_config=config)
    with XConnector(base_url=base, credentials=credentials, http_config=config, client_id=client_id,
                    client_secret=client_secret, account_key=f"connect:x:{secrets.token_hex(4)}") as connector:
        profile = connector.fetch_profile()
    return Approved(credentials=credentials, profile=profile, base_url=base)
