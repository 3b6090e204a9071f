"""The spell checker: Spanish inflections, British and American English, what is never flagged,
brand words, suggestions, offsets, and hostile input."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tertulia.content import spelling
from tertulia.content.spelling import Misspelling, check


@pytest.fixture(scope="module", autouse=True)
def _loaded():
    spelling.warm_up()


def flagged(text, language, brand=()):
    return [m.word for m in check(text, language, brand)]


# --- accepting correct text -------------------------------------------------------------------


@pytest.mark.parametrize("word", [
    "desayunos", "quedamos", "vuestras", "hicimos", "hiciésemos", "estáis", "pudiera", "camiones",
    "felicidades", "cafeterías", "dímelo", "hagámoslo", "cómpraselo", "espérenlo", "vámonos", "rifársela",
    "tuitear", "buenísimos", "niñas", "vergüenza", "cigüeñas", "crecimiento",
])
def test_spanish_inflected_forms_are_accepted(word):
    assert flagged(f"Hoy {word} y mañana más.", "es") == []


@pytest.mark.parametrize("word", [
    "colour", "color", "organise", "organize", "favourite", "favorite", "centre", "center", "travelled",
    "traveled", "analyse", "analyze", "programme", "neighbours", "don't", "it's", "we're", "shouldn't",
    "recognised", "catalogue",
])
def test_english_accepts_british_and_american(word):
    assert flagged(f"We love the {word} here.", "en") == []


def test_real_spanish_sentence_has_no_flags():
    text = ("¡Buenos días! Hoy abrimos a las 8:00 con desayunos caseros, zumo natural y pan recién hecho. "
            "Si os apetece, quedamos el sábado: traed a vuestras amigas y hacemos una cata de cafés.")
    assert flagged(text, "es") == []


def test_real_english_sentence_has_no_flags():
    text = ("Our autumn menu is here: spiced pumpkin soup, organic sourdough and the best flat white "
            "in the neighbourhood. Don't miss the tasting on Saturday — bring your friends!")
    assert flagged(text, "en") == []


# --- what is never flagged --------------------------------------------------------------------


def test_entities_and_tokens_are_never_flagged():
    text = ("Mira #CafeteríaLuna y #xyzqwv, habla con @pepito_xyz o @zzkx@mastodon.social, "
            "entra en https://ejemplo.com/qwxz?utm=zzq o www.qwzx.com/abc, escribe a qwxz@cafeqz.es, "
            "oferta 2x1 y 3x2, precio 12,50 €, sube COVID19 y mp3, la ONG y la UE dicen OK, 😀🎉 "
            "$TSLA, nº 5 &amp; &gt; 1234")
    assert flagged(text, "es") == []


def test_mid_sentence_names_are_not_flagged_but_sentence_start_typos_are():
    assert flagged("Ayer vino Zyrgonia al local.", "es") == []
    assert flagged("Exelente servicio.", "es") == ["Exelente"]


def test_apostrophes():
    assert flagged("Vamos a l'Hospitalet y a d'Aro.", "es") == []
    assert flagged("Tertulia's team doesn't stop.", "en", ["Tertulia"]) == []
    assert flagged("We don’t stop.", "en") == []  # typographic apostrophe
    assert flagged("We dont'x stop.", "en") == ["dont'x"]


def test_a_word_of_the_other_language_is_accepted_only_when_long():
    assert flagged("Menudo cliffhanger el de anoche.", "es") == []
    assert flagged("Vamos aver si llueve.", "es") == ["aver"]  # "aver" is English, but not here


# --- brand words ------------------------------------------------------------------------------


def test_brand_words_are_case_insensitive_but_accent_sensitive():
    brand = ["Tertulizo", "Cafézote", "#Lunaquería"]
    assert flagged("Prueba el tertulizo y el TERTULIZO nuevo.", "es", brand) == []
    assert flagged("Prueba el cafézote.", "es", brand) == []
    assert flagged("Prueba el cafezote.", "es", brand) == ["cafezote"]
    assert flagged("La lunaquería abre hoy.", "es", brand) == []
    assert flagged("Prueba el tertulizo.", "es") == ["tertulizo"]


def test_brand_words_for_reads_dictionary_hashtags_and_signature(brand_a):
    from tertulia.content.models import BrandWord

    brand, people = brand_a
    brand.required_hashtags = ["#Cafezotería", "desayunazo"]
    brand.signature = "— Equipo Lunazul"
    brand.save()
    BrandWord.objects.create(brand=brand, word="Cruasanito", added_by=people["owner"])
    words = spelling.brand_words_for(brand)
    assert {"Cruasanito", "Cafezotería", "desayunazo", "Lunazul"} <= words
    assert flagged("El cruasanito y el desayunazo de Lunazul en la cafezotería.", "es", words) == []


# --- suggestions ------------------------------------------------------------------------------


@pytest.mark.parametrize("language,wrong,expected", [
    ("en", "recieve", "receive"),
    ("en", "accomodation", "accommodation"),
    ("en", "teh", "the"),
    ("en", "alot", "a lot"),
    ("es", "exelente", "excelente"),
    ("es", "buenisimo", "buenísimo"),
    ("es", "desallunos", "desayunos"),
    ("es", "qeremos", "queremos"),
    ("es", "aver", "a ver"),
])
def test_suggestions_rank_the_intended_word_first(language, wrong, expected):
    (m,) = check(f"Hoy {wrong} ya", language)
    assert m.word == wrong
    assert m.suggestions[0] == expected
    assert len(m.suggestions) <= spelling.MAX_SUGGESTIONS


def test_aver_suggests_both_a_ver_and_haber():
    (m,) = check("Vamos aver", "es")
    assert {"a ver", "haber"} <= set(m.suggestions[:3])


def test_suggestions_keep_capitalisation():
    (m,) = check("Exelente día.", "es")
    assert m.suggestions[0] == "Excelente"


# --- offsets ----------------------------------------------------------------------------------


def test_offsets_are_str_indices_with_emoji_and_accents():
    text = "😀👩‍👩‍👧 ¡Qué exelente día! 🇪🇸 Muchas grasias"
    found = check(text, "es")
    assert [m.word for m in found] == ["exelente", "grasias"]
    for m in found:
        assert text[m.start:m.end] == m.word
    assert "gracias" in found[1].suggestions


def test_zero_width_joiner_inside_a_word_is_ignored_but_kept_in_offsets():
    text = "Ho\u200bla, buenos dí\u200das y exe\u200dlente"
    found = check(text, "es")
    assert [m.word for m in found] == ["exe\u200dlente"]
    m = found[0]
    assert text[m.start:m.end] == m.word
    assert m.suggestions[0] == "excelente"


def test_lone_surrogates_do_not_crash_and_offsets_hold():
    text = "Hola \ud800 exelente \udfff día \ud83d"
    found = check(text, "es")
    assert [m.word for m in found] == ["exelente"]
    assert text[found[0].start:found[0].end] == "exelente"


def test_misspelling_is_a_frozen_dataclass():
    m = Misspelling(word="x", start=0, end=1, suggestions=[])
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.word = "y"


def test_unknown_language_is_refused():
    with pytest.raises(ValueError):
        check("hola", "xx")
    assert check("hola", "es-ES") == []
    assert check("colour", "en_GB") == []


# --- performance and hostile input ------------------------------------------------------------


def test_a_post_is_checked_in_a_few_milliseconds_after_warm_up():
    text = ("Este sábado celebramos nuestro aniversario con desayunos especiales, música en directo y "
            "sorpresas para quienes nos acompañáis desde el principio. Reservad mesa en el enlace de la bio, "
            "que el año pasado se llenó enseguida. ¡Os esperamos con muchas ganas y café recién molido! "
            "Gracias por estar ahí, por vuestras reseñas y por compartir con nosotros tantas mañanas.")
    check(text, "es")
    started = time.perf_counter()
    for _ in range(10):
        check(text, "es")
    assert (time.perf_counter() - started) / 10 < 0.02


def test_100_kb_of_text_is_bounded_in_time():
    junk = " ".join(f"zq{i}x qwzrt{i % 97}yy wrgplk{i % 13}" for i in range(6000))
    text = ("exelente " + junk.replace("0", "o").replace("1", "l"))[:100_000]
    started = time.perf_counter()
    found = check(text, "es")
    assert time.perf_counter() - started < 20
    assert found[0].word == "exelente" and found[0].suggestions
    assert all(m.end <= spelling.MAX_CHECKED_CHARS for m in found)
    assert all(text[m.start:m.end] == m.word for m in found)


def test_a_huge_single_token_is_skipped():
    assert check("a" * 100_000, "es") == []


def test_concurrent_checks_agree():
    results = []

    def run():
        results.append([(m.word, m.start) for m in check("Qué exelente y grasias", "es")])

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == [("exelente", 4), ("grasias", 15)] for r in results)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.one_of(
    st.characters(),  # any code point but surrogates...
    st.sampled_from(["\ud800", "\udfff", "\ud83d", "\u200d", "\u200b", "\ufe0f", "\u00ad", "\u0301"]),  # ...and these
    st.sampled_from(list("aeiouáéíóúñbcdfgrstlmn'’-#@.:/ ")),  # so that words, tags and links form
), max_size=200), st.sampled_from(["es", "en"]))
def test_check_never_crashes_and_offsets_slice_back(text, language):
    for m in check(text, language, ["Tertulia", "#Cafe"]):
        assert 0 <= m.start < m.end <= len(text)
        assert text[m.start:m.end] == m.word
        assert isinstance(m.suggestions, list)


@pytest.mark.parametrize("text", ["ab." * 30_000, "a@" * 30_000, "x-" * 50_000, "www." + "a" * 90_000,
                                  "#" + "a" * 90_000, "&" * 90_000, "l'" * 40_000])
def test_pathological_texts_take_linear_time(text):
    started = time.perf_counter()
    for m in check(text, "es"):
        assert text[m.start:m.end] == m.word
    assert time.perf_counter() - started < 15


def test_a_misspelled_brand_word_is_flagged_and_the_brand_word_suggested():
    brand = ["Tertulia", "#CaféLuna", "Cruasanazo"]
    (m,) = check("Hoy en Tertulai probamos el cruasanaso.", "es", brand)[:1]
    assert (m.word, m.suggestions[0]) == ("Tertulai", "Tertulia")
    found = check("Hoy en Tertulai probamos el cruasanaso.", "es", brand)
    assert [(f.word, f.suggestions[0]) for f in found] == [("Tertulai", "Tertulia"), ("cruasanaso", "Cruasanazo")]
    # A name far from every brand word is still left alone.
    assert check("Hoy vino Zyrgonia.", "es", brand) == []


def test_distance_helper():
    assert spelling._distance_at_most("tertulai", "tertulia", 1)  # a swap is one slip
    assert spelling._distance_at_most("cafeluna", "caféluna", 1)
    assert not spelling._distance_at_most("abcdef", "uvwxyz", 2)
    assert spelling._distance_at_most("", "ab", 2) and not spelling._distance_at_most("", "abc", 2)
