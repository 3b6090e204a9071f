"""X: the twitter-text conformance suite, run from its YAML files (one case per entry), and
the parts of our API the suite does not cover."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tertulia.content.text_rules import conformance, validate, x
from tertulia.content.text_rules._corpora import corpora_dir
from tertulia.content.text_rules._tld_data import COUNTRY_TLDS, GENERIC_TLDS

SUITE = corpora_dir() / "twitter-text-conformance"
CONFORMANCE = SUITE / "conformance"


def _load(name: str) -> dict:
    return yaml.safe_load((CONFORMANCE / name).read_text(encoding="utf-8"))


def _cases(name: str, sections=None) -> list:
    path = CONFORMANCE / name
    if not path.exists():
        reason = f"twitter-text conformance corpus not found at {path} (set TERTULIA_CORPORA)"
        return [pytest.param(None, None, id="corpus-missing", marks=pytest.mark.skip(reason=reason))]
    tests = _load(name)["tests"]
    return [
        pytest.param(section, case, id=f"{section}-{i}")
        for section, cases in tests.items()
        if sections is None or section in sections
        for i, case in enumerate(cases)
    ]


def _needs_corpus():
    if not CONFORMANCE.exists():
        pytest.skip(f"twitter-text conformance corpus not found at {CONFORMANCE} (set TERTULIA_CORPORA)")


# --------------------------------------------------------------------------------------------
# validate.yml and extract.yml (conformance.SECTIONS says which call answers each section)


@pytest.mark.parametrize("section, case", _cases("validate.yml"))
def test_validate_yml(section, case):
    assert conformance.answer("validate.yml", section, case["text"]) == case["expected"], case["description"]


@pytest.mark.parametrize("section, case", _cases("extract.yml"))
def test_extract_yml(section, case):
    assert conformance.answer("extract.yml", section, case["text"]) == case["expected"], case["description"]


@pytest.mark.parametrize("section, case", _cases("extract.yml", conformance.INDEXED))
def test_extract_yml_in_utf16_units(section, case):
    """The suite's indices are also twitter-text JavaScript's UTF-16 offsets."""
    text = case["text"]
    found = conformance.INDEXED[section](text)
    assert [list(span) for span in x.to_utf16(text, found)] == [e["indices"] for e in case["expected"]]


# --------------------------------------------------------------------------------------------
# tlds.yml: every TLD twitter-text knows, in a URL.


@pytest.mark.parametrize("section, case", _cases("tlds.yml"))
def test_tlds_yml(section, case):
    assert conformance.answer("tlds.yml", section, case["text"]) == case["expected"], case["description"]


@pytest.mark.parametrize("name", conformance.FILES)
def test_every_section_of_the_suite_is_run(name):
    _needs_corpus()
    sections = {section for section, _ in conformance.load(CONFORMANCE / name)}
    assert sections == set(conformance.SECTIONS[name])


def test_bundled_tld_list_is_the_conformance_tld_lib():
    _needs_corpus()
    lib = _load("tld_lib.yml")
    assert GENERIC_TLDS == lib["generic"]
    assert COUNTRY_TLDS == lib["country"]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_bundled_configs_are_twitter_texts(version):
    path = SUITE / "config" / f"v{version}.json"
    if not path.exists():
        pytest.skip(f"twitter-text configs not found at {path} (set TERTULIA_CORPORA)")
    assert x.XConfig.from_dict(json.loads(path.read_text())) == x.CONFIGS[version]


# --------------------------------------------------------------------------------------------
# Beyond the suite


def test_weighted_length_examples():
    assert x.weighted_length("") == 0
    assert x.weighted_length("hello") == 5
    assert x.weighted_length("日本語") == 6
    assert x.weighted_length("https://example.com/a/very/long/path/that/is/longer/than/23") == 23
    assert x.weighted_length("see example.com and t.co/xyz") == 4 + 23 + 5 + 23
    assert x.weighted_length("🇪🇸 👍🏽 👨‍👩‍👧 #️⃣") == 2 + 1 + 2 + 1 + 2 + 1 + 2
    assert x.weighted_length("👨‍👩‍👧", x.CONFIG_V2) == 8  # no emoji parsing: 3 x 2 + 2 ZWJ
    # (c) counts as an emoji only with the emoji presentation selector; ☺ followed by U+FE0E is text.
    assert x.weighted_length("©") == 1 and x.weighted_length("©\ufe0f") == 2
    assert x.weighted_length("☺\ufe0e") == 4


def test_parse_tweet_ranges_are_utf16():
    parsed = x.parse_tweet("😀" * 141)
    assert parsed.weighted_length == 282 and not parsed.valid
    assert parsed.display_range_end == 281  # 141 surrogate pairs
    assert parsed.valid_range_end == 279  # the 140th emoji ends at unit 279


def test_invalid_characters_make_a_tweet_invalid():
    parsed = x.parse_tweet("abc\ufffedef")
    assert not parsed.valid and parsed.valid_range_end == 2
    result = x.validate("abc\ufffedef")
    assert result.codes == ["invalid_characters"]


def test_entities_in_text_order_without_overlaps():
    text = "RT @alice: read https://example.com/#frag #tag $TSLA @bob/team x.com"
    kinds = [(e.kind, e.value) for e in x.extract_entities(text)]
    assert kinds == [
        ("mention", "alice"),
        ("url", "https://example.com/#frag"),
        ("hashtag", "tag"),
        ("cashtag", "TSLA"),
        ("list", "bob"),
        ("url", "x.com"),
    ]
    assert [text[e.start : e.end] for e in x.extract_entities(text)] == [
        "@alice", "https://example.com/#frag", "#tag", "$TSLA", "@bob/team", "x.com"
    ]


def test_entity_offsets_are_code_points_and_convert_to_utf16():
    text = "😀😀 #tag @user https://t.co/abc"
    entities = x.extract_entities(text)
    assert [text[e.start : e.end] for e in entities] == ["#tag", "@user", "https://t.co/abc"]
    assert x.to_utf16(text, entities) == [(5, 9), (10, 15), (16, 32)]


def test_long_urls_and_labels_are_not_urls():
    label = "a" * 64
    assert x.extract_urls(f"http://{label}.com") == []
    assert [e.value for e in x.extract_urls(f"http://{label[:63]}.com")] == [f"http://{label[:63]}.com"]
    assert x.extract_urls("http://example.com/" + "a" * 4100) == []


def test_validate_result_and_message():
    ok = validate("x", "Hello world")
    assert (ok.length, ok.limit, ok.remaining, ok.is_valid, ok.unit) == (11, 280, 269, True, "weighted")
    long = validate("twitter", "a" * 312)
    assert long.codes == ["too_long"] and long.remaining == -32
    assert str(long.problems[0].message) == "This post is 312 characters long; X allows 280."
    assert long.problems[0].params == {"length": 312, "limit": 280, "network": "X"}
    assert validate("x", "").codes == ["empty"]
    assert validate("x", "", has_media=True).is_valid
    assert validate("x", "a" * 141, config=1).codes == ["too_long"]


def test_messages_are_lazy_and_translatable():
    from django.utils import translation
    from django.utils.functional import Promise

    problem = validate("x", "a" * 300).problems[0]
    assert isinstance(problem.message, Promise) and isinstance(problem.template, Promise)
    with translation.override("en"):
        assert str(problem.message) == "This post is 300 characters long; X allows 280."


# A URL-ish alphabet, to compare the windowed scan of long texts with a plain scan.
URLISH = st.lists(
    st.sampled_from(
        ["a", "b", "co", "com", "jp", ".", ".", "/", " ", "http://", "https://", "-", "_", "日", "みんな",
         "xn--", "#", "@", "$", "(", ")", "?", "=", "1", "\u202a", "t.co/", "é", "\n", "a.", "x.y."]
    ),
    max_size=80,
).map("".join)


@given(URLISH)
@settings(max_examples=400, deadline=None)
def test_windowed_url_scan_equals_the_plain_scan(text):
    plain = [(m.span(), m.group()) for m in x._EXTRACT_URL.finditer(text)]
    windowed = [(m.span(), m.group()) for m in x._url_matches(text, short_text=0)]
    assert windowed == plain


def test_hostile_url_text_stays_linear():
    import time

    for text in ("a." * 300_000, "日." * 300_000, "a." * 300_000 + "com", "co." * 200_000, "." * 600_000):
        start = time.perf_counter()
        x.parse_tweet(text)
        x.extract_entities(text)
        assert time.perf_counter() - start < 20, text[:20]

