"""Brand guideline checks on a post's text."""

from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from tertulia.content import guidelines
from tertulia.core.models import Brand


def brand(**kw):
    defaults = {"name": "Café Candela", "tone": "Cercano, con humor, sin tecnicismos.",
                "banned_words": ["pésimo", "barato", "sin gluten garantizado"],
                "required_hashtags": ["#CaféDeBarrio"], "signature": "— Equipo Candela"}
    return Brand(**{**defaults, **kw})


def codes(report):
    return [(p.code, dict(p.params)) for p in report.problems]


def test_a_compliant_post_has_no_problems_and_carries_the_tone_reminder():
    report = guidelines.check(brand(), "Nuevo tostado de otoño ☕ #cafedebarrio\n— Equipo  Candela")
    assert report.problems == []
    assert report.tone.startswith("Cercano")


def test_banned_words_match_whole_words_ignoring_case_and_accents():
    report = guidelines.check(brand(), "Nada de PESIMO café ni de precios BARATOS. Sin Glúten  garantizado? #CaféDeBarrio — Equipo Candela")
    assert codes(report) == [("banned_word", {"word": "pésimo"})]  # "baratos" is not "barato"
    phrase = guidelines.check(brand(), "Pan sin gluten garantizado. #CaféDeBarrio — Equipo Candela")
    assert codes(phrase) == [("banned_word", {"word": "sin gluten garantizado"})]
    assert guidelines.check(brand(banned_words=["mal"]), "Un animal #CaféDeBarrio — Equipo Candela").problems == []
    assert [p.code for p in guidelines.check(brand(), "pésimo").errors] == ["banned_word"]


def test_missing_hashtag_and_signature_are_warnings():
    report = guidelines.check(brand(), "Hoy abrimos a las 8. #cafe")
    assert codes(report) == [("missing_hashtag", {"hashtag": "#CaféDeBarrio"}),
                             ("missing_signature", {"signature": "— Equipo Candela"})]
    assert report.errors == [] and len(report.warnings) == 2


def test_a_hashtag_inside_a_word_or_url_does_not_count():
    report = guidelines.check(brand(signature=""), "Visita https://example.com/#CaféDeBarrio o escribe a a#CaféDeBarrio")
    assert [p.code for p in report.problems] == ["missing_hashtag"]


def test_messages_are_translated():
    problem = guidelines.check(brand(), "pésimo").problems[0]
    with translation.override("es"):
        assert str(problem.message) == "«pésimo» está en la lista de palabras prohibidas de la marca."
    with translation.override("en"):
        assert str(problem.message) == "“pésimo” is on the brand's list of banned words."


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500), st.lists(st.text(max_size=20), max_size=5))
def test_never_crashes_on_any_text_or_word_list(text, words):
    report = guidelines.check(brand(banned_words=words, required_hashtags=words), text)
    assert all(p.code in ("banned_word", "missing_hashtag", "missing_signature") for p in report.problems)
