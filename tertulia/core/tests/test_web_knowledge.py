"""The knowledge base pages: list and search for every member, writes for brand managers."""

import pytest
from django.urls import reverse

from tertulia.core import roles, services
from tertulia.core.models import AuditEvent, KnowledgeEntry
from tertulia.core.services import Ctx

from .web_helpers import ALL_ROLES, XSS, assert_escaped, html

pytestmark = pytest.mark.django_db

EDITORS = {r for r in ALL_ROLES if roles.MANAGE_BRAND in roles.ROLE_PERMISSIONS[r]}
VALID = {"kind": "product", "title": "Café de olla", "answer": "Lo servimos de 8 a 12.",
         "department": "Barra", "contact": "barra@example.com", "keywords": "café, olla, Café"}


def _entry(brand, people, **fields):
    data = {"kind": "faq", "title": "Horario", "answer": "De 9 a 18.", **fields}
    return services.do_save_knowledge(Ctx(people["owner"], via="test"), brand, **data)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_member_reads_the_list_only_editors_see_edit_links(client, brand_a, role):
    brand, people = brand_a
    entry = _entry(brand, people)
    client.force_login(people[role])
    response = client.get(reverse("knowledge_list", args=[brand.pk]))
    assert response.status_code == 200
    page = html(response)
    assert entry.title in page
    edit_url = reverse("knowledge_edit", args=[brand.pk, entry.pk])
    assert (edit_url in page) == (role in EDITORS)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_creating_needs_manage_brand_and_is_audited(client, brand_a, role):
    brand, people = brand_a
    user = people[role]
    client.force_login(user)
    assert client.get(reverse("knowledge_new", args=[brand.pk])).status_code == (200 if role in EDITORS else 403)
    response = client.post(reverse("knowledge_new", args=[brand.pk]), VALID)
    if role not in EDITORS:
        assert response.status_code == 403
        assert not KnowledgeEntry.objects.exists()
        return
    assert response.status_code == 302 and response["Location"] == reverse("knowledge_list", args=[brand.pk])
    entry = KnowledgeEntry.objects.get(brand=brand)
    assert entry.keywords == ["café", "olla"]
    event = AuditEvent.objects.get(action="knowledge.create")
    assert event.actor == user and event.brand == brand and event.object_id == str(entry.pk)
    assert event.changes["title"] == [None, "Café de olla"]
    assert event.changes["keywords"] == [None, ["café", "olla"]]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_editing_records_old_and_new_values(client, brand_a, role):
    brand, people = brand_a
    entry = _entry(brand, people)
    user = people[role]
    client.force_login(user)
    url = reverse("knowledge_edit", args=[brand.pk, entry.pk])
    response = client.post(url, {"kind": "faq", "title": "Horario", "answer": "De 10 a 20.", "keywords": ""})
    entry.refresh_from_db()
    if role not in EDITORS:
        assert response.status_code == 403 and entry.answer == "De 9 a 18."
        return
    assert response.status_code == 302 and entry.answer == "De 10 a 20."
    event = AuditEvent.objects.get(action="knowledge.update")
    assert event.actor == user
    assert event.changes == {"answer": ["De 9 a 18.", "De 10 a 20."]}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_deleting_needs_manage_brand(client, brand_a, role):
    brand, people = brand_a
    entry = _entry(brand, people)
    client.force_login(people[role])
    url = reverse("knowledge_delete", args=[brand.pk, entry.pk])
    assert client.get(url).status_code == (405 if role in EDITORS else 403)
    response = client.post(url)
    exists = KnowledgeEntry.objects.filter(pk=entry.pk).exists()
    if role in EDITORS:
        assert response.status_code == 302 and not exists
        event = AuditEvent.objects.get(action="knowledge.delete")
        assert event.object_repr == "Horario" and event.actor == people[role]
    else:
        assert response.status_code == 403 and exists


