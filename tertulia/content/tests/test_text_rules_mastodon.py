"""Mastodon: the instance's limit, URLs as 23, remote mentions as their username."""

from __future__ import annotations

import json

import pytest
import yaml

from tertulia.content.text_rules import mastodon, validate
from tertulia.content.text_rules._corpora import corpora_dir

CASSETTES = corpora_dir() / "mastodon-py-cassettes" / "cassettes"


def test_urls_count_as_23():
    assert mastodon.count("https://example.com/" + "a" * 100) == 23
    assert mastodon.count("http://a.co") == 23  # even when shorter
    assert mastodon.count("read https://example.com/x and http://t.co/y") == 5 + 23 + 5 + 23
    assert mastodon.count("example.com") == 11  # without a protocol it is plain text
    assert mastodon.count("https://example.com", url_length=30) == 30


def test_mentions_count_only_the_username():
    assert mastodon.count("@alice@mastodon.social") == len("@alice")
    assert mastodon.count("hi @alice@mastodon.social and @bob") == len("hi @alice and @bob")
    assert mastodon.count("mail me: alice@example.com") == len("mail me: alice@example.com")
    assert mastodon.countable_text("@a.b-c@x.example.org!") == "@a.b-c!"


def test_graphemes_and_content_warning():
    assert mastodon.count("🇪🇸👨‍👩‍👧") == 2
    assert mastodon.count("body", spoiler_text="CW: spoilers") == 4 + 12
    assert validate("mastodon", "🇪🇸" * 500).is_valid
    assert validate("mastodon", "🇪🇸" * 501).codes == ["too_long"]


def test_the_limit_is_the_instances():
    text = "a" * 600
    assert validate("mastodon", text).codes == ["too_long"]
    result = validate("mastodon", text, limit=1000)
    assert result.is_valid and (result.limit, result.remaining) == (1000, 400)
    msg = str(validate("mastodon", "a" * 501).problems[0].message)
    assert msg == "This post is 501 characters long; Mastodon allows 500."
    assert validate("mastodon", "").codes == ["empty"]
    assert validate("mastodon", "", has_media=True).is_valid


@pytest.mark.parametrize("name", ["test_instance.yaml", "test_instance_v1.yaml"])
def test_limits_from_a_recorded_instance(name):
    path = CASSETTES / name
    if not path.exists():
        pytest.skip(f"Mastodon.py cassettes not found at {path} (set TERTULIA_CORPORA)")
    cassette = yaml.safe_load(path.read_text(encoding="utf-8"))
    body = json.loads(cassette["interactions"][0]["response"]["body"]["string"])
    options = mastodon.limits_from_instance(body)
    assert options == {"limit": 500, "url_length": 23}
    assert validate("mastodon", "x" * 500, **options).is_valid
