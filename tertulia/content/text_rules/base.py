"""The common result of every network's text check, and the problems it can report.

A `Result` is plain data: the length as the network counts it, the limit, what is left, and a
list of `Problem`s. A problem has a stable `code` for programs and an English `message` marked
for translation (`gettext_lazy`), formatted with its `params` only when it is turned into text,
so the same result reads in the user's language wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

# Stable problem codes. Programs test these, never the messages.
EMPTY = "empty"
TOO_LONG = "too_long"
CAPTION_TOO_LONG = "caption_too_long"
TOO_MANY_BYTES = "too_many_bytes"
TOO_MANY_HASHTAGS = "too_many_hashtags"
TOO_MANY_MENTIONS = "too_many_mentions"
INVALID_CHARACTERS = "invalid_characters"
UNPAIRED_SURROGATES = "unpaired_surrogates"
# A brand's own guidelines (content/guidelines.py) report through the same type.
BANNED_WORD = "banned_word"
MISSING_HASHTAG = "missing_hashtag"
MISSING_SIGNATURE = "missing_signature"

MESSAGES = {
    EMPTY: _("This post is empty; %(network)s needs some text or media."),
    TOO_LONG: _("This post is %(length)s characters long; %(network)s allows %(limit)s."),
    CAPTION_TOO_LONG: _("This caption is %(length)s characters long; %(network)s allows %(limit)s in a caption."),
    TOO_MANY_BYTES: _("This post takes %(length)s bytes; %(network)s allows %(limit)s."),
    TOO_MANY_HASHTAGS: _("This post has %(count)s hashtags; %(network)s allows %(limit)s."),
    TOO_MANY_MENTIONS: _("This post has %(count)s mentions; %(network)s allows %(limit)s."),
    INVALID_CHARACTERS: _("This post contains characters that %(network)s does not accept."),
    UNPAIRED_SURROGATES: _("This post contains broken characters (unpaired surrogates) that cannot be sent."),
    BANNED_WORD: _("“%(word)s” is on the brand's list of banned words."),
    MISSING_HASHTAG: _("The brand's guidelines ask for the hashtag %(hashtag)s."),
    MISSING_SIGNATURE: _("The brand's guidelines ask for the signature “%(signature)s”."),
}

# What a length is measured in, per network (see each module for the reason).
WEIGHTED = "weighted"  # X: twitter-text weights
GRAPHEMES = "graphemes"  # user-perceived characters (extended grapheme clusters)
CODE_POINTS = "code_points"  # Unicode scalar values
UTF16_UNITS = "utf16_units"  # JavaScript / Java string length
EMOJI_BYTES = "emoji_utf8_bytes"  # Threads: code points, but an emoji counts its UTF-8 bytes


def _render(template: Any, params: Mapping[str, Any]) -> str:
    return str(template) % params


_render_lazy = lazy(_render, str)


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    params: Mapping[str, Any]

    @property
    def template(self):
        """The message before formatting: a lazy translatable string."""
        return MESSAGES[self.code]

    @property
    def message(self):
        """The message, translated and formatted when it is turned into text."""
        return _render_lazy(MESSAGES[self.code], dict(self.params))

    def __str__(self) -> str:
        return _render(MESSAGES[self.code], dict(self.params))


@dataclass(slots=True)
class Result:
    network: str
    length: int | float
    limit: int
    unit: str
    problems: list[Problem] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def remaining(self) -> int | float:
        return self.limit - self.length

    @property
    def is_valid(self) -> bool:
        return not self.problems

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


def problem(code: str, **params: Any) -> Problem:
    if code not in MESSAGES:
        raise ValueError(f"unknown problem code {code!r}")
    return Problem(code, params)
