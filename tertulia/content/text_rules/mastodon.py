"""Mastodon: the instance's own character limit.

Counted the way Mastodon's StatusLengthValidator counts: grapheme clusters of the content
warning plus the text, where every http(s) URL counts as `characters_reserved_per_url` (23) and
a remote mention `@user@domain` counts only as `@user`. The limit and the URL length come from
the instance (`GET /api/v2/instance`: `configuration.statuses`); `limits_from_instance` reads
them. URLs are found as twitter-text finds them with a protocol (Mastodon's own extractor is
twitter-text's), so other schemes (gemini://, ...) count their full length here.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from . import base, x
from ._unicode import grapheme_len, has_unpaired_surrogates

NETWORK = "Mastodon"
DEFAULT_LIMIT = 500
DEFAULT_URL_LENGTH = 23

# Mastodon's Account::MENTION_RE ([[:word:]] is \w here).
_MENTION = re.compile(
    r"(?<![=/\w])@(?P<user>[a-zA-Z0-9_]+(?:[.\-]+[a-zA-Z0-9_]+)*)(?:@\w+(?:[.\-]+\w+)*)?"
)


def limits_from_instance(instance: Mapping[str, Any]) -> dict[str, int]:
    """validate() options from an instance document (API v1 or v2)."""
    statuses = (instance.get("configuration") or {}).get("statuses") or {}
    limit = statuses.get("max_characters") or instance.get("max_toot_chars") or DEFAULT_LIMIT
    url_length = statuses.get("characters_reserved_per_url") or DEFAULT_URL_LENGTH
    return {"limit": int(limit), "url_length": int(url_length)}


def countable_text(text: str, url_length: int = DEFAULT_URL_LENGTH) -> str:
    """The text with each URL replaced by `url_length` x's and each mention by `@user`."""
    if not text.strip():
        return ""
    entities = [(u.start, u.end, "x" * url_length) for u in x.extract_urls(text, without_protocol=False)]
    if "@" in text:
        for m in _MENTION.finditer(text):
            if x._END_MENTION.match(text, m.end()):
                continue
            entities.append((m.start(), m.end(), "@" + m.group("user")))
    if not entities:
        return text
    entities.sort()
    out, pos = [], 0
    for start, end, replacement in entities:
        if start < pos:  # overlapping: the earlier entity wins
            continue
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def count(text: str, *, url_length: int = DEFAULT_URL_LENGTH, spoiler_text: str = "") -> int:
    return grapheme_len(spoiler_text + countable_text(text, url_length))


def validate(
    text: str,
    *,
    limit: int = DEFAULT_LIMIT,
    url_length: int = DEFAULT_URL_LENGTH,
    spoiler_text: str = "",
    has_media: bool = False,
) -> base.Result:
    length = count(text, url_length=url_length, spoiler_text=spoiler_text)
    problems = []
    if not text.strip() and not has_media:
        problems.append(base.problem(base.EMPTY, network=NETWORK))
    if length > limit:
        problems.append(base.problem(base.TOO_LONG, length=length, limit=limit, network=NETWORK))
    if has_unpaired_surrogates(text) or has_unpaired_surrogates(spoiler_text):
        problems.append(base.problem(base.UNPAIRED_SURROGATES, network=NETWORK))
    return base.Result(
        network="mastodon",
        length=length,
        limit=limit,
        unit=base.GRAPHEMES,
        problems=problems,
        details={"url_length": url_length, "spoiler_text_length": grapheme_len(spoiler_text)},
    )
