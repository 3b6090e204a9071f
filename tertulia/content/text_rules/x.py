"""X (Twitter): the twitter-text v3 rules, written for Python.

* `parse_tweet` gives the weighted length the way twitter-text's `parseTweet` does: the text is
  NFC-normalised; every URL counts `transformedURLLength` (23); with emoji parsing on (v3) every
  emoji, however many code points it joins, counts `defaultWeight`; every other code point counts
  the weight of the first configured range that holds it, else `defaultWeight`; the sum is divided
  by `scale`. Display and valid ranges are in UTF-16 code units of the text as given, like
  twitter-text's reference implementations report them.
* `extract_*` find URLs (with and without protocol, only on known TLDs), hashtags, mentions and
  lists, cashtags and the reply target. Entity offsets are code points into the text as given
  (what Python slicing and X's API use); `to_utf16` converts them to JavaScript offsets.
* `is_valid_*` are twitter-text's validators for usernames, lists, hashtags and URLs.

The conformance suite (`twitter-text-conformance/conformance/{validate,extract,tlds}.yml`) is
run by `tertulia/content/tests/test_text_rules_x.py`.

Two deliberate bounds, both beyond anything a valid URL can reach, keep hostile text linear
where twitter-text's regular expression can go quadratic: a domain label is matched up to 63
characters and a domain up to 127 labels (DNS's own limits; twitter-text rejects longer ones
after matching them).
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, NamedTuple

import regex

from . import base
from ._tld_data import COUNTRY_TLDS, GENERIC_TLDS
from ._unicode import has_unpaired_surrogates, utf16_len, utf16_offsets

NETWORK = "X"

# --------------------------------------------------------------------------------------------
# Configuration (twitter-text config/v1.json, v2.json, v3.json)


@dataclass(frozen=True)
class XConfig:
    version: int
    max_weighted_length: int
    scale: int
    default_weight: int
    transformed_url_length: int
    ranges: tuple[tuple[int, int, int], ...]  # (start, end, weight), inclusive, first wins
    emoji_parsing: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "XConfig":
        """Read twitter-text's JSON configuration format."""
        return cls(
            version=int(data["version"]),
            max_weighted_length=int(data["maxWeightedTweetLength"]),
            scale=int(data["scale"]),
            default_weight=int(data["defaultWeight"]),
            transformed_url_length=int(data.get("transformedURLLength", 23)),
            ranges=tuple((int(r["start"]), int(r["end"]), int(r["weight"])) for r in data.get("ranges", ())),
            emoji_parsing=bool(data.get("emojiParsingEnabled", False)),
        )

    def __post_init__(self):
        if self.scale < 1:
            raise ValueError("scale must be at least 1")
        object.__setattr__(self, "_weigher", _Weigher(self))


def _class_for_ranges(ranges) -> str:
    return "".join(f"{_cp(a)}-{_cp(b)}" if a != b else _cp(a) for a, b in ranges)


def _cp(n: int) -> str:
    return f"\\U{n:08x}"


class _Weigher:
    """Weighs strings by code point for one configuration, with C-speed regex counting."""

    def __init__(self, config: XConfig):
        self.default = config.default_weight
        # Disjoint intervals, first configured range wins, grouped by weight.
        taken: list[tuple[int, int]] = []
        by_weight: dict[int, list[tuple[int, int]]] = {}
        for start, end, weight in config.ranges:
            pieces = [(start, end)]
            for a, b in taken:
                nxt = []
                for s, e in pieces:
                    if e < a or s > b:
                        nxt.append((s, e))
                        continue
                    if s < a:
                        nxt.append((s, a - 1))
                    if e > b:
                        nxt.append((b + 1, e))
                pieces = nxt
            taken.append((start, end))
            if weight != self.default:
                by_weight.setdefault(weight, []).extend(p for p in pieces if p[0] <= p[1])
        self.intervals = sorted((s, e, w) for w, ps in by_weight.items() for s, e in ps)
        self.classes = [
            (w, re.compile(f"[{_class_for_ranges(ps)}]+")) for w, ps in by_weight.items() if ps
        ]
        ascii_weights = {self.char(c) for c in range(128)}
        self.ascii = ascii_weights.pop() if len(ascii_weights) == 1 else None
        # Emoji that are a single code point weigh `default` alone too, unless a range gives
        # one of them another weight; then every emoji must be found, not only sequences.
        self.singletons_default = all(e < 0x203C for s, e, w in self.intervals)

    def char(self, code: int) -> int:
        for s, e, w in self.intervals:
            if s <= code <= e:
                return w
            if code < s:
                break
        return self.default

    def text(self, text: str) -> int:
        if self.ascii is not None and text.isascii():
            return len(text) * self.ascii
        n = len(text)
        total = 0
        rest = n
        for w, cls in self.classes:
            k = n - len(cls.sub("", text))
            total += k * w
            rest -= k
        return total + rest * self.default


