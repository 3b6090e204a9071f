"""Post previews: entities highlighted per network, truncation, images, escaping."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from tertulia.content import previews
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db


def _kinds(network, text):
    return [(s.kind, s.text) for s in previews.segments(network, text) if s.kind != "text"]


def test_entities_per_network():
    text = "Mira https://example.com/x y #Otoño con @amiga. example.org"
    assert _kinds("x", text) == [("link", "https://example.com/x"), ("hashtag", "#Otoño"), ("mention", "@amiga"),
                                 ("link", "example.org")]
    # Mastodon links only URLs with a scheme.
    assert ("link", "example.org") not in _kinds("mastodon", text)
    assert ("link", "https://example.com/x") in _kinds("mastodon", text)
    # Instagram does not link URLs in captions.
    assert [k for k, _t in _kinds("instagram", text)] == ["hashtag", "mention"]
    # Bluesky: its own facet detection.
    assert ("mention", "@alpha.bsky.social") in _kinds("bluesky", "Hola @alpha.bsky.social #tag")
    assert ("hashtag", "#tag") in _kinds("bluesky", "Hola @alpha.bsky.social #tag")


def test_segments_rebuild_the_text_exactly():
    text = "👨‍👩‍👧 #uno https://a.example/b?c=d&e=f @dos\n\nfin"
    for network in previews.TRUNCATE_AT:
        assert "".join(s.text for s in previews.segments(network, text)) == text


def test_truncation_where_the_network_truncates(brand_a):
    brand, _people = brand_a
    long = ("palabra " * 40).strip() + " #final"
    ig = previews.build("instagram", long, brand=brand)
    assert ig.truncated and sum(len(s.text) for s in ig.segments) <= 125
    assert "".join(s.text for s in ig.segments + ig.more) == long
    assert not ig.segments[-1].text.endswith("pal")  # cut at a space, not inside a word
    x = previews.build("x", long, brand=brand)
    assert not x.truncated


def test_card_shows_the_account_and_is_escaped(brand_a):
    brand, people = brand_a
    account = do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha",
                             display_name=f"Zeta {XSS}")
    card = previews.build("x", f"{XSS} #tag", brand=brand, accounts=[account], first_comment=XSS)
    assert card.initial == "Z" and card.handle == "@alpha"
    html = render_to_string("content/previews/card.html", {"p": card})
    assert_escaped(html)
    assert 'class="pv-hashtag">#tag</span>' in html
    assert 'data-preview="x"' in html
