"""Instagram, LinkedIn, Threads, Telegram and Facebook: plain limits, each counted its way,
and the common API."""

from __future__ import annotations

import pytest

from tertulia.content.text_rules import NETWORKS, instagram, validate

EMOJI = "😀"  # outside the BMP: 1 code point, 2 UTF-16 units


@pytest.mark.parametrize(
    "network, limit, unit",
    [
        ("instagram", 2200, "code_points"),
        ("linkedin", 3000, "utf16_units"),
        ("telegram", 4096, "utf16_units"),
        ("facebook", 63206, "code_points"),
    ],
)
def test_limits_and_units(network, limit, unit):
    per_emoji = 2 if unit == "utf16_units" else 1
    fits = validate(network, EMOJI * (limit // per_emoji))
    assert fits.is_valid and fits.length == limit and fits.remaining == 0 and fits.unit == unit
    over = validate(network, EMOJI * (limit // per_emoji) + "a")
    assert over.codes == ["too_long"] and over.length == limit + 1
    assert over.problems[0].params == {"length": limit + 1, "limit": limit, "network": over.problems[0].params["network"]}


def test_threads_counts_an_emoji_as_its_utf8_bytes():
    """Meta's Threads limitation: 500 characters, each emoji counting its UTF-8 bytes. The
    connector refuses by the same count (threads/connector.py), so the composer agrees."""
    assert validate("threads", "ñandú ☕").length == 9  # letters 1 each (also accented), ☕ 3
    fits = validate("threads", EMOJI * 125)
    assert fits.is_valid and fits.length == 500 and fits.unit == "emoji_utf8_bytes"
    over = validate("threads", EMOJI * 125 + "a")
    assert over.codes == ["too_long"] and over.length == 501
    assert validate("threads", "a" * 500).is_valid and not validate("threads", "á" * 501).is_valid


def test_instagram_hashtags_and_mentions():
    tags = " ".join(f"#tag{i}" for i in range(30))
    assert validate("instagram", tags).is_valid
    too_many = validate("instagram", tags + " #one_more")
    assert too_many.codes == ["too_many_hashtags"]
    assert str(too_many.problems[0].message) == "This post has 31 hashtags; Instagram allows 30."
    people = " ".join(f"@user.{i}" for i in range(20))
    assert validate("instagram", people).is_valid
    too_many_people = validate("instagram", people + " @more_people")
    assert too_many_people.codes == ["too_many_mentions"]
    assert str(too_many_people.problems[0].message) == "This post has 21 mentions; Instagram allows 20."
    assert instagram.mentions("write me@example.com or @real.user. thanks") == ["real.user"]
    assert instagram.hashtags("a#b c&#39; #_ #ok #日本") == ["ok", "日本"]
    assert validate("instagram", "").is_valid  # a post always has its media


def test_telegram_captions():
    caption = validate("telegram", "a" * 1025, caption=True)
    assert caption.codes == ["caption_too_long"] and caption.limit == 1024
    assert str(caption.problems[0].message) == "This caption is 1025 characters long; Telegram allows 1024 in a caption."
    assert validate("telegram", "", caption=True).is_valid
    assert validate("telegram", "").codes == ["empty"]
    assert validate("telegram", "a" * 1025).is_valid


def test_the_common_api():
    assert set(NETWORKS) == {"x", "bluesky", "mastodon", "instagram", "linkedin", "threads", "telegram", "facebook"}
    assert validate("Twitter", "hi").network == "x"
    with pytest.raises(ValueError, match="unknown network"):
        validate("myspace", "hi")
    with pytest.raises(TypeError):
        validate("x", b"bytes")
    with pytest.raises(TypeError):
        validate("linkedin", "hi", caption=True)
    for network in NETWORKS:
        result = validate(network, "hello")
        assert result.is_valid and result.problems == [] and result.remaining == result.limit - result.length
        assert validate(network, "bad \udc00").codes == ["unpaired_surrogates"]