@pytest.mark.parametrize("field, value", [
    ("title", "t" * 201),
    ("title", ""),
    ("answer", "a" * 5001),
    ("answer", ""),
    ("kind", "rumour"),
    ("department", "d" * 121),
    ("contact", "c" * 201),
    ("keywords", "k" * 1001),
])
def test_hostile_values_are_form_errors(client, brand_a, field, value):
    brand, people = brand_a
    client.force_login(people["manager"])
    response = client.post(reverse("knowledge_new", args=[brand.pk]), {**VALID, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field)
    assert not KnowledgeEntry.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="knowledge.").exists()


def test_markup_in_title_and_answer_is_stored_verbatim_and_escaped(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    client.post(reverse("knowledge_new", args=[brand.pk]), {**VALID, "title": XSS, "answer": XSS, "department": XSS})
    entry = KnowledgeEntry.objects.get(brand=brand)
    assert entry.title == XSS and entry.answer == XSS and entry.department == XSS
    assert_escaped(html(client.get(reverse("knowledge_list", args=[brand.pk]))))
    assert_escaped(html(client.get(reverse("knowledge_edit", args=[brand.pk, entry.pk]))))
    client.force_login(people["client_reviewer"])
    assert_escaped(html(client.get(reverse("knowledge_list", args=[brand.pk]))))


def test_search_and_kind_filter(client, brand_a):
    brand, people = brand_a
    _entry(brand, people, title="Horario de verano", answer="De 9 a 15.")
    _entry(brand, people, kind="product", title="Tarta de queso", answer="Sin gluten bajo pedido.")
    _entry(brand, people, kind="department", title="Reclamaciones", answer="Escribe a atencion@example.com")
    client.force_login(people["analyst"])
    url = reverse("knowledge_list", args=[brand.pk])

    def titles(**params):
        return [e.title for e in client.get(url, params).context["page"]]

    assert titles(q="gluten") == ["Tarta de queso"]  # matches the answer
    assert titles(q="horario") == ["Horario de verano"]  # case-insensitive, the title
    assert titles(kind="department") == ["Reclamaciones"]
    # An unknown kind is ignored (all kinds, ordered by kind then title).
    assert titles(kind="not-a-kind") == ["Reclamaciones", "Horario de verano", "Tarta de queso"]
    assert titles(q="x" * 5000) == []  # absurd input is cut, not an error
    assert client.get(url, {"page": "9999"}).status_code == 200
    assert client.get(url, {"page": "<script>"}).status_code == 200


def test_list_pages_by_25(client, brand_a):
    brand, people = brand_a
    for i in range(30):
        _entry(brand, people, title=f"Entry {i:02d}")
    client.force_login(people["owner"])
    url = reverse("knowledge_list", args=[brand.pk])
    first = client.get(url)
    assert len(first.context["page"]) == 25
    second = client.get(url, {"page": 2})
    assert len(second.context["page"]) == 5
    assert 'rel="prev"' in html(second)


def test_entry_of_another_brand_is_not_found_even_with_my_brand_in_the_url(client, brand_a, brand_b):
    brand, people = brand_a
    other = _entry(*brand_b, title="Beta only")
    client.force_login(people["owner"])
    assert client.get(reverse("knowledge_edit", args=[brand.pk, other.pk])).status_code == 404
    assert client.post(reverse("knowledge_delete", args=[brand.pk, other.pk])).status_code == 404
    assert KnowledgeEntry.objects.filter(pk=other.pk).exists()


def test_reflected_search_and_query_strings_are_escaped(client, brand_a):
    brand, people = brand_a
    for i in range(30):
        _entry(brand, people, title=f"Entry {i:02d}")
    client.force_login(people["analyst"])
    url = reverse("knowledge_list", args=[brand.pk])
    page = html(client.get(url, {"q": XSS}))
    assert_escaped(page)  # the search box shows what was typed, as text
    # Pagination links carry the other parameters along, encoded.
    page = html(client.get(url, {"kind": "faq", XSS: XSS}))
    assert 'rel="next"' in page and "<script>alert" not in page and "%3Cscript%3E" in page
