"""Facebook posts: 63,206 characters.

Counted as Unicode code points, like the other Meta APIs here: an emoji outside the BMP counts 1.
"""

from __future__ import annotations

from . import base
from ._simple import result

NETWORK = "Facebook"
MAX_CHARACTERS = 63206


def validate(text: str, *, has_media: bool = False) -> base.Result:
    return result("facebook", NETWORK, text, limit=MAX_CHARACTERS, unit=base.CODE_POINTS, has_media=has_media)
