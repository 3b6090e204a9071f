"""Threads posts: 500 characters, counted as Meta documents for the Threads API
("Limitations": emojis are counted as the number of their UTF-8 bytes): a letter of any
script counts 1, ☕ counts 3, 😀 counts 4. The connector refuses by the same count, so the
composer never accepts a text that Threads would refuse at publish time.
"""

from __future__ import annotations

import unicodedata

from . import _simple, base
from ._simple import result

NETWORK = "Threads"
MAX_CHARACTERS = 500


def _is_emoji(ch: str) -> bool:
    code = ord(ch)
    return (code >= 0x1F000 or 0x2600 <= code <= 0x27BF or code in (0x200D, 0xFE0F, 0x20E3)
            or unicodedata.category(ch) == "So")


def threads_length(text: str) -> int:
    text = unicodedata.normalize("NFC", text or "")
    return sum(len(ch.encode("utf-8")) if _is_emoji(ch) else 1 for ch in text)


_simple.COUNTERS[base.EMOJI_BYTES] = threads_length


def validate(text: str, *, has_media: bool = False) -> base.Result:
    return result("threads", NETWORK, text, limit=MAX_CHARACTERS, unit=base.EMOJI_BYTES, has_media=has_media)