_V23_RANGES = ((0, 4351, 100), (8192, 8205, 100), (8208, 8223, 100), (8242, 8247, 100))
CONFIG_V1 = XConfig(1, 140, 1, 1, 23, ())
CONFIG_V2 = XConfig(2, 280, 100, 200, 23, _V23_RANGES)
CONFIG_V3 = XConfig(3, 280, 100, 200, 23, _V23_RANGES, emoji_parsing=True)
CONFIGS = {1: CONFIG_V1, 2: CONFIG_V2, 3: CONFIG_V3}
DEFAULT_CONFIG = CONFIG_V3


# --------------------------------------------------------------------------------------------
# Character groups (twitter-text's regexp building blocks)

_SPACES = r"\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVALID = r"\ufffe\ufeff\uffff"
_DIRECTIONAL = r"\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"
_JS_WS = r"\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_LATIN_ACCENT = (
    r"\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    r"\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = r"\u0400-\u04ff"
_PUNCT_CHARS = "!'#%&()*+,\\-./:;<=>?@[]^_{|}~$"


def _escape_class(chars: str) -> str:
    return "".join("\\" + c if c in "\\]^-[" else c for c in chars)


_PUNCT = _escape_class(_PUNCT_CHARS)
_NOT_DOMAIN = _SPACES + _INVALID + _DIRECTIONAL
_DOMAIN_CHAR = f"[^{_PUNCT}{_NOT_DOMAIN}]"
_SUBDOMAIN_INNER = f"[^{_escape_class(_PUNCT_CHARS.replace('_', '').replace('-', ''))}{_NOT_DOMAIN}]"
_DOMAIN_NAME_INNER = f"[^{_escape_class(_PUNCT_CHARS.replace('-', ''))}{_NOT_DOMAIN}]"
_SUBDOMAIN = f"(?:(?:{_DOMAIN_CHAR}{_SUBDOMAIN_INNER}{{0,61}})?{_DOMAIN_CHAR}\\.)"
_DOMAIN_NAME = f"(?:(?:{_DOMAIN_CHAR}{_DOMAIN_NAME_INNER}{{0,61}})?{_DOMAIN_CHAR}\\.)"


