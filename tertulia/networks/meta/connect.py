"""The Meta sign-in's network side (Facebook Login, developers.facebook.com/docs/facebook-login/
guides/advanced/manual-flow): one consent for the Pages a person manages and the Instagram
professional accounts linked to them.

1. ``authorization_request``: the Login dialog ``{auth}/{GRAPH_VERSION}/dialog/oauth`` with
   ``client_id``, ``redirect_uri``, ``state`` and the scopes below.
2. ``finish``: the code becomes a short-lived user token (``/oauth/access_token``), then a
   long-lived one (``grant_type=fb_exchange_token``, about 60 days), and with it the Pages
   (``/me/accounts``). A Page token obtained with a long-lived user token has no expiry, so the
   accounts we keep never need a refresh; the user token itself is not kept.
3. The person chooses which Pages and Instagram accounts to connect (views.py) and
   ``services.do_connect_meta_accounts`` stores them.

Everything here goes through ``HttpClient`` (timeouts, SSRF guard, error mapping) via a
``FacebookConnector`` with the token in the ``Authorization`` header; the app secret travels
only in the server-to-server token exchange.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.utils.translation import gettext_lazy as _

from .. import oauth_flow
from ..base import AuthorizationRequest, Credentials
from ..errors import Permanent
from ..http import HttpConfig, clean_text, publishing_http_config, safe_url
from .graph import FACEBOOK_AUTH_URL, GRAPH_BASE_URL, GRAPH_VERSION

# What Tertulia asks for, and why (developers.facebook.com/docs/permissions):
SCOPES = (
    "pages_show_list",  # list the Pages the person manages (/me/accounts)
    "pages_read_engagement",  # read the Page's posts, comments, followers
    "pages_manage_posts",  # publish and delete the Page's posts
    "pages_manage_engagement",  # answer comments as the Page
    "pages_read_user_content",  # read what visitors write on the Page (comments with their authors)
    "pages_manage_metadata",  # subscribe the Page to the app's webhooks (comments in real time)
    "read_insights",  # Page and post insights
    "business_management",  # Pages owned through a Business portfolio
    "instagram_basic",  # the linked Instagram professional account and its media
    "instagram_content_publish",  # publish to Instagram
    "instagram_manage_comments",  # read and answer Instagram comments and mentions
    "instagram_manage_insights",  # Instagram insights
)
MAX_PAGES = 200
PUBLISH_TASK = "CREATE_CONTENT"

# httpx logs every URL at INFO, and Meta's token endpoint takes the code, the app secret and the
# short-lived token in the query string (as documented): redact them before any handler sees them.
_SECRET_IN_URL = re.compile(r"((?:access_token|client_secret|code|fb_exchange_token)=)[^&\s'\"]+")


class RedactMetaSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        if "=" in message and _SECRET_IN_URL.search(message):
            record.msg, record.args = _SECRET_IN_URL.sub(r"\1<redacted>", message), ()
        return True


for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, RedactMetaSecrets) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(RedactMetaSecrets())

MSG_NO_APP = _("The Meta app is not configured.")
MSG_NO_TOKEN = _("Meta did not give Tertulia access. Try again, and approve every permission asked.")


http_config = publishing_http_config  # the deployment's connector settings


def api_base() -> str:
    return oauth_flow.endpoint("facebook", "api", GRAPH_BASE_URL)


def app() -> tuple[str, str]:
    meta = oauth_flow.app_settings("meta")
    return str(meta.get("client_id") or ""), str(meta.get("client_secret") or "")


def is_configured() -> bool:
    client_id, secret = app()
    return bool(client_id and secret)


def authorization_request(redirect_uri: str) -> AuthorizationRequest:
    client_id, _secret = app()
    state = secrets.token_urlsafe(32)
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state,
                       "response_type": "code", "scope": ",".join(SCOPES),
                       # Ask again for permissions declined the last time (reconnecting).
                       "auth_type": "rerequest"})
    auth = oauth_flow.endpoint("facebook", "auth", FACEBOOK_AUTH_URL)
    return AuthorizationRequest(url=f"{auth}/{GRAPH_VERSION}/dialog/oauth?{query}", state=state, code_verifier="")


@dataclass(frozen=True)
class InstagramChoice:
    id: str
    username: str
    name: str = ""
    followers: int | None = None
    avatar_url: str = ""


@dataclass(frozen=True)
class PageChoice:
    id: str
    name: str
    username: str
    token: str  # the Page's long-lived token: server side only
    tasks: tuple[str, ...] = ()
    instagram: InstagramChoice | None = None

    @property
    def can_publish(self) -> bool:
        return PUBLISH_TASK in self.tasks or "MANAGE" in self.tasks


@dataclass(frozen=True)
class Approved:
    pages: list[PageChoice] = field(default_factory=list)


def _connector(token: str = "", config: HttpConfig | None = None):  # nosec B107 # not a password: an empty default
    from ..facebook.connector import FacebookConnector

    return FacebookConnector(base_url=api_base(), credentials=Credentials(access_token=token),
                             http_config=config or http_config(), account_key="connect:meta")


def _token(data: dict) -> str:
    token = data.get("access_token")
    if not isinstance(token, str) or not token or len(token) > 2000:
        raise Permanent(MSG_NO_TOKEN, detail="no access_token in the answer")
    return token


def exchange_code(code: str, redirect_uri: str, *, config: HttpConfig | None = None) -> str:
    """The code -> a short-lived user token -> a long-lived user token."""
    client_id, secret = app()
    if not (client_id and secret):
        raise Permanent(MSG_NO_APP)
    with _connector(config=config) as graph:
        short = _token(graph._get("oauth/access_token", client_id=client_id, client_secret=secret,
                                  redirect_uri=redirect_uri, code=code))
        return _token(graph._get("oauth/access_token", grant_type="fb_exchange_token", client_id=client_id,
                                 client_secret=secret, fb_exchange_token=short))


ACCOUNT_FIELDS = ("id,name,username,access_token,tasks,"
                  "instagram_business_account{id,username,name,profile_picture_url,followers_count}")


def _as_int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def list_pages(user_token: str, *, config: HttpConfig | None = None) -> list[PageChoice]:
    """The Pages the person can act on, each with its Page token and linked Instagram account."""
    from ..facebook.connector import _OBJECT_ID

    pages: list[PageChoice] = []
    with _connector(user_token, config) as graph:
        for row in graph._pages("me/accounts", params={"fields": ACCOUNT_FIELDS, "limit": 100}, max_pages=5):
            page_id = str(row.get("id") or "")
            token = row.get("access_token")
            if not _OBJECT_ID.match(page_id) or "_" in page_id or not isinstance(token, str) or not token:
                continue
            tasks = tuple(clean_text(str(t), 40) for t in row.get("tasks") or [] if isinstance(t, str))[:20]
            ig = row.get("instagram_business_account") if isinstance(row.get("instagram_business_account"), dict) else {}
            instagram = None
            ig_id = str(ig.get("id") or "")
            if _OBJECT_ID.match(ig_id) and "_" not in ig_id:
                instagram = InstagramChoice(id=ig_id, username=clean_text(str(ig.get("username") or ""), 100) or ig_id,
                                            name=clean_text(str(ig.get("name") or ""), 200),
                                            followers=_as_int(ig.get("followers_count")),
                                            avatar_url=safe_url(ig.get("profile_picture_url")))
            pages.append(PageChoice(id=page_id, name=clean_text(str(row.get("name") or ""), 200) or page_id,
                                    username=clean_text(str(row.get("username") or ""), 100),
                                    token=token[:2000], tasks=tasks, instagram=instagram))
            if len(pages) >= MAX_PAGES:
                break
    return pages


def finish(code: str, redirect_uri: str, *, config: HttpConfig | None = None) -> Approved:
    config = config or http_config()
    user_token = exchange_code(code, redirect_uri, config=config)
    return Approved(pages=list_pages(user_token, config=config))


WEBHOOK_FIELDS = "feed"


def webhooks_enabled() -> bool:
    return bool(oauth_flow.app_settings("meta").get("webhook_verify_token"))


def subscribe_webhooks(pages: list[PageChoice], *, config: HttpConfig | None = None) -> list[PageChoice]:
    """Subscribe each Page to the app's webhooks (``POST /{page-id}/subscribed_apps`` with
    ``subscribed_fields=feed``, Page token): without it Meta sends no comment notifications for
    the Page or its Instagram account. Returns the Pages Meta refused (they are still polled)."""
    from ..errors import ConnectorError

    refused = []
    for page in pages:
        with _connector(page.token, config) as graph:
            try:
                answer = graph._call("POST", f"{page.id}/subscribed_apps",
                                     data={"subscribed_fields": WEBHOOK_FIELDS}).data
            except ConnectorError as err:
                logging.getLogger(__name__).info("meta: page %s not subscribed: %s", page.id, err.log_line())
                refused.append(page)
                continue
            if not (isinstance(answer, dict) and answer.get("success") is True):
                refused.append(page)
    return refused
