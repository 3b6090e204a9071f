"""Mastodon sends post content as HTML. The inbox shows plain text: we never trust or render
that HTML (a remote or compatible server may send anything), we read the words out of it.

``html_to_text`` keeps what a reader sees: paragraphs and line breaks, the full address of links
(Mastodon hides ``https://`` and the tail in ``invisible`` spans; the text is the whole URL),
``@user`` and ``#tag``. It drops tags, the contents of script/style, comments, control
characters, and unescapes entities once. The output is plain text for templates to escape.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

MAX_INPUT = 200_000
MAX_OUTPUT = 20_000

_BLOCK = {"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
          "section", "article", "header", "footer", "table", "tr"}
_DROP = {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "head", "title"}
_VOID = {"br", "img", "hr", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
# Control characters, zero-width space, line/paragraph separators, BOM, and the bidi embedding,
# override and isolate controls (U+202A-E, U+2066-9) that can flip the text around them in the
# inbox. Plain marks (LRM/RLM) stay: right-to-left text needs no more than those.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v]+")


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._drop = 0
        self._pre = 0

    def handle_starttag(self, tag, attrs):
        if tag in _DROP:
            self._drop += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "blockquote", "pre") else "\n")
            if tag == "pre":
                self._pre += 1
            if tag == "li":
                self.parts.append("- ")

    def handle_startendtag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _DROP:
            self._drop = max(0, self._drop - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "blockquote", "pre") else "\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data):
        if self._drop:
            return
        if not self._pre:
            data = _SPACES.sub(" ", data.replace("\n", " "))
        self.parts.append(data)


def html_to_text(html: str | None) -> str:
    if not html:
        return ""
    parser = _TextExtractor()
    try:
        parser.feed(str(html)[:MAX_INPUT])
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser is lenient; never let hostile input crash a poll
        return _clean(re.sub(r"<[^>]*>", " ", str(html)[:MAX_INPUT]))
    return _clean("".join(parser.parts))


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text[:MAX_OUTPUT]


_REMOTE_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]+)@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")


def match_key(text: str) -> str:
    """What to compare between the text we sent and the HTML Mastodon rendered from it:
    Mastodon shows ``@user@other.server`` as ``@user``, and whitespace and paragraphs change
    shape, so compare words with remote mentions cut to the user name."""
    text = _REMOTE_MENTION.sub(r"@\1", unicodedata.normalize("NFC", text or ""))
    return " ".join(text.split())
