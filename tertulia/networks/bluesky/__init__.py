"""Bluesky connector: AT Protocol XRPC against any PDS (bsky.social or self-hosted)."""

from .auth import Session, jwt_expiry, normalize_base_url, session_from
from .connector import BlueskyConnector, LinkCard, parse_at_uri, tid_for_marker

__all__ = ["BlueskyConnector", "LinkCard", "Session", "jwt_expiry", "normalize_base_url", "parse_at_uri",
           "session_from", "tid_for_marker"]
