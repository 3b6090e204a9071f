"""LinkedIn posts: 3,000 characters.

Counted in UTF-16 code units, the length of a JavaScript string, which is what LinkedIn's
composer counts against its limit: an emoji outside the BMP counts 2.
"""

from __future__ import annotations

from . import base
from ._simple import result

NETWORK = "LinkedIn"
MAX_CHARACTERS = 3000


def validate(text: str, *, has_media: bool = False) -> base.Result:
    return result("linkedin", NETWORK, text, limit=MAX_CHARACTERS, unit=base.UTF16_UNITS, has_media=has_media)
