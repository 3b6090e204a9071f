"""Mastodon content is HTML from the network: we read plain text out of it, never trust it."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from tertulia.networks.base import normalize_text
from tertulia.networks.mastodon.html import MAX_OUTPUT, html_to_text, match_key
from tests.fakes.corpora import mastodon_cassettes


def test_paragraphs_and_line_breaks():
    assert html_to_text("<p>uno<br>dos<br />tres</p><p>cuatro</p>") == "uno\ndos\ntres\n\ncuatro"


def test_links_keep_their_full_address():
    content = ('<p><a href="https://example.com/a/very/long/path" rel="nofollow noopener" target="_blank">'
               '<span class="invisible">https://</span><span class="ellipsis">example.com/a/very/lo</span>'
               '<span class="invisible">ng/path</span></a></p>')
    assert html_to_text(content) == "https://example.com/a/very/long/path"


def test_recorded_mastodon_content():
    # Real payloads: a mention (h-card) and a hashtag as Mastodon 4.6 renders them.
    cassettes = mastodon_cassettes()
    mention = cassettes.body("test_notifications", 0)["content"]
    hashtag = cassettes.body("test_hashtag_tl", 0)["content"]
    assert html_to_text(mention) == "@mastodonpy_test hello!"
    assert html_to_text(hashtag) == "#hoot (hashtag toot)"


def test_entities_are_unescaped_once():
    assert html_to_text("<p>&lt;b&gt; &amp;lt; &quot;x&quot; &#39;y&#39; &eacute; &#x1F600;</p>") == \
        "<b> &lt; \"x\" 'y' é 😀"


def test_scripts_styles_and_comments_are_dropped():
    content = "<p>a<script>alert(1)</script>b<style>p{color:red}</style>c<!-- secret -->d</p>"
    assert html_to_text(content) == "abcd"


def test_broken_markup_still_gives_text():
    assert html_to_text("<p>sin cerrar <b>negrita <i>y más") == "sin cerrar negrita y más"
    assert html_to_text("a < b > c") == "a < b > c"  # stray brackets are text (escaped when shown)
    assert html_to_text("<p>x</p") == "x</p"
    assert html_to_text("") == "" and html_to_text(None) == ""


def test_control_and_direction_override_characters_are_removed():
    assert html_to_text("<p>a\x00b\x1bc\u202ed\u2066e\ufefff</p>") == "abcdef"
    assert html_to_text("<p>\u05e9\u05dc\u05d5\u05dd \u200f!</p>") == "\u05e9\u05dc\u05d5\u05dd \u200f!"  # RLM stays


def test_huge_input_is_bounded():
    assert len(html_to_text("<p>" + "a " * 1_000_000 + "</p>")) <= MAX_OUTPUT


def test_match_key_ignores_what_mastodon_re_renders():
    assert match_key("Hola @ana@otra.example\n\n¿qué tal?") == match_key("Hola @ana ¿qué tal?")
    assert match_key("mail me: ana@otra.example") == "mail me: ana@otra.example"  # not a mention


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=300))
def test_escaped_text_comes_back(text):
    # Whatever someone types, escaped into a paragraph, reads back as the same words.
    text = text.replace("\u202a", "").replace("\u202b", "").replace("\u202c", "").replace("\u202d", "")
    text = "".join(ch for ch in text if ch not in "\u202e\u2066\u2067\u2068\u2069\u200b\ufeff")
    assert normalize_text(html_to_text(f"<p>{html.escape(text)}</p>")) == normalize_text(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("<>/=\"'&;#pbrscit \n\t\r\x00\x1b\u202e")
                                + ["<script>", "</script>", "<p>", "</p>", "<br>", "&amp;", "&#0;", "<pre>", "<!--"]),
                max_size=80).map("".join) | st.text(max_size=300))
def test_anything_in_gives_clean_text_out(junk):
    out = html_to_text(junk)
    assert isinstance(out, str) and len(out) <= MAX_OUTPUT
    assert not any(ch in out for ch in "\x00\x1b\u202e\r\t") and "\n\n\n" not in out
    assert out == out.strip()
