"""Mastodon connector: any instance, and servers compatible with Mastodon's client API."""

from .auth import authorization_request, exchange_code, normalize_base_url, register_app, revoke
from .connector import MastodonConnector
from .html import html_to_text

__all__ = ["MastodonConnector", "authorization_request", "exchange_code", "html_to_text",
           "normalize_base_url", "register_app", "revoke"]