def _trie_pattern(words) -> str:
    """One regex alternation as a trie, preferring the longest name (twitter-text's order)."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return build(trie)


_TLD_END = r"(?![0-9a-zA-Z@+\-])"
_GTLD = f"(?i:{_trie_pattern(GENERIC_TLDS)}){_TLD_END}"
_CCTLD = f"(?i:{_trie_pattern(COUNTRY_TLDS)}){_TLD_END}"
_PUNYCODE = r"(?i:xn--[\-0-9a-z]+)"
_ANY_TLD = f"(?:{_GTLD}|{_CCTLD}|{_PUNYCODE})"
# The lookahead only skips, cheaply, the starts whose first label cannot end in a dot within 63
# characters; the matches are those of the expression after it.
_DOMAIN = f"(?={_SUBDOMAIN_INNER}{{1,63}}+\\.)(?:{_SUBDOMAIN}{{0,126}}{_DOMAIN_NAME}{_ANY_TLD})"

_PATH_CHAR = f"[a-zA-Z{_CYRILLIC}0-9!*';:=+,.$/%#\\[\\]\\-\u2013_~@|&{_LATIN_ACCENT}]"
_BALANCED_PARENS = f"\\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\\({_PATH_CHAR}+\\){_PATH_CHAR}*))\\)"
_PATH_END = f"(?:[+\\-a-zA-Z{_CYRILLIC}0-9=_#/{_LATIN_ACCENT}]|{_BALANCED_PARENS})"
_PATH = (
    f"(?:(?:{_PATH_CHAR}*(?:{_BALANCED_PARENS}{_PATH_CHAR}*)*{_PATH_END})"
    f"|(?:@{_PATH_CHAR}+/))"
)
_QUERY_CHAR = r"[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-zA-Z0-9\-_&=#/]"

_EXTRACT_URL = re.compile(
    f"(?P<before>[^A-Za-z0-9@\uff20$#\uff03{_INVALID}]|^)"
    "(?P<url>"
    r"(?P<protocol>(?i:https?://))?"
    f"(?P<domain>{_DOMAIN})"
    r"(?::(?P<port>[0-9]+))?"
    f"(?P<path>/{_PATH}*)?"
    f"(?P<query>\\?{_QUERY_CHAR}*{_QUERY_END})?"
    ")"
)
# Every URL match ends its domain with "." and a TLD; a domain runs over label characters and
# dots only, 127 labels of at most 63 characters at most. So a match can only start a little
# before such a TLD: long texts are scanned in those windows alone (see _url_matches).
_TLD_HIT = re.compile(f"\\.{_ANY_TLD}")
_DOMAIN_BREAK = re.compile(
    f"[{_escape_class(_PUNCT_CHARS.replace('_', '').replace('-', '').replace('.', ''))}{_NOT_DOMAIN}]+"
)
_MAX_DOMAIN_BEFORE_TLD = 127 * 63 + 127
_MAX_LABELS_BEFORE_TLD = 127
_MAX_BEFORE_DOMAIN = 1 + len("https://")
_WINDOW_TAIL = 64
_SHORT_TEXT = 1000
_VALID_ASCII_DOMAIN = re.compile(f"(?:[\\-a-zA-Z0-9{_LATIN_ACCENT}]+\\.)+{_ANY_TLD}")
_VALID_TCO = re.compile(f"(?i:https?://t\\.co/)([a-zA-Z0-9]+)(?:\\?{_QUERY_CHAR}*{_QUERY_END})?")
_LABEL_SEPARATORS = re.compile("[.\u3002\uff0e\uff61]")
_INVALID_CHAR = re.compile(f"[{_INVALID}]")

MAX_URL_LENGTH = 4096
MAX_TCO_SLUG_LENGTH = 40
_DEFAULT_PROTOCOL = "https://"

# Mentions, lists, replies, cashtags
_MENTION_OR_LIST_BODY = (
    r"(?P<before>^|[^a-zA-Z0-9_!#$%&*@\uff20]|(?:^|[^a-zA-Z0-9_+~.\-])(?:rt|RT|rT|Rt):?)"
    r"[@\uff20](?P<name>[a-zA-Z0-9_]{1,20})(?P<list>/[a-zA-Z][a-zA-Z0-9_\-]{0,24})?"
)
_MENTION_OR_LIST = re.compile(_MENTION_OR_LIST_BODY)
_LIST_ONLY = re.compile(f"(?:{_MENTION_OR_LIST_BODY})\\Z")
_END_MENTION = re.compile(f"[@\uff20{_LATIN_ACCENT}]|://")
_REPLY = re.compile(f"[{_SPACES}]*[@\uff20]([a-zA-Z0-9_]{{1,20}})")
_CASHTAG = re.compile(
    f"(?P<before>^|[{_SPACES}])\\$(?P<tag>[a-zA-Z]{{1,6}}(?:[._][a-zA-Z]{{1,2}})?)(?![^{_JS_WS}{_PUNCT}])"
)

# Hashtags: letters and marks, decimal digits, and a few joiners twitter-text allows.
_HASHTAG_SPECIAL = (
    r"_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)
_HASHTAG_ALPHA = r"[\p{L}\p{M}]"
_HASHTAG_ALNUM = f"[\\p{{L}}\\p{{M}}\\p{{Nd}}{_HASHTAG_SPECIAL}]"
_HASHTAG = regex.compile(
    f"(?P<before>^|[\ufe0e\ufe0f]|(?!{_HASHTAG_ALNUM}|&)[^\ud800-\udfff])"
    "[#\uff03](?![\ufe0f\u20e3])"
    f"(?P<tag>{_HASHTAG_ALNUM}*{_HASHTAG_ALPHA}{_HASHTAG_ALNUM}*)",
    regex.V0,
)
_END_HASHTAG = re.compile("[#\uff03]|://")

# Emoji as twitter-text v3 counts them (it uses twemoji-parser's list; this follows its rules
# from Unicode properties instead of listing every sequence): keycaps, flag pairs, and
# pictographs with their presentation selector, skin tone or tag sequence, joined by ZWJ. (c),
# (r), TM and the chess pawn are emoji only with U+FE0F; a pictograph followed by U+FE0E (text
# style) is not one. A ZWJ sequence that is not in twemoji's list still counts as one emoji here.
_TEXT_DEFAULT = "\xa9\xae\u2122\u265f"
_EMOJI_ELEMENT = (
    r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}\ufe0f?"
    f"|[{_TEXT_DEFAULT}]\\ufe0f"
    f"|(?![{_TEXT_DEFAULT}])\\p{{Extended_Pictographic}}"
    r"(?:\ufe0f|[\U000e0020-\U000e007e]+\U000e007f|(?!\ufe0e)))"
)
_EMOJI = regex.compile(
    r"[#*0-9]\ufe0f?\u20e3|\p{Regional_Indicator}{2}"
    f"|{_EMOJI_ELEMENT}(?:\u200d{_EMOJI_ELEMENT})*"
)
# Without one of these, no emoji spans more than one code point.
_EMOJI_JOINERS = re.compile(
    "[\u200d\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U0001f1e6-\U0001f1ff\U000e0020-\U000e007f]"
)


# --------------------------------------------------------------------------------------------
# Entities


class Entity(NamedTuple):
    kind: str  # "url", "hashtag", "mention", "list", "cashtag"
    value: str  # the URL; the hashtag, screen name or cashtag without its sign
    start: int  # code point offsets into the text as given
    end: int
    list_slug: str = ""  # "/slug" for lists


def _domain_labels_ok(domain: str) -> bool:
    """twitter-text's idna.toAscii check: every label 1..63 characters once punycoded."""
    if domain.startswith("xn--") and _VALID_ASCII_DOMAIN.search(domain) is None:
        return False
    ascii_domain = domain.isascii()
    for label in domain.split("."):
        if ascii_domain or label.isascii():
            length = len(label)
        else:
            parts = _LABEL_SEPARATORS.split(label)
            length = len(parts) - 1
            for part in parts:
                if part.isascii():
                    length += len(part)
                elif len(part) > 59:  # "xn--" and at least one character per code point
                    return False
                else:
                    try:
                        length += 4 + len(part.encode("punycode"))
                    except (UnicodeError, ValueError):
                        return False
        if length < 1 or length > 63:
            return False
    return True


