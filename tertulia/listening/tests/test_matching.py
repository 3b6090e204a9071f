"""Matcher (Aho-Corasick prefilter) and NaiveMatcher (regular expressions) agree, and are right."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tertulia.listening.matching import Document, Matcher, NaiveMatcher
from tertulia.listening.query import compile

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

QUERIES = [
    (1, "caro"),
    (2, "pésim*"),
    (3, '"muy malo"'),
    (4, "(nike OR adidas) NEAR/3 (malo OR pésim*)"),
    (5, "#nike -adidas"),
    (6, "@ana"),
    (7, "lang:en"),                      # no literal: always evaluated
    (8, "NOT caro"),                     # no literal: always evaluated
    (9, "author:bob network:mastodon"),
    (10, "nike OR (#ad lang:es)"),       # needs "nike" or "#ad"
    (11, "(nike OR"),                    # invalid
    (12, "site:elpais.com \"atención al cliente\""),
]


def test_matcher_finds_what_each_query_matches():
    matcher = Matcher(QUERIES)
    assert len(matcher) == 11
    doc = Document.of(text="Nike es PÉSIMO y muy, muy malo. Qué caro. #Nike @Ana@mastodon.social",
                      author="@bob", language="es", network="mastodon")
    assert matcher.match(doc) == [1, 2, 3, 4, 5, 6, 9, 10]
    doc = Document.of(text="La atencion al cliente, a carofa price", language="en-GB",
                      site="https://blogs.elpais.com/x")
    assert matcher.match(doc) == [7, 8, 12]
    # a plain string is a document with only text
    assert matcher.match("adidas: pésima atención") == [2, 4, 8]
    assert matcher.match("") == [8]
    for qid, text in QUERIES:
        if qid != 11:
            for d in ("Nike es PÉSIMO y muy, muy malo. Qué caro.", "adidas: pésima atención"):
                assert (qid in matcher.match(d)) is compile(text).matches(d)


def test_invalid_queries_are_skipped_and_reported():
    with translation.override("en"):
        matcher = Matcher(QUERIES)
    assert set(matcher.errors) == {11}
    assert matcher.errors[11] == "Column 7: OR needs a term after it"
    with translation.override("es"):
        naive = NaiveMatcher(QUERIES)
    assert naive.errors[11] == "Columna 7: OR necesita un término detrás"
    assert Matcher([]).match("anything") == []


def test_prefilter_lets_through_only_queries_whose_literals_appear():
    matcher = Matcher(QUERIES)
    # 7, 8 and 9 have no literal: always evaluated. "carofa" contains "caro" as a substring, but the
    # word is confirmed before query 1 is evaluated.
    assert matcher.candidates(Document.of(text="carofa")) == {7, 8, 9}
    assert matcher.candidates(Document.of(text="Caro")) == {1, 7, 8, 9}
    assert matcher.candidates(Document.of(text="nike")) == {4, 7, 8, 9, 10}
    assert matcher.candidates(Document.of(text="pesimamente")) == {2, 7, 8, 9}   # stem at a word start
    assert matcher.candidates(Document.of(text="impesimo")) == {7, 8, 9}
    assert matcher.candidates(Document.of(text="@anabel #nikes")) == {7, 8, 9}   # not the mention, nor the tag
    assert matcher.candidates(Document.of(text="un #ad y la atención al cliente")) == {7, 8, 9, 10, 12}
    assert matcher.match("carofa") == [8]
    assert 4 in matcher.candidates(Document.of(text="adidas"))


def test_document_normalises_its_metadata():
    doc = Document.of(text="Hola", author="@Ana@Mastodon.Social", language="es_MX",
                      site="https://Blogs.ElPais.com:443/x",
                      network="Twitter")
    assert (doc.author, doc.language, doc.site, doc.network) == ("ana@mastodon.social", "es", "blogs.elpais.com", "x")
    assert Document.of(text="x", site="españa.es").site == "xn--espaa-rta.es"
    assert compile("site:españa.es").matches(Document.of(text="x", site="https://www.españa.es/"))
    assert Document.of(text="Qué #Café @Ana.B ni\u200bke").words == ["que", "cafe", "ana", "b", "nike"]


def test_shared_between_threads():
    matcher = Matcher(QUERIES)
    texts = ["Nike es muy malo", "qué caro", "#nike", "@ana hola"] * 50
    expected = [matcher.match(t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(matcher.match, texts)) == expected


# -- Matcher and NaiveMatcher agree on generated queries and messages ----------------------------

VOCAB = ["caro", "CARO", "carofa", "pésimo", "PESIMA", "pesi", "nike", "Nike", "nikes", "café", "cafe", "ana",
         "Ana", "bob", "malo", "muy", "Ñu", "nu", "x_y", "a1", "ca\u0301fe", "ni\u200bke", "ＮＩＫＥ", "😀",
         "ßeta"]
SEPARATORS = [" ", " ", " ", ", ", ". ", "  ", "-", "'", "\n", "!", " #", " @", "#", "@", ".", "…", " “"]
SUFFIXES = ["", "", "", "", "@mastodon.social", ".bsky.social", "@", ".", "-x"]
message = st.one_of(
    st.lists(st.tuples(st.sampled_from(SEPARATORS), st.sampled_from(VOCAB), st.sampled_from(SUFFIXES)),
             max_size=14).map(lambda parts: "".join(a + b + c for a, b, c in parts)),
    st.text(max_size=40),
)

QWORDS = ["caro", "pésimo", "pesima", "nike", "café", "ana", "bob", "malo", "muy", "ñu", "x_y", "a1"]
atom = st.one_of(
    st.sampled_from(QWORDS),
    st.sampled_from(["pésim*", "cafe*", "nik*", "car*", "mal*"]),
    st.lists(st.sampled_from(QWORDS), min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(QWORDS).map(lambda w: "#" + w),
    st.sampled_from(QWORDS + ["ana@mastodon.social", "ana.bsky.social", "nike.bsky.social"]).map(lambda w: "@" + w),
)
near_side = st.one_of(atom, st.lists(atom, min_size=2, max_size=3).map(lambda xs: "(" + " OR ".join(xs) + ")"))
near = st.builds(lambda a, n, b: f"{a} NEAR/{n} {b}", near_side, st.integers(0, 4), near_side)
fields = st.sampled_from(["lang:es", "lang:en", "network:mastodon", "author:ana", "site:elpais.com"])
leaf = st.one_of(atom, atom, near, fields)
query_text = st.recursive(leaf, lambda kids: st.one_of(
    kids.map(lambda k: f"-{k}" if not k.startswith("-") else f"NOT ({k})"),
    st.lists(kids, min_size=2, max_size=3).map(lambda ks: "(" + " ".join(ks) + ")"),
    st.lists(kids, min_size=2, max_size=3).map(lambda ks: "(" + " OR ".join(ks) + ")"),
), max_leaves=8)
metadata = st.fixed_dictionaries({
    "author": st.sampled_from(["", "@ana", "Ana@mastodon.social", "bob"]),
    "language": st.sampled_from(["", "es", "en-US"]),
    "site": st.sampled_from(["", "elpais.com", "https://www.ELPAIS.com/x", "notelpais.com"]),
    "network": st.sampled_from(["", "mastodon", "x"]),
})


@given(st.lists(query_text, min_size=1, max_size=8), st.lists(st.tuples(message, metadata), min_size=1, max_size=6))
@SETTINGS
def test_matcher_and_naive_matcher_agree(queries, messages):
    pairs = list(enumerate(queries))
    fast, naive = Matcher(pairs), NaiveMatcher(pairs)
    assert fast.errors == naive.errors == {}
    for text, meta in messages:
        doc = Document.of(text=text, **meta)
        expected = naive.match(Document.of(text=text, **meta))
        assert fast.match(doc) == expected, (text, meta)
        assert [i for i, t in pairs if compile(t).matches(doc)] == expected
