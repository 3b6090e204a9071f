"""Telegram: 4,096 characters in a message, 1,024 in a media caption (Bot API).

Counted in UTF-16 code units: Telegram measures message text in UTF-16 everywhere (entity
offsets and lengths too), so an emoji outside the BMP counts 2. The limit applies after entity
parsing: pass the plain text, without HTML or Markdown markup. A message needs at least one
character; a caption may be empty.
"""

from __future__ import annotations

from . import base
from ._simple import result

NETWORK = "Telegram"
MAX_MESSAGE = 4096
MAX_CAPTION = 1024


def validate(text: str, *, caption: bool = False, has_media: bool = False) -> base.Result:
    if caption:
        return result(
            "telegram", NETWORK, text, limit=MAX_CAPTION, unit=base.UTF16_UNITS, has_media=True,
            too_long_code=base.CAPTION_TOO_LONG, details={"caption": True},
        )
    return result(
        "telegram", NETWORK, text, limit=MAX_MESSAGE, unit=base.UTF16_UNITS, has_media=has_media,
        details={"caption": False},
    )