def _url_matches(text: str, short_text: int = _SHORT_TEXT):
    """The matches of _EXTRACT_URL.finditer(text), found in linear time on long texts."""
    if len(text) <= short_text:
        return _EXTRACT_URL.finditer(text) if _TLD_HIT.search(text) else ()
    hits = [m.start() for m in _TLD_HIT.finditer(text)]
    if not hits:
        return ()
    break_ends = [m.end() for m in _DOMAIN_BREAK.finditer(text)]
    dots = [m.start() for m in re.finditer(r"\.", text)]
    windows: list[list[int]] = []
    for dot in hits:
        run_start = break_ends[bisect_right(break_ends, dot) - 1] if break_ends and break_ends[0] <= dot else 0
        k = bisect_left(dots, dot) - _MAX_LABELS_BEFORE_TLD
        label_start = dots[k] + 1 if k >= 0 else 0
        start = max(run_start, label_start, dot - _MAX_DOMAIN_BEFORE_TLD) - _MAX_BEFORE_DOMAIN
        start, end = max(start, 0), dot + 1
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    found = []
    pos = 0
    for start, end in windows:
        p = max(pos, start)
        while p < end:
            m = _EXTRACT_URL.search(text, p, min(len(text), end + _WINDOW_TAIL))
            if m is None or m.start() >= end:
                break
            full = _EXTRACT_URL.match(text, m.start())
            if full is None:
                p = m.start() + 1
                continue
            found.append(full)
            p = full.end()
        pos = max(pos, p)
    return found


