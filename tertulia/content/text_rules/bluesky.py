"""Bluesky (AT Protocol): post length and rich-text facets.

Length: `app.bsky.feed.post` text holds at most 300 graphemes (extended grapheme clusters, as the
official app counts them) and 3000 bytes of UTF-8.

Facets follow the official app's `detectFacets` (@atproto/api RichText), with byte offsets into
the UTF-8 text (`byteStart` inclusive, `byteEnd` exclusive, as `app.bsky.richtext.facet` says):

* mentions: `@handle` after the start, a space or "(", where the handle has valid AT Protocol
  handle syntax (see `is_valid_handle`) and ends in a known TLD or `.test`; the facet's DID is
  resolved later, when publishing.
* links: `http(s)://...` or a bare domain on a known TLD (which becomes `https://domain...`),
  after the start, a space or "("; one trailing `.,;:!?` is dropped, and a trailing ")" when the
  link has no "(".
* hashtags: `#tag` after the start or a space; not only digits and punctuation; trailing
  punctuation dropped; at most 64 characters (UTF-16 units, as the app measures).

Where this differs from the app, on purpose: handles and domains are compared without regard
to case, and a scheme in capitals (HTTPS://) is a link too.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import regex

from . import base
from ._tld_data import COUNTRY_TLDS, GENERIC_TLDS
from ._unicode import grapheme_len, has_unpaired_surrogates, utf8_len, utf8_offsets, utf16_len

NETWORK = "Bluesky"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_TAG_LENGTH = 64
MAX_HANDLE_LENGTH = 253

KNOWN_TLDS = frozenset(t for t in (*GENERIC_TLDS, *COUNTRY_TLDS) if t.isascii())

# JavaScript's \s (the app's regular expressions run in JavaScript).
_WS = r"\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_WS_CHARS = "\t\n\v\f\r \xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"
_ASCII_WORD = "A-Za-z0-9_"

_HANDLE = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?\Z"
)
_MENTION = re.compile(
    f"(?P<lead>^|[{_WS}]|\\()@(?P<handle>[a-zA-Z0-9.\\-]+)"
    f"(?:(?<=[{_ASCII_WORD}])(?![{_ASCII_WORD}])|(?<![{_ASCII_WORD}])(?=[{_ASCII_WORD}]))"
)
_LINK = re.compile(
    f"(?P<lead>^|[{_WS}]|\\()"
    f"(?P<uri>(?i:https?)://[^{_WS}]+"
    f"|(?P<domain>[a-zA-Z][a-zA-Z0-9]*(?:\\.[a-zA-Z0-9]+)+)[^{_WS}]*)",
    re.MULTILINE,
)
_LINK_END_PUNCT = frozenset(".,;:!?")
_TAG_EXCLUDED = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    f"(?P<lead>^|[{_WS}])[#\uff03]"
    f"(?P<tag>(?!\ufe0f)[^{_WS}{_TAG_EXCLUDED}]*[^0-9{_WS}\\p{{P}}{_TAG_EXCLUDED}]+[^{_WS}{_TAG_EXCLUDED}]*)?"
)
_TRAILING_PUNCT = regex.compile(r"\p{P}+\Z")


def is_valid_handle(handle: str) -> bool:
    """AT Protocol handle syntax (atproto.com/specs/handle): DNS labels of 1..63 letters,
    digits and inner hyphens, at least two, the last starting with a letter; 253 at most."""
    return len(handle) <= MAX_HANDLE_LENGTH and _HANDLE.match(handle) is not None


def _known_domain(domain: str) -> bool:
    dot = domain.rfind(".")
    return dot > 0 and domain[dot + 1 :].lower() in KNOWN_TLDS


class Facet(NamedTuple):
    kind: str  # "mention", "link", "tag"
    value: str  # the handle (no "@"), the full URI, the tag (no "#")
    byte_start: int
    byte_end: int
    start: int  # the same span in code points, for Python slicing
    end: int

    def as_record(self, did: str | None = None) -> dict[str, Any]:
        """The `app.bsky.richtext.facet` object; a mention needs the handle's DID."""
        if self.kind == "mention":
            if not did:
                raise ValueError(f"the mention of @{self.value} needs its DID")
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        elif self.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": self.value}
        else:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": self.value}
        return {
            "$type": "app.bsky.richtext.facet",
            "index": {"byteStart": self.byte_start, "byteEnd": self.byte_end},
            "features": [feature],
        }


def detect_facets(text: str) -> list[Facet]:
    """Mentions, links and hashtags, in text order."""
    spans: list[tuple[int, int, str, str]] = []
    if "@" in text:
        for m in _MENTION.finditer(text):
            handle = m.group("handle")
            if not is_valid_handle(handle):
                continue
            if not (_known_domain(handle) or handle.lower().endswith(".test")):
                continue
            start = m.start("handle") - 1
            spans.append((start, m.end("handle"), "mention", handle))
    if "." in text:
        for m in _LINK.finditer(text):
            uri = m.group("uri")
            start, end = m.span("uri")
            domain = m.group("domain")
            if domain is not None:
                if not _known_domain(domain):
                    continue
                uri = "https://" + uri
            if uri[-1] in _LINK_END_PUNCT:
                uri = uri[:-1]
                end -= 1
            if uri.endswith(")") and "(" not in uri:
                uri = uri[:-1]
                end -= 1
            spans.append((start, end, "link", uri))
    if "#" in text or "\uff03" in text:
        for m in _TAG.finditer(text):
            tag = m.group("tag")
            if not tag:
                continue
            tag = _TRAILING_PUNCT.sub("", tag.strip(_WS_CHARS))
            if not tag or utf16_len(tag) > MAX_TAG_LENGTH:
                continue
            start = m.end("lead")
            spans.append((start, start + 1 + len(tag), "tag", tag))
    if not spans:
        return []
    spans.sort()
    points = sorted({p for s, e, _, _ in spans for p in (s, e)})
    to_byte = dict(zip(points, utf8_offsets(text, points)))
    return [Facet(kind, value, to_byte[s], to_byte[e], s, e) for s, e, kind, value in spans]



def validate(text: str, *, has_media: bool = False) -> base.Result:
    graphemes = grapheme_len(text)
    nbytes = utf8_len(text)
    problems = []
    if not text.strip() and not has_media:
        problems.append(base.problem(base.EMPTY, network=NETWORK))
    if graphemes > MAX_GRAPHEMES:
        problems.append(base.problem(base.TOO_LONG, length=graphemes, limit=MAX_GRAPHEMES, network=NETWORK))
    if nbytes > MAX_BYTES:
        problems.append(base.problem(base.TOO_MANY_BYTES, length=nbytes, limit=MAX_BYTES, network=NETWORK))
    if has_unpaired_surrogates(text):
        problems.append(base.problem(base.UNPAIRED_SURROGATES, network=NETWORK))
    return base.Result(
        network="bluesky",
        length=graphemes,
        limit=MAX_GRAPHEMES,
        unit=base.GRAPHEMES,
        problems=problems,
        details={"bytes": nbytes, "byte_limit": MAX_BYTES, "facets": detect_facets(text)},
    )
