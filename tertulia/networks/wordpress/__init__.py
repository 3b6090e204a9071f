"""WordPress connector: blogs through the REST API with application passwords."""

from .connector import WordPressConnector, hashtags, normalize_site_url, text_to_html, title_and_body

__all__ = ["WordPressConnector", "hashtags", "normalize_site_url", "text_to_html", "title_and_body"]