def _url_spans(text: str, without_protocol: bool = True) -> list[tuple[int, int, str]]:
    if not text or ("." not in text if without_protocol else ":" not in text):
        return []
    out: list[Any] = []
    for m in _url_matches(text):
        url = m.group("url")
        protocol = m.group("protocol")
        domain = m.group("domain")
        start, end = m.span("url")
        if not _domain_labels_ok(domain):
            continue
        url_units = len(url) if url.isascii() else utf16_len(url)
        if len(protocol or _DEFAULT_PROTOCOL) + url_units > MAX_URL_LENGTH:
            continue
        if not protocol:
            before = m.group("before")
            if not without_protocol or (before and before in "-_./"):
                continue
            last = None
            for am in _VALID_ASCII_DOMAIN.finditer(domain):
                last = [start + am.start(), start + am.end(), am.group()]
                out.append(last)
            if last is None:
                continue
            if m.group("path"):
                last[2] = url.replace(domain, last[2], 1)
                last[1] = end
        else:
            t = _VALID_TCO.match(url)
            if t:
                if len(t.group(1)) > MAX_TCO_SLUG_LENGTH:
                    continue
                url = t.group()
                end = start + len(url)
            out.append((start, end, url))
    return [tuple(u) for u in out]


def extract_urls(text: str, *, without_protocol: bool = True) -> list[Entity]:
    return [Entity("url", u, s, e) for s, e, u in _url_spans(text, without_protocol)]


def _remove_overlaps(entities: list[Entity]) -> list[Entity]:
    """twitter-text's removeOverlappingEntities: sort by start, drop what starts inside another."""
    entities = sorted(entities, key=lambda e: e.start)
    out: list[Entity] = []
    for e in entities:
        if out and out[-1].end > e.start:
            continue
        out.append(e)
    return out


def extract_hashtags(text: str, *, check_url_overlap: bool = True) -> list[Entity]:
    if not text or ("#" not in text and "\uff03" not in text):
        return []
    tags = []
    for m in _HASHTAG.finditer(text):
        if _END_HASHTAG.match(text, m.end()):
            continue
        start = m.end("before")
        tags.append(Entity("hashtag", m.group("tag"), start, m.end()))
    if check_url_overlap and tags:
        urls = extract_urls(text)
        if urls:
            tags = [e for e in _remove_overlaps(tags + urls) if e.kind == "hashtag"]
    return tags


def extract_mentions_or_lists(text: str) -> list[Entity]:
    if not text or ("@" not in text and "\uff20" not in text):
        return []
    out = []
    for m in _MENTION_OR_LIST.finditer(text):
        if _END_MENTION.match(text, m.end()):
            continue
        slug = m.group("list") or ""
        start = m.end("before")
        out.append(Entity("list" if slug else "mention", m.group("name"), start, m.end(), slug))
    return out


