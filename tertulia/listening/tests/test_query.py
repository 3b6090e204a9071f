"""The boolean query language: semantics in Spanish and English, errors, limits, properties."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tertulia.listening import query as q
from tertulia.listening.matching import Document, Matcher
from tertulia.listening.query import (And, Field, Hashtag, Mention, Near, Not, Or, Phrase, Prefix, QueryError, Term,
                                      compile, parse)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hit(query: str, text: str, **meta) -> bool:
    return compile(query).matches(Document.of(text=text, **meta))


@pytest.mark.parametrize("query,text,expected", [
    # words: accent- and case-insensitive, whole words only
    ("caro", "¡Qué CARO está el menú!", True),
    ("caro", "La carofa no es cara", False),
    ("cafe", "Un CAFÉ con leche", True),
    ("Café", "cafe solo", True),
    ("nike", "I love #Nike and @nike", True),
    ("nike", "nikes are great", False),
    # prefixes
    ("pésim*", "El servicio es PESIMA", True),
    ("pésim*", "pésimo trato", True),
    ("pésim*", "es muy pesi", False),
    ("pésim*", "impésimo", False),
    # phrases, across punctuation and spaces, not across other words
    ('"muy malo"', "Es MUY   malo, la verdad", True),
    ('"muy malo"', "muy, muy poco malo", False),
    ('"atención al cliente"', "La Atencion al Cliente fue lenta", True),
    ("coca-cola", "I want a Coca Cola now", True),
    ("coca-cola", "coca and then cola", False),
    ("l'oréal", "L'Oreal launched", True),
    # hashtags and mentions
    ("#nike", "Buying #NIKE today", True),
    ("#nike", "Buying nike today", False),
    ("#nike", "Buying #nikeair today", False),
    ("#café", "un #cafe por favor", True),
    ("@ana", "hola @Ana, ¿qué tal?", True),
    ("@ana", "hola @ana@mastodon.social", True),
    ("@ana@mastodon.social", "hola @ana@mastodon.social", True),
    ("@ana@mastodon.social", "hola @ana@other.example", False),
    ("@ana", "write to ana@example.com", False),
    ("@ana", "hola @ana.bsky.social", False),
    ("@ana.bsky.social", "hola @ana.bsky.social!", True),
    # boolean operators and precedence
    ("nike AND caro", "Nike is caro", True),
    ("nike caro", "Nike is cheap", False),
    ("nike OR adidas", "Adidas shoes", True),
    ("nike -adidas", "nike vs adidas", False),
    ("nike NOT adidas", "nike only", True),
    ("nike OR adidas caro", "adidas is cheap", False),      # nike OR (adidas AND caro)
    ("nike OR adidas caro", "nike is cheap", True),
    ("(nike OR adidas) caro", "nike is cheap", False),
    ("NOT nike OR adidas", "adidas and nike", True),        # (NOT nike) OR adidas
    ("NOT (nike OR adidas)", "adidas and nike", False),
    ("NOT caro", "barato", True),
    # NEAR
    ("nike NEAR/2 caro", "Nike es muy caro", True),
    ("nike NEAR/2 caro", "caro, muy caro es Nike", True),   # either order
    ("nike NEAR/1 caro", "Nike es muy caro", False),
    ("nike NEAR/0 caro", "nike caro", True),
    ('"muy caro" NEAR/3 #nike', "es muy caro, dicen de #Nike", True),
    ("(nike OR adidas) NEAR/3 (malo OR pésim*)", "Adidas: servicio PÉSIMO", True),
    ("(nike OR adidas) NEAR/3 (malo OR pésim*)", "Adidas tiene un servicio de atención pésimo", False),
    ("nike NEAR/5 nike", "nike", False),
    ("nike NEAR/5 nike", "nike y nike", True),
    ("@ana NEAR/1 caro", "@ana@mastodon.social muy caro", True),
    # English
    ("terrible NEAR/3 (service OR support)", "The SUPPORT was truly terrible", True),
    ('"customer service" -#ad', "Great customer service! #ad", False),
    ("refund*", "Refunds are slow", True),
])
def test_examples(query, text, expected):
    assert hit(query, text) is expected


def test_fields():
    doc = dict(text="hola", author="@Ana@mastodon.social", language="es-ES", site="https://noticias.elpais.com/a",
               network="twitter")
    assert hit("author:ana", **doc)
    assert hit("author:@ana@mastodon.social", **doc)
    assert not hit("author:bob", **doc)
    assert hit("lang:es", **doc) and not hit("lang:en", **doc)
    assert hit("site:elpais.com", **doc) and hit("site:www.elpais.com", **doc)
    assert not hit("site:pais.com", **doc)
    assert hit("network:x", **doc) and hit("network:twitter", **doc) and not hit("network:bluesky", **doc)
    assert hit("hola lang:es -network:mastodon", **doc)
    # Spanish aliases of the fields
    assert hit("autor:ana idioma:es sitio:elpais.com red:x", **doc)
    # fields never match the text itself
    assert not hit("lang:es", text="lang es")


def test_precedence_trees():
    assert parse("a b OR c") == Or((And((Term("a"), Term("b"))), Term("c")))
    assert parse("NOT a b") == And((Not(Term("a")), Term("b")))
    assert parse("a OR b AND NOT c") == Or((Term("a"), And((Term("b"), Not(Term("c"))))))
    assert parse("-a NEAR/2 b") == Not(Near(Term("a"), Term("b"), 2))
    assert parse("(a OR b) (c OR d)") == And((Or((Term("a"), Term("b"))), Or((Term("c"), Term("d")))))
    assert parse("Pésim* #Ñu @Ana \"Muy  Malo\" lang:ES") == And((
        Prefix("pesim"), Hashtag("nu"), Mention("ana"), Phrase(("muy", "malo")), Field("lang", "es")))
    # lower-case operators are words
    assert parse("a or b") == And((Term("a"), Term("or"), Term("b")))


@pytest.mark.parametrize("text,column,en,es", [
    ("", 1, "Column 1: the query is empty", "Columna 1: la consulta está vacía"),
    ("   ", 1, "Column 1: the query is empty", "Columna 1: la consulta está vacía"),
    ("(nike OR adidas", 1, "Column 1: a closing parenthesis is missing", "Columna 1: falta un paréntesis de cierre"),
    ("nike OR adidas)", 15, "Column 15: this closing parenthesis has no opening one",
     "Columna 15: este paréntesis de cierre no tiene uno de apertura"),
    ("nike AND", 6, "Column 6: AND needs a term after it", "Columna 6: AND necesita un término detrás"),
    ("(nike OR) caro", 7, "Column 7: OR needs a term after it", "Columna 7: OR necesita un término detrás"),
    ("OR nike", 1, "Column 1: OR needs a term before it", "Columna 1: OR necesita un término delante"),
    ("nike NOT", 6, "Column 6: NOT needs a term after it", "Columna 6: NOT necesita un término detrás"),
    ("nike NEAR caro", 6, "Column 6: NEAR needs a number, as in NEAR/5",
     "Columna 6: NEAR necesita un número, como en NEAR/5"),
    ("nike NEAR/x caro", 6, "Column 6: NEAR needs a number", "Columna 6: NEAR necesita un número"),
    ("nike NEAR/500 caro", 6, "at most 50 words", "como máximo 50 palabras"),
    ("nike NEAR/2 lang:es", 13, "Column 13: NEAR joins words", "Columna 13: NEAR une palabras"),
    ("(a b) NEAR/2 c", 1, "Column 1: NEAR joins words", "Columna 1: NEAR une palabras"),
    ("a NEAR/2 b NEAR/2 c", 12, "NEAR joins just two terms", "NEAR une solo dos términos"),
    ('"muy malo', 1, "Column 1: the quotes are not closed", "Columna 1: faltan las comillas de cierre"),
    ('nike ""', 6, "Column 6: the phrase has no letters", "Columna 6: la frase no tiene letras"),
    ("pé*", 1, "at least 3 letters", "al menos 3 letras"),
    ("pé*simo", 3, "Column 3: the asterisk goes at the end", "Columna 3: el asterisco va al final"),
    ("# nike", 1, "Column 1: a hashtag is #", "Columna 1: un hashtag es #"),
    ("hola @", 6, "Column 6: a mention is @", "Columna 6: una mención es @"),
    ("lang:", 1, "Column 1: lang: needs a value, as in lang:es", "Columna 1: lang: necesita un valor, como en lang:es"),
    ("lang:spanish", 6, "“spanish” is not a language code", "«spanish» no es un código de idioma"),
    ("network:myspace", 9, "“myspace” is not a network", "«myspace» no es una red"),
    ("site:not_a domain", 6, "“not_a” is not a domain", "«not_a» no es un dominio"),
    ("author:a!b", 8, "“a!b” is not a handle", "«a!b» no es un usuario"),
    ("nike ()", 6, "Column 6: the parentheses are empty", "Columna 6: los paréntesis están vacíos"),
    ("nike ...", 6, "“...” has no letters or digits", "«...» no tiene letras ni cifras"),
    ("nike -", 6, "Column 6: - needs a term after it", "Columna 6: - necesita un término detrás"),
])
def test_errors_say_where_and_why_in_both_languages(text, column, en, es):
    for lang, expected in (("en", en), ("es", es)):
        with translation.override(lang):
            with pytest.raises(QueryError) as info:
                compile(text)
            assert info.value.column == column
            assert expected in str(info.value)
            assert expected in info.value.messages[0]
            assert isinstance(info.value, ValidationError)


@translation.override("en")
def test_limits_refuse_pathological_queries():
    with pytest.raises(QueryError, match="longer than 2000"):
        compile("a " * 1001)
    with pytest.raises(QueryError, match="more than 200 terms"):
        compile(" OR ".join(f"w{i}" for i in range(201)))
    compile(" OR ".join(f"w{i}" for i in range(200)))
    with pytest.raises(QueryError, match="nested more than 12"):
        compile("(" * 13 + "a" + ")" * 13)
    compile("(" * 12 + "a" + ")" * 12)
    with pytest.raises(QueryError, match="nested more than 24"):
        compile("NOT " * 25 + "a")
    # the deepest query allowed still compiles into a matcher, and long repetitive messages stay fast
    deepest = "NOT " * 23 + "(" * 10 + "-x (a OR b NEAR/50 (c OR ddd*))" + ")" * 10
    matcher = Matcher([(1, deepest), (2, " OR ".join(f"w{i} NEAR/50 v{i}" for i in range(100)))])
    assert matcher.errors == {}
    start = time.perf_counter()
    assert matcher.match(Document.of(text="w1 " * 3000 + "v1 " * 3000)) == [1, 2]
    assert time.perf_counter() - start < 2


def test_query_keeps_its_text_and_prints_canonically():
    query = compile("Nike  -Adidas")
    assert query.text == "Nike  -Adidas"
    assert str(query) == "nike AND NOT adidas"
    assert query.matches("NIKE!") and not query.matches("nike adidas")


# -- properties ----------------------------------------------------------------------------------

PIECES = ["a", "nike", "Pésim*", "*", "#", "@", "(", ")", '"', "“", "-", ":", "/", " ", "  ", "\n", "AND", "OR",
          "NOT", "NEAR", "NEAR/2", "NEAR/", "lang:", "author:", "site:", "network:", "es", "x", "ñ", "É", "0",
          "\u200b", "é", "ﬁ", "İ", "ß", ".", "'", "_", "😀"]
query_text = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=30).map("".join),
    st.lists(st.sampled_from(PIECES), max_size=15).map(" ".join),
    st.text(max_size=80),
)


@given(query_text)
@SETTINGS
@translation.override("en")
def test_the_parser_never_crashes(text):
    try:
        query = compile(text)
    except QueryError as exc:
        assert exc.column >= 1
        assert str(exc).startswith("Column ")
        return
    # whatever parses prints to a query that parses to the same tree
    assert parse(str(query.tree)) == query.tree
    query.matches(Document.of(text=text))


WORDS = st.sampled_from(["nike", "caro", "pesimo", "cafe", "ana", "a1", "x_y", "or", "and", "near", "n2", "nu"])


def _flatten(node):
    if isinstance(node, (And, Or)):
        kids = []
        for c in node.children:
            c = _flatten(c)
            kids.extend(c.children if type(c) is type(node) else (c,))
        return type(node)(tuple(kids))
    if isinstance(node, Not):
        return Not(_flatten(node.child))
    return node


positional = st.one_of(
    WORDS.map(Term),
    WORDS.filter(lambda w: len(w) >= 3).map(Prefix),
    st.lists(WORDS, min_size=2, max_size=3).map(tuple).map(Phrase),
    WORDS.map(Hashtag),
    st.one_of(WORDS, st.sampled_from(["ana@mastodon.social", "ana.bsky.social", "b-c"])).map(Mention),
)
near_side = st.one_of(positional, st.lists(positional, min_size=2, max_size=3).map(tuple).map(Or))
leaf = st.one_of(
    positional,
    st.builds(Near, near_side, near_side, st.integers(0, 50)),
    st.builds(Field, st.just("lang"), st.sampled_from(["es", "en", "cat"])),
    st.builds(Field, st.just("network"), st.sampled_from(q.NETWORKS)),
    st.builds(Field, st.just("site"), st.sampled_from(["elpais.com", "a-b.example.org"])),
    st.builds(Field, st.just("author"), st.sampled_from(["ana", "ana@mastodon.social"])),
)
trees = st.recursive(leaf, lambda kids: st.one_of(
    kids.map(Not),
    st.lists(kids, min_size=2, max_size=3).map(tuple).map(And),
    st.lists(kids, min_size=2, max_size=3).map(tuple).map(Or),
), max_leaves=12).map(_flatten)


@given(trees)
@SETTINGS
def test_printing_and_parsing_again_gives_the_same_tree(tree):
    assert parse(str(tree)) == tree


def test_the_help_shows_examples_that_compile_in_both_languages():
    import html
    import re

    from django.template.loader import render_to_string

    for lang, sample in (("en", "terribl*"), ("es", "pésim*")):
        with translation.override(lang):
            page = render_to_string("listening/_query_help.html")
        examples = [html.unescape(x) for x in re.findall(r"<code>(.*?)</code>", page)]
        assert sample in examples and len(examples) >= 15
        for example in examples:
            compile(example)  # every example in the help is a valid query
