"""The web flow's network side: find or register Tertulia's app on an instance, and turn the
instance's answer into what ``services.do_connect_oauth_account`` keeps.

The views keep the session and the messages; this module talks to the instance, always through
``HttpClient`` (its SSRF guard refuses private addresses unless the configuration allows them).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ..base import Credentials, OAuthClient, Profile
from ..http import HttpConfig, publishing_http_config
from ..models import Network, OAuthApp
from .auth import DEFAULT_SCOPES, authorization_request, exchange_code, normalize_base_url, register_app
from .connector import MastodonConnector
from .limits import fetch_server_limits

MAX_SERVER_LENGTH = 200
CLIENT_NAME = "Tertulia"


http_config = publishing_http_config  # the deployment's connector settings


def clean_server(value: str) -> str:
    """``mastodon.social``, ``https://mastodon.social/`` or ``@me@mastodon.social`` -> the
    instance's base URL (scheme and host[:port] only). Raises ``ValidationError``."""
    value = (value or "").strip()
    if len(value) > MAX_SERVER_LENGTH:
        raise ValidationError(_("The server address is too long."))
    if value.startswith("@") and value.count("@") == 2:  # a full handle: keep its server
        value = value.rsplit("@", 1)[1]
    base = normalize_base_url(value)
    try:
        parts = urlsplit(base)
        port = parts.port
    except ValueError:
        raise ValidationError(_("Enter a server address such as mastodon.social.")) from None
    host = (parts.hostname or "").rstrip(".").lower()
    if (parts.scheme not in ("http", "https") or not host or parts.username or parts.password
            or parts.path not in ("", "/") or parts.query or parts.fragment or any(c.isspace() for c in value)):
        raise ValidationError(_("Enter a server address such as mastodon.social."))
    try:
        ipaddress.ip_address(host.strip("[]"))
        is_ip = True
    except ValueError:
        is_ip = False
    if not is_ip and ("." not in host and host != "localhost" or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() for label in host.split("."))):
        raise ValidationError(_("Enter a server address such as mastodon.social."))
    netloc = f"[{host.strip('[]')}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}"


def oauth_client(base_url: str, redirect_uri: str, *, config: HttpConfig | None = None) -> OAuthClient:
    """Tertulia's app on this instance: the stored one, or a new registration
    (``POST /api/v1/apps``) kept for every later account on the same instance."""
    app = OAuthApp.objects.filter(network=Network.MASTODON, base_url=base_url, redirect_uri=redirect_uri).first()
    if app is None:
        client = register_app(base_url, client_name=CLIENT_NAME, redirect_uri=redirect_uri, scopes=DEFAULT_SCOPES,
                              website=getattr(settings, "SITE_URL", ""), http_config=config or http_config())
        try:
            with transaction.atomic():
                app = OAuthApp.objects.create(network=Network.MASTODON, base_url=base_url, redirect_uri=redirect_uri,
                                              client_id=client.client_id, client_secret=client.client_secret,
                                              scopes=client.scopes)
        except IntegrityError:  # someone registered it at the same moment: use theirs
            app = OAuthApp.objects.get(network=Network.MASTODON, base_url=base_url, redirect_uri=redirect_uri)
    return OAuthClient(base_url=app.base_url, client_id=app.client_id, client_secret=app.client_secret,
                       redirect_uri=app.redirect_uri, scopes=app.scopes)


def start(base_url: str, redirect_uri: str, *, config: HttpConfig | None = None):
    """The consent page's URL and what the session must keep until the person comes back."""
    return authorization_request(oauth_client(base_url, redirect_uri, config=config))


@dataclass(frozen=True)
class Approved:
    credentials: Credentials
    profile: Profile
    server_limits: dict[str, Any]


def finish(base_url: str, redirect_uri: str, code: str, code_verifier: str, *,
           config: HttpConfig | None = None) -> Approved:
    """Exchange the code, learn whose account it is (verify_credentials) and read the
    instance's limits. Raises the connector errors (``errors.py``)."""
    config = config or http_config()
    app = OAuthApp.objects.filter(network=Network.MASTODON, base_url=base_url, redirect_uri=redirect_uri).first()
    if app is None:
        raise ValidationError(_("Tertulia is not registered on this server any more. Start again."))
    client = OAuthClient(base_url=app.base_url, client_id=app.client_id, client_secret=app.client_secret,
                         redirect_uri=app.redirect_uri, scopes=app.scopes)
    credentials = exchange_code(client, code, code_verifier=code_verifier, http_config=config)
    with MastodonConnector(base_url=base_url, credentials=credentials, http_config=config,
                           account_key=f"connect:{base_url}") as connector:
        profile = connector.fetch_profile()
    return Approved(credentials=credentials, profile=profile,
                    server_limits=fetch_server_limits(base_url, http_config=config))
