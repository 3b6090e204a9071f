"""Properties of the text rules on any text, hostile text included."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tertulia.content.text_rules import NETWORKS, bluesky, mastodon, validate, x
from tertulia.content.text_rules._unicode import grapheme_len, utf8_len, utf16_len

# Pieces that exercise the counters: entities, emoji sequences, combining and zero-width
# characters, bidi controls, unpaired surrogates, characters twitter-text rejects.
PIECES = [
    " ", "\n", "a", "Z", "é", "e\u0301", "ñ", "日本", "한국", "ش", "1", ".", "/", ":", "-", "_",
    "#", "＃", "@", "＠", "$", "(", ")", "?", "!", ",",
    "https://", "http://", "example.com", "t.co/x", "x.y", "bsky.social", ".test", "mastodon.social",
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇪🇸", "#️⃣", "1⃣", "©", "\ufe0f", "\ufe0e", "\u200d", "\u20e3",
    "\u200b", "\u200c", "\u2060", "\u00ad", "\ufeff", "\ufffe", "\uffff",
    "\u202a", "\u202b", "\u202c", "\u202e", "\u200e", "\u200f", "\u2066", "\u2069", "\u061c",
    "\ud800", "\udc00", "\U0001f3fb", "\U000e0067", "\U000e007f", "\u0600", "\r\n", "\u3000",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(st.characters(exclude_categories=()), max_size=4)),
    max_size=60,
).map("".join)
any_text = st.one_of(hostile_text, st.text(st.characters(exclude_categories=()), max_size=200))

NETWORK_NAMES = sorted(NETWORKS)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(any_text, st.sampled_from(NETWORK_NAMES))
@SETTINGS
def test_counting_never_fails_and_the_result_adds_up(text, network):
    result = validate(network, text)
    assert result.length >= 0
    assert result.remaining == result.limit - result.length
    assert result.is_valid == (not result.problems)
    assert ("too_long" in result.codes or "caption_too_long" in result.codes) == (result.length > result.limit)
    for problem in result.problems:
        assert str(problem)  # every message formats with its params


@given(any_text)
@SETTINGS
def test_bluesky_facets_fall_on_utf8_boundaries_and_slice_back(text):
    data = text.encode("utf-8", "surrogatepass")
    facets = bluesky.detect_facets(text)
    last_end = 0
    for f in facets:
        assert 0 <= f.byte_start < f.byte_end <= len(data)
        for offset in (f.byte_start, f.byte_end):
            assert offset == len(data) or (data[offset] & 0xC0) != 0x80  # not a continuation byte
        piece = data[f.byte_start : f.byte_end].decode("utf-8", "surrogatepass")
        assert piece == text[f.start : f.end]
        if f.kind == "mention":
            assert piece == "@" + f.value and bluesky.is_valid_handle(f.value)
        elif f.kind == "tag":
            assert piece[0] in "#＃" and piece[1:] == f.value and 0 < utf16_len(f.value) <= 64
        else:
            assert f.value in (piece, "https://" + piece)
        assert f.byte_start >= last_end  # in order, not overlapping
        last_end = f.byte_end


@given(any_text)
@SETTINGS
def test_x_ranges_and_entities_are_consistent(text):
    parsed = x.parse_tweet(text)
    assert parsed.display_range_end == max(utf16_len(text) - 1, 0)
    assert parsed.valid_range_end <= parsed.display_range_end
    assert parsed.valid == (text != "" and 0 < parsed.weighted_length <= 280 and "\ufffe" not in text
                            and "\ufeff" not in text and "\uffff" not in text)
    entities = x.extract_entities(text)
    for a, b in zip(entities, entities[1:]):
        assert a.end <= b.start
    for e in entities:
        assert 0 <= e.start < e.end <= len(text)


@given(any_text, any_text)
@SETTINGS
def test_x_length_adds_up_across_a_space(a, b):
    """Nothing joins across a space: the length of "a b" is a's plus " b"'s. (Not a's, one and
    b's: twitter-text takes a text's first character as the character before a URL when it can,
    so "éexample.com" is "é" and a URL while " éexample.com" is a space and a URL.)"""
    assert x.weighted_length(a + " " + b) == x.weighted_length(a) + x.weighted_length(" " + b)


@given(any_text)
@SETTINGS
def test_lengths_grow_when_a_word_is_added(text):
    for network in NETWORK_NAMES:
        before = validate(network, text).length
        after = validate(network, text + " a").length
        if network in ("x", "linkedin", "threads", "telegram", "facebook", "instagram"):
            assert after == before + 2, network
        elif network == "mastodon" and not text.strip():
            assert before == 0  # Mastodon counts a blank text as nothing at all
        else:  # graphemes: a space can join a preceding prepended mark (UAX #29 GB9b)
            assert before + 1 <= after <= before + 2, network


@given(any_text)
@SETTINGS
def test_simple_counts_are_code_points_or_utf16(text):
    # Threads: NFC code points, an emoji counting its UTF-8 bytes instead of 1.
    nfc = unicodedata.normalize("NFC", text)
    assert len(nfc) <= validate("threads", text).length <= len(nfc.encode("utf-8", "surrogatepass"))
    assert validate("linkedin", text).length == len(text.encode("utf-16-le", "surrogatepass")) // 2
    assert validate("bluesky", text).details["bytes"] == utf8_len(text)
    assert validate("bluesky", text).length == grapheme_len(text) <= len(text)


@given(any_text)
@SETTINGS
def test_mastodon_never_counts_more_than_the_text_with_short_urls(text):
    # Each rewrite shortens or sets a URL to 23; the result is the text's own graphemes otherwise.
    countable = mastodon.countable_text(text)
    assert mastodon.count(text) == grapheme_len(countable)


MB = 1_000_000
HOSTILE = {
    "letters": "a" * MB,
    "cjk": "日" * MB,
    "zero-width": "\u200b\u200c\u200d\u2060\ufeff" * (MB // 5),
    "rtl-marks": "\u202e\u200f\u2067abc\u2069" * (MB // 7),
    "emoji-zwj": "👩‍👩‍👧‍👦" * (MB // 7),
    "dotted": "a." * (MB // 2),
    "dotted-cjk": "日." * (MB // 2),
    "hashes": "#" * MB,
    "ats": "@a" * (MB // 2),
    "urls": "https://example.com/path?q=1 " * (MB // 29),
    "combining": "e" + "\u0301" * (MB - 1),
    "surrogates": "\ud83d" * MB,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_megabyte_of_hostile_text(name):
    text = HOSTILE[name]
    for network in NETWORK_NAMES:
        start = time.perf_counter()
        result = validate(network, text)
        elapsed = time.perf_counter() - start
        assert result.length > 0
        # A megabyte is over every limit, except one grapheme made of a million marks.
        assert not result.is_valid or (name == "combining" and network == "mastodon")
        assert elapsed < 20, f"{network} took {elapsed:.1f}s on {name}"
