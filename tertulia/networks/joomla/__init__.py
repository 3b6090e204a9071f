"""Joomla connector: Joomla 4 and 5 sites through the Web Services API with an API token."""

from .connector import JoomlaConnector, intro_and_full, normalize_site_url, paragraphs, token_user_id

__all__ = ["JoomlaConnector", "intro_and_full", "normalize_site_url", "paragraphs", "token_user_id"]