def extract_mentions(text: str) -> list[Entity]:
    return [e for e in extract_mentions_or_lists(text) if e.kind == "mention"]


def extract_reply_screen_name(text: str) -> str | None:
    if not text:
        return None
    m = _REPLY.match(text)
    if m is None or _END_MENTION.match(text, m.end()):
        return None
    return m.group(1)


def extract_cashtags(text: str) -> list[Entity]:
    if not text or "$" not in text:
        return []
    return [Entity("cashtag", m.group("tag"), m.start("tag") - 1, m.end("tag")) for m in _CASHTAG.finditer(text)]


def extract_entities(text: str) -> list[Entity]:
    """URLs, hashtags, mentions and lists, and cashtags, without overlaps, in text order."""
    entities = extract_urls(text) + extract_hashtags(text, check_url_overlap=False)
    entities += extract_mentions_or_lists(text) + extract_cashtags(text)
    return _remove_overlaps(entities) if entities else []


def extract_emojis(text: str) -> list[tuple[int, int]]:
    """Spans (code points) of emoji as twitter-text v3 counts them."""
    return [m.span() for m in _EMOJI.finditer(text)]


def to_utf16(text: str, entities: list[Entity]) -> list[tuple[int, int]]:
    """(start, end) of each entity in UTF-16 code units, as twitter-text's JavaScript reports."""
    points = sorted({p for e in entities for p in (e.start, e.end)})
    mapping = dict(zip(points, utf16_offsets(text, points)))
    return [(mapping[e.start], mapping[e.end]) for e in entities]


# --------------------------------------------------------------------------------------------
# Validators


def is_valid_username(text: str) -> bool:
    if not text:
        return False
    found = extract_mentions(text)
    return len(found) == 1 and found[0].value == text[1:]


def is_valid_list(text: str) -> bool:
    m = _LIST_ONLY.match(text or "")
    return bool(m and m.group("before") == "" and m.group("list"))


def is_valid_hashtag(text: str) -> bool:
    if not text:
        return False
    found = extract_hashtags(text)
    return len(found) == 1 and found[0].value == text[1:]


_V_UNRESERVED = f"[a-zA-Z{_CYRILLIC}0-9\\-._~]"
_V_PCT = r"(?:%[0-9a-fA-F]{2})"
_V_SUB_DELIMS = r"[!$&'()*+,;=]"
_V_PCHAR = f"(?:{_V_UNRESERVED}|{_V_PCT}|{_V_SUB_DELIMS}|[:|@])"
_V_USERINFO = f"(?:{_V_UNRESERVED}|{_V_PCT}|{_V_SUB_DELIMS}|:)*"
_V_DEC_OCTET = r"(?:[0-9]|(?:[1-9][0-9])|(?:1[0-9]{2})|(?:2[0-4][0-9])|(?:25[0-5]))"
_V_IPV4 = f"(?:{_V_DEC_OCTET}(?:\\.{_V_DEC_OCTET}){{3}})"
_V_IP = f"(?:{_V_IPV4}|\\[[a-fA-F0-9:.]+\\])"
_V_AN = "[a-zA-Z0-9]"
_V_DOMAIN = (
    f"(?:(?:(?:{_V_AN}(?:[a-zA-Z0-9_\\-]*{_V_AN})?)\\.)*"
    f"(?:(?:{_V_AN}(?:[a-zA-Z0-9\\-]*{_V_AN})?)\\.)"
    f"(?:[a-zA-Z](?:[a-zA-Z0-9\\-]*{_V_AN})?))"
)
_V_UAN = "(?:[a-zA-Z0-9]|[^\\x00-\\x7f])"
_V_UNICODE_DOMAIN = (
    f"(?:(?:(?:{_V_UAN}(?:(?:[a-zA-Z0-9_\\-]|[^\\x00-\\x7f])*{_V_UAN})?)\\.)*"
    f"(?:(?:{_V_UAN}(?:(?:[a-zA-Z0-9\\-]|[^\\x00-\\x7f])*{_V_UAN})?)\\.)"
    f"(?:(?:[a-zA-Z]|[^\\x00-\\x7f])(?:(?:[a-zA-Z0-9\\-]|[^\\x00-\\x7f])*{_V_UAN})?))"
)
_V_URL = re.compile(
    r"(?:([^:/?#]+)://)?([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#([^\n\r\u2028\u2029]*))?\Z"
)
_V_SCHEME = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+\-.]*)")
_V_HTTP = re.compile(r"(?i:https?)\Z")
_V_AUTHORITY = re.compile(f"(?:({_V_USERINFO})@)?((?:{_V_IP}|{_V_DOMAIN}))(?::([0-9]{{1,5}}))?")
_V_UNICODE_AUTHORITY = re.compile(
    f"(?:({_V_USERINFO})@)?((?:{_V_IP}|{_V_UNICODE_DOMAIN}))(?::([0-9]{{1,5}}))?"
)
_V_PATH = re.compile(f"(/{_V_PCHAR}*)*")
_V_QUERY = re.compile(f"({_V_PCHAR}|/|\\?)*")


