"""Text rules per network: how long a post is as each network counts it, what the network
allows, and the entities (links, mentions, hashtags) it recognises. Pure Python, no models.

    >>> from tertulia.content.text_rules import validate
    >>> result = validate("x", "Hello https://example.com/a-long-path")
    >>> result.length, result.limit, result.remaining, result.is_valid
    (29, 280, 251, True)

Every network module has `validate(text, **options) -> Result`; this module's `validate` picks
one by name. Options: X `config` (twitter-text version 1-3 or an `XConfig`); Mastodon `limit`,
`url_length`, `spoiler_text`; Telegram `caption`; all `has_media` (media-only posts are not empty).
"""

from __future__ import annotations

from . import bluesky, facebook, instagram, linkedin, mastodon, telegram, threads, x
from .base import Problem, Result

NETWORKS = {
    "x": x,
    "bluesky": bluesky,
    "mastodon": mastodon,
    "instagram": instagram,
    "linkedin": linkedin,
    "threads": threads,
    "telegram": telegram,
    "facebook": facebook,
}
ALIASES = {"twitter": "x"}


def validate(network: str, text: str, **options) -> Result:
    key = ALIASES.get(network.lower(), network.lower())
    try:
        module = NETWORKS[key]
    except KeyError:
        raise ValueError(f"unknown network {network!r}; known: {', '.join(NETWORKS)}") from None
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return module.validate(text, **options)


__all__ = ["NETWORKS", "Problem", "Result", "validate"]
