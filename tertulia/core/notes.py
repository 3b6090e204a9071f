"""Messages for people, stored so that each reader sees them in their own language.

A consumer has no reader: it stores a *note*, a list of parts ``{"msgid": ..., "params": ...}``
where ``msgid`` is the English source of a marked string, and the page renders it with
``render`` in the reader's language. ``english`` gives the same text in the source language for
the plain-text columns (logs, search, e-mail subjects). A connector's message that was already
formatted (``format_lazy``) is kept as its English text and shown as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import translation
from django.utils.translation import gettext

Note = list[dict[str, Any]]


def source(message) -> str:
    """A (lazy) string in the source language."""
    with translation.override("en"):
        return str(message)


def note(message, **params) -> Note:
    return [{"msgid": source(message), "params": {k: str(v) for k, v in params.items()}}]


def note_problems(problems: Iterable) -> Note:
    """Text-rule problems (``content.text_rules.base.Problem``): template and figures."""
    return [{"msgid": source(p.template), "params": {k: str(v) for k, v in p.params.items()}} for p in problems]


def render(parts: Note | None) -> str:
    out = []
    for part in parts or []:
        text = gettext(part.get("msgid", ""))
        params = part.get("params") or {}
        try:
            out.append(text % params if params else text)
        except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
            out.append(part.get("msgid", "") % params if params else part.get("msgid", ""))
    return " ".join(out)


def english(parts: Note | None) -> str:
    with translation.override("en"):
        return render(parts)