def _whole_match(value: str | None, pattern: re.Pattern, optional: bool = False) -> bool:
    """twitter-text's isValidMatch: the first match found must be the whole string."""
    if optional and not value:
        return True
    if value is None:
        return False
    m = pattern.search(value)
    return m is not None and m.group() == value


def is_valid_url(url: str, unicode_domains: bool = True, require_protocol: bool = True) -> bool:
    if not url:
        return False
    parts = _V_URL.match(url)
    if parts is None:
        return False
    scheme, authority, path, query, fragment = parts.groups()
    if require_protocol and not (_whole_match(scheme, _V_SCHEME) and _V_HTTP.match(scheme)):
        return False
    if not (
        _whole_match(path, _V_PATH)
        and _whole_match(query, _V_QUERY, True)
        and _whole_match(fragment, _V_QUERY, True)
    ):
        return False
    return _whole_match(authority, _V_UNICODE_AUTHORITY if unicode_domains else _V_AUTHORITY)


# --------------------------------------------------------------------------------------------
# Weighted length


class ParsedTweet(NamedTuple):
    weighted_length: int | float
    valid: bool
    permillage: int
    valid_range_start: int
    valid_range_end: int
    display_range_start: int
    display_range_end: int

    def as_twitter_text(self) -> dict[str, Any]:
        """The field names twitter-text uses."""
        return {
            "weightedLength": self.weighted_length,
            "valid": self.valid,
            "permillage": self.permillage,
            "validRangeStart": self.valid_range_start,
            "validRangeEnd": self.valid_range_end,
            "displayRangeStart": self.display_range_start,
            "displayRangeEnd": self.display_range_end,
        }


_URL, _EMOJI_KIND = 0, 1


def _entity_spans(norm: str, config: XConfig, weigher: _Weigher) -> list[tuple[int, int, int]]:
    spans = [(s, e, _URL) for s, e, _ in _url_spans(norm)]
    if config.emoji_parsing and not norm.isascii():
        if not weigher.singletons_default or _EMOJI_JOINERS.search(norm):
            emoji = [(*m.span(), _EMOJI_KIND) for m in _EMOJI.finditer(norm)]
            if emoji:
                if spans:
                    merged, pos = [], 0
                    for span in sorted(spans + emoji):
                        if span[0] >= pos:
                            merged.append(span)
                            pos = span[1]
                    spans = merged
                else:
                    spans = emoji
    return spans


