"""The brand dictionary (page, services, API) and the spelling API that uses it."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tertulia.content import spelling
from tertulia.content.models import BrandWord
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, html, messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    return brand, people, Ctx(people["community_manager"], via="test")


# --- services -----------------------------------------------------------------------------------


def test_add_normalises_and_duplicates_are_a_no_op(setup):
    brand, people, ctx = setup
    word, created = spelling.do_add_brand_word(ctx, brand, "  Café   Luna\t")
    assert (word.word, created, word.added_by) == ("Café Luna", True, people["community_manager"])
    again, created = spelling.do_add_brand_word(ctx, brand, "café luna")
    assert (again.pk, created) == (word.pk, False)
    again, created = spelling.do_add_brand_word(ctx, brand, "CAFÉ LUNA")  # non-ASCII capitals too
    assert (again.pk, created) == (word.pk, False)
    # Accents matter: "Cafe Luna" is another word.
    _, created = spelling.do_add_brand_word(ctx, brand, "Cafe Luna")
    assert created
    assert BrandWord.objects.filter(brand=brand).count() == 2
    assert AuditEvent.objects.filter(brand=brand, action="brand_word.add").count() == 2


@pytest.mark.parametrize("value", ["", "   ", "\u200b\u200b", "x" * 101, XSS, "<b>", "{{ 7*7 }}", "&lt;b&gt;",
                                   "javascript:alert(1)", "`rm`", "...", "a\\b"])
def test_add_refuses_empty_long_and_markup(setup, value):
    brand, people, ctx = setup
    with pytest.raises(ValidationError) as exc:
        spelling.do_add_brand_word(ctx, brand, value)
    assert "word" in exc.value.message_dict
    assert not BrandWord.objects.filter(brand=brand).exists()


def test_remove_and_roles(setup):
    brand, people, ctx = setup
    word, _ = spelling.do_add_brand_word(ctx, brand, "Tertulizo")
    for role in ("analyst", "client_reviewer"):
        with pytest.raises(PermissionDenied):
            spelling.do_add_brand_word(Ctx(people[role]), brand, "Otro")
        with pytest.raises(PermissionDenied):
            spelling.do_remove_brand_word(Ctx(people[role]), word)
    spelling.do_remove_brand_word(ctx, word)
    assert not BrandWord.objects.filter(brand=brand).exists()
    assert AuditEvent.objects.filter(brand=brand, action="brand_word.remove").exists()


def test_a_word_added_is_no_longer_flagged(setup):
    brand, people, ctx = setup
    text = "Prueba el cruasanazo de hoy."
    assert [m.word for m in spelling.check(text, "es", spelling.brand_words_for(brand))] == ["cruasanazo"]
    spelling.do_add_brand_word(ctx, brand, "Cruasanazo")
    assert spelling.check(text, "es", spelling.brand_words_for(brand)) == []


# --- page ---------------------------------------------------------------------------------------


def test_page_lists_adds_and_removes(client, setup):
    brand, people, ctx = setup
    client.force_login(people["community_manager"])
    url = reverse("brand_dictionary", args=[brand.pk])
    response = client.post(url, {"word": "Tertulizo"}, follow=True)
    assert "“Tertulizo” added to the dictionary." in messages_of(response)
    response = client.post(url, {"word": "tertulizo"}, follow=True)
    assert "“Tertulizo” was already in the dictionary." in messages_of(response)
    word = BrandWord.objects.get(brand=brand)
    page = html(client.get(url))
    assert "Tertulizo" in page and reverse("brand_word_delete", args=[brand.pk, word.pk]) in page
    response = client.post(reverse("brand_word_delete", args=[brand.pk, word.pk]), follow=True)
    assert "“Tertulizo” removed from the dictionary." in messages_of(response)
    assert not BrandWord.objects.filter(brand=brand).exists()


def test_page_shows_errors_and_escapes(client, setup):
    brand, people, ctx = setup
    client.force_login(people["community_manager"])
    url = reverse("brand_dictionary", args=[brand.pk])
    response = client.post(url, {"word": XSS})
    assert response.status_code == 200
    assert "That looks like code" in html(response) and "<script>alert" not in html(response)
    response = client.post(url, {"word": "x" * 500})
    assert response.status_code == 200 and not BrandWord.objects.exists()


def test_page_shows_hashtags_and_signature(client, setup):
    brand, people, ctx = setup
    brand.required_hashtags = ["#CaféLuna"]
    brand.signature = "— Equipo Luna"
    brand.save()
    client.force_login(people["analyst"])
    page = html(client.get(reverse("brand_dictionary", args=[brand.pk])))
    assert "#CaféLuna" in page and "— Equipo Luna" in page


@pytest.mark.parametrize("role", ["analyst", "client_reviewer"])
def test_viewers_see_but_cannot_change(client, setup, role):
    brand, people, ctx = setup
    word, _ = spelling.do_add_brand_word(ctx, brand, "Tertulizo")
    client.force_login(people[role])
    page = html(client.get(reverse("brand_dictionary", args=[brand.pk])))
    assert "Tertulizo" in page and "Add word" not in page and "delete" not in page
    assert client.post(reverse("brand_dictionary", args=[brand.pk]), {"word": "x"}).status_code == 403
    assert client.post(reverse("brand_word_delete", args=[brand.pk, word.pk])).status_code == 403
    assert BrandWord.objects.filter(brand=brand).count() == 1


def test_another_brands_words_are_404(client, setup, brand_b):
    brand, people, ctx = setup
    other, other_people = brand_b
    theirs, _ = spelling.do_add_brand_word(Ctx(other_people["owner"]), other, "Betaword")
    client.force_login(people["community_manager"])
    assert client.post(reverse("brand_word_delete", args=[brand.pk, theirs.pk])).status_code == 404
    assert client.get(reverse("brand_dictionary", args=[other.pk])).status_code == 404
    assert "Betaword" not in html(client.get(reverse("brand_dictionary", args=[brand.pk])))
    assert BrandWord.objects.filter(pk=theirs.pk).exists()


# --- API ----------------------------------------------------------------------------------------

API = "/api/v1"


def _token(user, brand, scope="write"):
    return core_services.do_create_token(Ctx(user), f"t-{user.pk}-{scope}", {brand.pk: scope})[1]


def _api(client, method, url, raw, data=None):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(API + url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_dictionary_api(client, setup, brand_b):
    brand, people, ctx = setup
    raw = _token(people["community_manager"], brand)
    created = _api(client, "post", f"/brands/{brand.pk}/dictionary", raw, {"word": " Tertulizo "})
    assert created.status_code == 201 and created.json()["word"] == "Tertulizo"
    again = _api(client, "post", f"/brands/{brand.pk}/dictionary", raw, {"word": "TERTULIZO"})
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    listed = _api(client, "get", f"/brands/{brand.pk}/dictionary", raw).json()
    assert [w["word"] for w in listed["items"]] == ["Tertulizo"]
    for bad in ({"word": XSS}, {"word": ""}, {"word": "x" * 1000}, {"word": "ok", "extra": 1}, {}):
        assert _api(client, "post", f"/brands/{brand.pk}/dictionary", raw, bad).status_code == 422, bad
    other, other_people = brand_b
    theirs, _ = spelling.do_add_brand_word(Ctx(other_people["owner"]), other, "Betaword")
    assert _api(client, "delete", f"/brands/{brand.pk}/dictionary/{theirs.pk}", raw).status_code == 404
    assert _api(client, "get", f"/brands/{other.pk}/dictionary", raw).status_code == 404
    analyst = _token(people["analyst"], brand)
    assert _api(client, "get", f"/brands/{brand.pk}/dictionary", analyst).status_code == 200
    assert _api(client, "post", f"/brands/{brand.pk}/dictionary", analyst, {"word": "x"}).status_code == 403
    word_id = created.json()["id"]
    assert _api(client, "delete", f"/brands/{brand.pk}/dictionary/{word_id}", raw).status_code == 204
    assert BrandWord.objects.filter(brand=other).count() == 1 and not BrandWord.objects.filter(brand=brand).exists()


def test_spelling_api_uses_brand_words_and_gives_utf16_offsets(client, setup, brand_b):
    brand, people, ctx = setup
    spelling.do_add_brand_word(ctx, brand, "Cruasanazo")
    text = "😀 El cruasanazo está exelente"
    # Every POST of the API needs a write grant, even one that only computes (README, "REST API").
    read_only = _token(people["analyst"], brand, "read")
    refused = _api(client, "post", f"/brands/{brand.pk}/spelling", read_only, {"text": text, "language": "es"})
    assert refused.status_code == 403 and "may only read" in refused.json()["detail"]
    raw = _token(people["analyst"], brand, "write")
    response = _api(client, "post", f"/brands/{brand.pk}/spelling", raw, {"text": text, "language": "es"})
    assert response.status_code == 200, response.content
    (m,) = response.json()
    assert m["word"] == "exelente" and m["suggestions"][0] == "excelente"
    assert text[m["start"]:m["end"]] == "exelente"
    assert m["start_utf16"] == m["start"] + 1  # the emoji is two UTF-16 code units
    assert _api(client, "post", f"/brands/{brand.pk}/spelling", raw,
                {"text": "We recieve", "language": "en-GB"}).json()[0]["suggestions"][0] == "receive"
    assert _api(client, "post", f"/brands/{brand.pk}/spelling", raw, {"text": "x", "language": "fr"}).status_code == 422
    too_long = "a " * (spelling.MAX_CHECKED_CHARS // 2 + 10)
    assert _api(client, "post", f"/brands/{brand.pk}/spelling", raw, {"text": too_long, "language": "es"}).status_code == 422
    assert _api(client, "post", f"/brands/{brand.pk}/spelling", raw, {"language": "es"}).status_code == 422
    other, _ = brand_b
    assert _api(client, "post", f"/brands/{other.pk}/spelling", raw, {"text": "hola", "language": "es"}).status_code == 404
