"""The Threads sign-in's network side (developers.facebook.com/docs/threads/get-started):

1. the Authorization Window, ``{auth}/oauth/authorize?client_id&redirect_uri&scope&
   response_type=code&state`` (Threads documents no PKCE; ``state`` guards the callback);
2. the code for a short-lived token (one hour): ``POST {api}/oauth/access_token`` with the
   app's id and secret, ``grant_type=authorization_code``, the same ``redirect_uri`` and the code;
3. that token for a long-lived one (60 days): ``GET {api}/access_token?grant_type=
   th_exchange_token&client_secret&access_token`` (server side only, as Meta requires);
4. whose account it is: ``GET /me`` (``ThreadsConnector.fetch_profile``).

Threads has its own app id and secret (the "Threads app ID" of a Meta app with the Threads use
case), so its settings are ``NETWORK_APPS["threads"]``, apart from Facebook's. The secret and
the tokens only ever travel server to server, in requests whose URLs our logs redact.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from django.utils.translation import gettext_lazy as _

from .. import oauth_flow
from ..base import AuthorizationRequest, Credentials, Profile
from ..errors import AuthExpired, Permanent, Retryable
from ..http import HttpClient, HttpConfig, MSG_MALFORMED, error_for_status, publishing_http_config
from ..meta.graph import THREADS_AUTH_URL, THREADS_BASE_URL, error_for_graph, graph_error
from .connector import ThreadsConnector, credentials_from

NETWORK = "threads"
# threads_basic: every endpoint (profile, posts); threads_content_publish: posting;
# threads_manage_replies: answering (and first comments); threads_read_replies: the replies to
# our posts for the inbox; threads_manage_insights: views, likes, followers; threads_delete:
# deleting a post from Tertulia; threads_manage_mentions: posts that tag the account.
SCOPES = ("threads_basic", "threads_content_publish", "threads_manage_replies", "threads_read_replies",
          "threads_manage_insights", "threads_delete", "threads_manage_mentions")
MSG_NOT_CONFIGURED = _("This server has no Threads app configured. Set THREADS_APP_ID and THREADS_APP_SECRET.")


http_config = publishing_http_config  # the deployment's connector settings


def app() -> tuple[str, str]:
    """The operator's Threads app (id, secret), or ``Permanent`` when it is not configured."""
    conf = oauth_flow.app_settings(NETWORK)
    client_id, secret = str(conf.get("client_id") or ""), str(conf.get("client_secret") or "")
    if not client_id or not secret:
        raise Permanent(MSG_NOT_CONFIGURED, detail="NETWORK_APPS['threads'] is empty")
    return client_id, secret


def is_configured() -> bool:
    try:
        app()
    except Permanent:
        return False
    return True


def api_url() -> str:
    return oauth_flow.endpoint(NETWORK, "api", THREADS_BASE_URL)


def authorization_request(redirect_uri: str) -> AuthorizationRequest:
    client_id, _secret = app()
    state = secrets.token_urlsafe(32)
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "scope": ",".join(SCOPES),
                       "response_type": "code", "state": state})
    auth = oauth_flow.endpoint(NETWORK, "auth", THREADS_AUTH_URL)
    return AuthorizationRequest(url=f"{auth}/oauth/authorize?{query}", state=state, code_verifier="")


@dataclass(frozen=True)
class Approved:
    credentials: Credentials
    profile: Profile
    base_url: str


def _answer(client: HttpClient, method: str, path: str, **kw) -> dict:
    response = client.request(method, path, auth=False, accept=(400, 401, 403, 404, 429, 500, 503), **kw)
    if response.status >= 400 or graph_error(response.data):
        error = (error_for_graph(method, response.status, response.data, response.headers)
                 or error_for_status(method, response.status, response.headers, response.data, response.text))
        if error is not None:
            raise error
    if not isinstance(response.data, dict):
        raise Retryable(MSG_MALFORMED, detail="token answer is not an object")
    return response.data


def finish(code: str, redirect_uri: str, *, config: HttpConfig | None = None) -> Approved:
    """Code -> short-lived token -> long-lived token -> profile. Raises the connector errors."""
    client_id, secret = app()
    config = config or http_config()
    base = api_url()
    client = HttpClient(base, config=config, account_key="threads:connect", network=NETWORK)
    try:
        short = _answer(client, "POST", "/oauth/access_token",
                        data={"client_id": client_id, "client_secret": secret, "grant_type": "authorization_code",
                              "redirect_uri": redirect_uri, "code": code})
        short_token = short.get("access_token") if isinstance(short.get("access_token"), str) else ""
        if not short_token:
            raise Retryable(MSG_MALFORMED, detail="code exchange without access_token")
        long = _answer(client, "GET", "/access_token",
                       params={"grant_type": "th_exchange_token", "client_secret": secret,
                               "access_token": short_token})
    finally:
        client.close()
    credentials = credentials_from(long)
    # Meta always says how long; without it, the documented 60 days.
    expires_at = credentials.expires_at or datetime.now(timezone.utc) + timedelta(days=60)
    credentials = Credentials(access_token=credentials.access_token, refresh_token=credentials.refresh_token,
                              expires_at=expires_at, scope=",".join(SCOPES))
    user_id = str(short.get("user_id") or "")
    with ThreadsConnector(base_url=base, credentials=credentials, http_config=config,
                          account_key=f"threads:connect:{user_id}") as connector:
        profile = connector.fetch_profile()
    if user_id and profile.external_id != user_id:
        raise AuthExpired(_("Threads answered for a different account than the one that signed in. Start again."),
                          detail=f"token user {user_id} != /me {profile.external_id}")
    return Approved(credentials=credentials, profile=profile, base_url=base)