def parse_tweet(text: str, config: XConfig = DEFAULT_CONFIG) -> ParsedTweet:
    """twitter-text's parseTweet."""
    weigher: _Weigher = config._weigher  # type: ignore[attr-defined]
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        norm = text
    else:
        norm = unicodedata.normalize("NFC", text)
    spans = _entity_spans(norm, config, weigher)
    scale = config.scale
    url_weight = config.transformed_url_length * scale
    if spans:
        gaps, pos, urls = [], 0, 0
        for s, e, kind in spans:
            gaps.append(norm[pos:s])
            pos = e
            urls += kind == _URL
        gaps.append(norm[pos:])
        total = weigher.text("".join(gaps))
        total += urls * url_weight + (len(spans) - urls) * config.default_weight
    else:
        total = weigher.text(norm)

    limit = config.max_weighted_length * scale
    invalid = _INVALID_CHAR.search(norm) if not norm.isascii() else None
    text_units = utf16_len(text)
    if invalid is None and total <= limit:
        valid_end = text_units - 1 if text else 0
    else:
        stop = invalid.start() if invalid is not None else len(norm)
        index = _last_valid_index(norm, spans, config, weigher, limit, stop)
        valid_end = index + (text_units - utf16_len(norm))

    weighted = total / scale
    if weighted.is_integer():
        weighted = int(weighted)
    return ParsedTweet(
        weighted_length=weighted,
        valid=invalid is None and 0 < weighted <= config.max_weighted_length,
        permillage=math.floor((weighted / config.max_weighted_length) * 1000),
        valid_range_start=0,
        valid_range_end=valid_end,
        display_range_start=0,
        display_range_end=text_units - 1 if text else 0,
    )


def _last_valid_index(norm, spans, config, weigher, limit, stop) -> int:
    """The UTF-16 index of the last unit before the text overflows or meets an invalid
    character (twitter-text's validDisplayIndex), walking plain runs in bulk."""
    weight = 0
    units = 0
    last = 0
    pos = 0
    url_weight = config.transformed_url_length * config.scale
    for s, e, kind in list(spans) + [(len(norm), len(norm), None)]:
        if pos < s:
            run = norm[pos:s]
            usable = stop - pos if pos <= stop < s else len(run)
            # Weight grows with the prefix: find the longest prefix that still fits.
            if weight + weigher.text(run[:usable]) <= limit:
                fits = usable
            else:
                lo, hi = 0, usable - 1  # run[:lo] fits, run[:hi + 1] does not
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if weight + weigher.text(run[:mid]) <= limit:
                        lo = mid
                    else:
                        hi = mid - 1
                fits = lo
            if fits:
                weight += weigher.text(run[:fits])
                units += utf16_len(run[:fits])
                last = units - 1
            if fits < len(run):
                return last
        if kind is None:
            break
        if s <= stop < e:
            return last
        weight += url_weight if kind == _URL else config.default_weight
        units += utf16_len(norm[s:e])
        if weight > limit:
            return last
        last = units - 1
        pos = e
    return last


def weighted_length(text: str, config: XConfig = DEFAULT_CONFIG) -> int | float:
    return parse_tweet(text, config).weighted_length


# --------------------------------------------------------------------------------------------
# The common API


def validate(text: str, *, config: XConfig | int = DEFAULT_CONFIG, has_media: bool = False) -> base.Result:
    if isinstance(config, int):
        if config not in CONFIGS:
            raise ValueError(f"twitter-text configuration version {config} does not exist; use 1, 2 or 3")
        config = CONFIGS[config]
    parsed = parse_tweet(text, config)
    problems = []
    limit = config.max_weighted_length
    if not text.strip() and not has_media:
        problems.append(base.problem(base.EMPTY, network=NETWORK))
    if parsed.weighted_length > limit:
        problems.append(base.problem(base.TOO_LONG, length=parsed.weighted_length, limit=limit, network=NETWORK))
    if not text.isascii():
        if _INVALID_CHAR.search(text):
            problems.append(base.problem(base.INVALID_CHARACTERS, network=NETWORK))
        if has_unpaired_surrogates(text):
            problems.append(base.problem(base.UNPAIRED_SURROGATES, network=NETWORK))
    return base.Result(
        network="x",
        length=parsed.weighted_length,
        limit=limit,
        unit=base.WEIGHTED,
        problems=problems,
        details={"parsed": parsed},
    )
