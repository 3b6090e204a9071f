"""Bluesky: graphemes and bytes, handle syntax (atproto interop files) and facets."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from tertulia.content.text_rules import bluesky, validate
from tertulia.content.text_rules._corpora import corpora_dir

SYNTAX = corpora_dir() / "atproto-interop-tests" / "syntax"
LEXICONS = corpora_dir() / "marshalx-atproto-fixtures" / "lexicons"


def _lines(name: str) -> list:
    path = SYNTAX / name
    if not path.exists():
        reason = f"atproto interop tests not found at {path} (set TERTULIA_CORPORA)"
        return [pytest.param(None, id="corpus-missing", marks=pytest.mark.skip(reason=reason))]
    # Lines are taken as they are: some invalid handles have leading or trailing spaces.
    lines = path.read_text(encoding="utf-8").split("\n")
    return [pytest.param(line, id=f"{i + 1}") for i, line in enumerate(lines) if line and not line.startswith("#")]


@pytest.mark.parametrize("handle", _lines("handle_syntax_valid.txt"))
def test_valid_handle_syntax(handle):
    assert bluesky.is_valid_handle(handle)


@pytest.mark.parametrize("handle", _lines("handle_syntax_invalid.txt"))
def test_invalid_handle_syntax(handle):
    assert not bluesky.is_valid_handle(handle)


def _lexicon(nsid: str) -> dict:
    path = LEXICONS / f"{nsid}.json"
    if not path.exists():
        pytest.skip(f"atproto lexicons not found at {path} (set TERTULIA_CORPORA)")
    return json.loads(path.read_text(encoding="utf-8"))


def test_limits_are_the_post_lexicons():
    text = _lexicon("app.bsky.feed.post")["defs"]["main"]["record"]["properties"]["text"]
    assert (bluesky.MAX_GRAPHEMES, bluesky.MAX_BYTES) == (text["maxGraphemes"], text["maxLength"])


def test_facet_records_have_the_lexicons_shape():
    defs = _lexicon("app.bsky.richtext.facet")["defs"]
    facets = bluesky.detect_facets("@alice.bsky.social see https://example.com #tag")
    assert [f.kind for f in facets] == ["mention", "link", "tag"]
    for facet in facets:
        record = facet.as_record(did="did:plc:abc" if facet.kind == "mention" else None)
        assert set(defs["main"]["required"]) <= set(record)
        assert set(defs["byteSlice"]["required"]) == set(record["index"])
        (feature,) = record["features"]
        kind = feature["$type"].split("#")[1]
        assert set(defs[kind]["required"]) <= set(feature)
    with pytest.raises(ValueError):
        facets[0].as_record()


def _facets(text):
    data = text.encode("utf-8")
    return [(f.kind, f.value, data[f.byte_start : f.byte_end].decode("utf-8")) for f in bluesky.detect_facets(text)]


def test_mentions():
    assert _facets("@alice.bsky.social hi") == [("mention", "alice.bsky.social", "@alice.bsky.social")]
    assert _facets("héllo (@bob.test)") == [("mention", "bob.test", "@bob.test")]
    assert bluesky.detect_facets("héllo @bob.test")[0].byte_start == 7  # é is two bytes
    assert _facets("end @alice.bsky.social.") == [("mention", "alice.bsky.social", "@alice.bsky.social")]
    # Not mentions: no known TLD, invalid handle syntax, glued to a word (an e-mail address).
    assert _facets("@alice.notarealtld @-bad.com @plainname mail@example.com") == []


def test_links():
    assert _facets("see https://example.com/path.") == [("link", "https://example.com/path", "https://example.com/path")]
    assert _facets("(https://example.com/foo)") == [("link", "https://example.com/foo", "https://example.com/foo")]
    wiki = "https://en.wikipedia.org/wiki/Foo_(bar)"
    assert _facets(wiki) == [("link", wiki, wiki)]
    assert _facets("go to example.com/x!") == [("link", "https://example.com/x", "example.com/x")]
    assert _facets("HTTPS://EXAMPLE.COM") == [("link", "HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM")]
    assert _facets("file.notatld and 3.14 and a@b.com") == []


def test_hashtags():
    text = "#hello, #100 #a1 #🙂 #tag!! x#no ＃wide #日本語"
    assert [(k, v) for k, v, _ in _facets(text)] == [
        ("tag", "hello"), ("tag", "a1"), ("tag", "🙂"), ("tag", "tag"), ("tag", "wide"), ("tag", "日本語")
    ]
    assert [s for _, _, s in _facets(text)] == ["#hello", "#a1", "#🙂", "#tag", "＃wide", "#日本語"]
    assert _facets("#" + "a" * 64)[0][1] == "a" * 64
    assert _facets("#" + "a" * 65) == []
    assert _facets("#\ufe0f\u20e3 #") == []


def test_lengths_are_graphemes_and_bytes():
    family = "👨‍👩‍👧‍👦"
    result = validate("bluesky", family * 300)
    assert result.length == 300 and result.details["bytes"] == 25 * 300
    assert result.codes == ["too_many_bytes"]
    assert validate("bluesky", "e\u0301" * 300).is_valid  # 300 graphemes, 900 bytes
    long = validate("bluesky", "a" * 301)
    assert long.codes == ["too_long"] and long.remaining == -1
    with translation.override("en"):
        assert str(long.problems[0].message) == "This post is 301 characters long; Bluesky allows 300."
    assert validate("bluesky", "").codes == ["empty"]
    assert validate("bluesky", "", has_media=True).is_valid


def test_unpaired_surrogates_cannot_be_posted():
    result = validate("bluesky", "bad \ud800 text")
    assert result.codes == ["unpaired_surrogates"]
