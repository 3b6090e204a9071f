"""Facebook connector: a Page through the Graph API (posts, photos, comments, insights)."""

from .connector import FacebookConnector

__all__ = ["FacebookConnector"]
