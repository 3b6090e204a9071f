"""Network name -> connector class.

Entries are import paths, so that importing the registry never imports every network's
package (and a broken optional dependency in one network cannot break the others).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from .errors import Unsupported

if TYPE_CHECKING:
    from .base import Connector

# Keys are ``Network`` values (models.py), as plain strings so that the registry and the
# connectors import without Django's app registry (benchmarks, the fakes).
_CONNECTORS: dict[str, str] = {
    "mastodon": "tertulia.networks.mastodon.connector.MastodonConnector",
    "bluesky": "tertulia.networks.bluesky.connector.BlueskyConnector",
    "telegram": "tertulia.networks.telegram.connector.TelegramConnector",
    "wordpress": "tertulia.networks.wordpress.connector.WordPressConnector",
    "joomla": "tertulia.networks.joomla.connector.JoomlaConnector",
    "facebook": "tertulia.networks.facebook.connector.FacebookConnector",
    "instagram": "tertulia.networks.instagram.connector.InstagramConnector",
    "threads": "tertulia.networks.threads.connector.ThreadsConnector",
    "linkedin": "tertulia.networks.linkedin.connector.LinkedInConnector",
    "x": "tertulia.networks.x.connector.XConnector",
    "youtube": "tertulia.networks.youtube.connector.YouTubeConnector",
    "whatsapp": "tertulia.networks.whatsapp.connector.WhatsAppConnector",
}


def register(network: str, target: str | type) -> None:
    """Add or replace a network's connector (an import path or the class itself)."""
    if isinstance(target, type):
        target = f"{target.__module__}.{target.__qualname__}"
    _CONNECTORS[str(network)] = target


def available() -> list[str]:
    return sorted(_CONNECTORS)


def is_available(network: str) -> bool:
    return str(network) in _CONNECTORS


def connector_class(network: str) -> type[Connector]:
    path = _CONNECTORS.get(str(network))
    if path is None:
        raise Unsupported(_("Tertulia cannot connect to this network yet."), detail=f"network {network!r}")
    module_name, _sep, class_name = path.rpartition(".")
    return getattr(import_module(module_name), class_name)


def connector_for(account, **kwargs) -> Connector:
    """A connector for a ``SocialAccount`` row."""
    return connector_class(account.network).for_account(account, **kwargs)
