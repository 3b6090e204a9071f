"""The es and en catalogs are complete, compiled, and templates carry no unmarked text."""

import polib
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tertulia.core import catalogs, i18n_extract


def _catalog(lang):
    return polib.pofile(str(catalogs.LOCALE_DIR / lang / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_marked_string_is_translated(lang):
    catalog = _catalog(lang)
    entries = {e.msgid: e for e in catalog if not e.obsolete}
    plural_ids = {e.msgid_plural: e for e in catalog if e.msgid_plural}
    missing, untranslated = [], []
    for msgid, where in sorted(i18n_extract.all_msgids().items()):
        entry = entries.get(msgid) or plural_ids.get(msgid)
        if entry is None:
            missing.append(f"{where}: {msgid!r}")
        elif not entry.translated() or "fuzzy" in entry.flags:
            untranslated.append(f"{where}: {msgid!r}")
    assert not missing, f"{len(missing)} strings missing from {lang} catalog (run `make messages`):\n" + "\n".join(missing)
    assert not untranslated, f"{len(untranslated)} untranslated in {lang}:\n" + "\n".join(untranslated)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_placeholders_survive_translation(lang):
    import re

    ph = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
    bad = [e.msgid for e in _catalog(lang) if e.translated() and not e.msgid_plural
           and sorted(ph.findall(e.msgid)) != sorted(ph.findall(e.msgstr))]
    assert not bad, f"placeholders differ in {lang}: {bad}"


def test_templates_have_no_unmarked_text():
    offenders = {}
    for path in i18n_extract.template_files():
        words = i18n_extract.untranslated_text(path.read_text())
        if words:
            offenders[str(path)] = words[:8]
    assert not offenders, f"visible text outside {{% translate %}}: {offenders}"


def test_the_detector_catches_unmarked_text():
    # The check above must be able to fail.
    assert i18n_extract.untranslated_text("<p>Hello there</p>") == ["Hello", "there"]
    assert i18n_extract.untranslated_text('<input placeholder="Search posts">') == ["Search", "posts"]
    assert i18n_extract.untranslated_text("<p>{% translate 'Hello' %} {{ name }}</p>") == []


def test_compiled_catalog_is_used():
    catalogs.compile_all()
    with translation.override("es"):
        assert translation.gettext("Calendar") == "Calendario"
    with translation.override("en"):
        assert translation.gettext("Calendar") == "Calendar"


@pytest.mark.django_db
def test_login_page_in_both_languages():
    es = Client(HTTP_ACCEPT_LANGUAGE="es").get(reverse("login")).content.decode()
    en = Client(HTTP_ACCEPT_LANGUAGE="en").get(reverse("login")).content.decode()
    assert 'lang="es"' in es and "Iniciar sesión" in es
    assert 'lang="en"' in en and "Sign in" in en
