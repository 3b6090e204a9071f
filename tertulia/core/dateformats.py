"""Dates in the active language for pages that write many of them (the inbox list's rows, the
dashboard's tables): what the ``date`` filter writes, without its per-value cost."""

from __future__ import annotations

from datetime import date, datetime

from django.template.defaultfilters import date as date_filter
from django.utils.dateformat import re_escaped, re_formatchars
from django.utils.translation import gettext as _django_word

_DAY_CHARS = frozenset("djmnYy")


def _hour12(d) -> int:
    return d.hour % 12 or 12


# The format characters of django.utils.dateformat that the short date-time formats use, as
# dateformat writes them; any other character takes dateformat itself. The words ("p.m.",
# "noon", ...) are dateformat's, translated by Django's own catalog (not ours): hence gettext
# under another name, which our catalog extraction does not collect.
_DATE_CHARS = {
    "d": lambda d: "%02d" % d.day, "j": lambda d: str(d.day), "m": lambda d: "%02d" % d.month,
    "n": lambda d: str(d.month), "Y": lambda d: "%04d" % d.year, "y": lambda d: "%02d" % (d.year % 100),
    "H": lambda d: "%02d" % d.hour, "G": lambda d: str(d.hour), "i": lambda d: "%02d" % d.minute,
    "g": lambda d: str(_hour12(d)), "h": lambda d: "%02d" % _hour12(d),
    "a": lambda d: _django_word("p.m.") if d.hour > 11 else _django_word("a.m."),
    "A": lambda d: _django_word("PM") if d.hour > 11 else _django_word("AM"),
    "f": lambda d: "%d:%02d" % (_hour12(d), d.minute) if d.minute else str(_hour12(d)),
    "P": lambda d: (_django_word("midnight") if d.minute == 0 and d.hour == 0
                    else _django_word("noon") if d.minute == 0 and d.hour == 12
                    else "%s %s" % (_DATE_CHARS["f"](d), _DATE_CHARS["a"](d))),
}


class DateFormat:
    """``value|date:fmt`` for one format string (e.g. ``get_format("SHORT_DATETIME_FORMAT")``)
    and many values: the format is parsed once, and its usual characters are written without a
    Django DateFormat object per value. A ``date`` (no time) takes this road only when the format
    has no time characters; anything else, and any other character, is the ``date`` filter's."""

    def __init__(self, fmt: str):
        self.format = fmt
        pieces = re_formatchars.split(str(fmt))
        self.needs_time = any(c not in _DAY_CHARS for c in pieces[1::2])
        self.parts = [] if all(p in _DATE_CHARS for p in pieces[1::2]) else None
        for i, piece in enumerate(pieces if self.parts is not None else ()):
            if i % 2:
                self.parts.append(_DATE_CHARS[piece])
            elif piece:
                self.parts.append(re_escaped.sub(r"\1", piece))

    def __call__(self, value) -> str:
        if value in (None, ""):
            return ""
        if self.parts is None or not isinstance(value, date) or (
                self.needs_time and not isinstance(value, datetime)):
            return date_filter(value, self.format)
        return "".join(p if isinstance(p, str) else p(value) for p in self.parts)
