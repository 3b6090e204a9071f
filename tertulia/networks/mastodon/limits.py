"""A Mastodon instance's own limits, as stored on ``SocialAccount.server_limits``.

``GET /api/v2/instance`` (Mastodon 4.0+; ``/api/v1/instance`` on older servers and on
Pleroma/Akkoma, which say ``max_toot_chars``) tells how many characters a post may have, how
many a link counts as, and the media rules. We keep a small, checked copy on the account,
refreshed on connect, on reconnect and on demand; the composer and the publish checks read it
through ``text_options`` and ``strictest``. An account without a stored copy keeps Mastodon's
defaults (500 characters, links as 23).

Every value comes from a server a user named, so each one is checked (an int within sane
bounds) before it is stored and again before it is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..http import HttpClient, HttpConfig
from .auth import normalize_base_url

DEFAULT_MAX_CHARACTERS = 500
DEFAULT_URL_LENGTH = 23
# Bounds for what a server may claim: beyond them the value is ignored (default kept).
BOUNDS = {
    "max_characters": (1, 1_000_000),
    "characters_reserved_per_url": (1, 10_000),
    "max_media_attachments": (0, 100),
    "image_size_limit": (1, 10 * 1024 ** 3),
    "image_matrix_limit": (1, 10 ** 9),
    "video_size_limit": (1, 100 * 1024 ** 3),
    "description_limit": (1, 100_000),
}
MAX_MIME_TYPES = 100


def _int(value: Any, key: str) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    low, high = BOUNDS[key]
    return number if low <= number <= high else None


def parse_instance(data: Mapping[str, Any]) -> dict[str, Any]:
    """The limits we keep, from an instance document (API v2 or v1). Unknown or absurd values
    are left out, so the defaults apply to them."""
    if not isinstance(data, Mapping):
        return {}
    config = data.get("configuration") if isinstance(data.get("configuration"), Mapping) else {}
    statuses = config.get("statuses") if isinstance(config.get("statuses"), Mapping) else {}
    media = config.get("media_attachments") if isinstance(config.get("media_attachments"), Mapping) else {}
    out: dict[str, Any] = {}
    values = {
        "max_characters": _int(statuses.get("max_characters"), "max_characters")
        or _int(data.get("max_toot_chars"), "max_characters"),
        "characters_reserved_per_url": _int(statuses.get("characters_reserved_per_url"),
                                            "characters_reserved_per_url"),
        "max_media_attachments": _int(statuses.get("max_media_attachments"), "max_media_attachments"),
        "image_size_limit": _int(media.get("image_size_limit"), "image_size_limit"),
        "image_matrix_limit": _int(media.get("image_matrix_limit"), "image_matrix_limit"),
        "video_size_limit": _int(media.get("video_size_limit"), "video_size_limit"),
        "description_limit": _int(media.get("description_limit"), "description_limit"),
    }
    out.update({k: v for k, v in values.items() if v is not None})
    types = media.get("supported_mime_types")
    if isinstance(types, list):
        out["supported_mime_types"] = sorted({str(t)[:100] for t in types if isinstance(t, str) and "/" in t}
                                             )[:MAX_MIME_TYPES]
    return out


def fetch_server_limits(base_url: str, *, http_config: HttpConfig | None = None) -> dict[str, Any]:
    """Read the instance's limits (public endpoints, no token sent). Raises the connector
    errors of ``http.py`` (``Permanent`` for a refused private address, ``Retryable``…)."""
    base = normalize_base_url(base_url)
    http = HttpClient(base, config=http_config, account_key=f"instance:{base}", network="mastodon")
    try:
        response = http.get("/api/v2/instance", auth=False, accept={404}, bucket="GET /api/v2/instance")
        if response.status == 404:
            response = http.get("/api/v1/instance", auth=False, bucket="GET /api/v1/instance")
    finally:
        http.close()
    return parse_instance(response.data if isinstance(response.data, Mapping) else {})


def text_options(account) -> dict[str, int]:
    """``text_rules.validate("mastodon", …)`` options for one account: its instance's limit and
    link length, or Mastodon's defaults when nothing (or nothing sane) is stored."""
    stored = getattr(account, "server_limits", None)
    stored = stored if isinstance(stored, Mapping) else {}
    limit = _int(stored.get("max_characters"), "max_characters") or DEFAULT_MAX_CHARACTERS
    url_length = _int(stored.get("characters_reserved_per_url"), "characters_reserved_per_url") or DEFAULT_URL_LENGTH
    return {"limit": limit, "url_length": url_length}


def strictest(accounts: Iterable) -> tuple[dict[str, int], Any, bool]:
    """For a post going to several Mastodon accounts: the options of the account with the lowest
    limit (a longer link length breaks ties), that account, and whether the chosen accounts'
    limits differ (so a message should name the account). No accounts: the defaults."""
    best, best_account, seen = None, None, set()
    for account in accounts:
        options = text_options(account)
        seen.add((options["limit"], options["url_length"]))
        key = (options["limit"], -options["url_length"])
        if best is None or key < (best["limit"], -best["url_length"]):
            best, best_account = options, account
    if best is None:
        return {"limit": DEFAULT_MAX_CHARACTERS, "url_length": DEFAULT_URL_LENGTH}, None, False
    return best, best_account, len(seen) > 1
