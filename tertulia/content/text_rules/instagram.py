"""Instagram captions: 2,200 characters, 30 hashtags and 20 mentions (Instagram Graph API's
publishing limits).

Characters are counted as Unicode code points: Instagram checks captions on its servers, whose
strings count code points, so an emoji outside the BMP counts 1 (and a ZWJ family emoji counts
each of its code points). Hashtags are `#` followed by letters, digits or "_" with at least one
letter or digit that is not preceded by a word character; mentions are `@` and an Instagram
username (letters, digits, "." and "_", at most 30). Every occurrence counts, repeats included.
"""

from __future__ import annotations

import re

from . import base
from ._simple import result

NETWORK = "Instagram"
MAX_CHARACTERS = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20

_HASHTAG = re.compile(r"(?<![\w#\uff03&])[#\uff03](?=_*[^\W_])\w+")
_MENTION = re.compile(r"(?<![\w@\uff20.])[@\uff20](?=[A-Za-z0-9._]*[A-Za-z0-9_])[A-Za-z0-9._]{1,30}(?![A-Za-z0-9_])")


def hashtags(text: str) -> list[str]:
    return [m.group()[1:] for m in _HASHTAG.finditer(text)] if "#" in text or "\uff03" in text else []


def mentions(text: str) -> list[str]:
    if "@" not in text and "\uff20" not in text:
        return []
    return [m.group()[1:].rstrip(".") for m in _MENTION.finditer(text)]


def validate(text: str, *, has_media: bool = True) -> base.Result:
    """`has_media` defaults to True: an Instagram post always has its picture or video."""
    tags, people = hashtags(text), mentions(text)
    problems = []
    if len(tags) > MAX_HASHTAGS:
        problems.append(base.problem(base.TOO_MANY_HASHTAGS, count=len(tags), limit=MAX_HASHTAGS, network=NETWORK))
    if len(people) > MAX_MENTIONS:
        problems.append(base.problem(base.TOO_MANY_MENTIONS, count=len(people), limit=MAX_MENTIONS, network=NETWORK))
    return result(
        "instagram", NETWORK, text, limit=MAX_CHARACTERS, unit=base.CODE_POINTS, has_media=has_media,
        problems=problems, details={"hashtags": tags, "mentions": people},
    )
