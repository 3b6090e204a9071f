"""Threads posts: 500 characters.

Counted as Unicode code points, like the other Meta APIs here (Threads shares Instagram's
servers): an emoji outside the BMP counts 1.
"""

from __future__ import annotations

from . import base
from ._simple import result

NETWORK = "Threads"
MAX_CHARACTERS = 500


def validate(text: str, *, has_media: bool = False) -> base.Result:
    return result("threads", NETWORK, text, limit=MAX_CHARACTERS, unit=base.CODE_POINTS, has_media=has_media)
