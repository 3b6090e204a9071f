"""The strategy pages: objectives with KPI targets, pillars with their planned mix, and the
KPI formulas. Everyone who can see the brand reads them; owners and managers edit."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from tertulia.core import roles
from tertulia.core.middleware import CSP
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import ALL_ROLES, XSS, assert_escaped, html, messages_of
from tertulia.strategy import services
from tertulia.strategy.models import KPI, ContentPillar, Objective

pytestmark = pytest.mark.django_db

EDITORS = {r for r in ALL_ROLES if roles.MANAGE_BRAND in roles.ROLE_PERMISSIONS[r]}
VALID_OBJECTIVE = {"name": "Crecer en Instagram", "period_start": "2030-01-01", "period_end": "2030-03-31"}


def _objective(brand, people, **kw):
    data = {"name": "Crecer", "period_start": date(2030, 1, 1), "period_end": date(2030, 3, 31),
            "kpis": [("web_visits", 18000), ("engagement_rate_reach", "4.5"), ("response_time", 2)], **kw}
    return services.do_create_objective(Ctx(people["owner"], via="test"), brand, **data)


def _pillar(brand, people, **kw):
    data = {"name": "Educativo", "target_share": 40, "color": "#2563eb", **kw}
    return services.do_save_pillar(Ctx(people["owner"], via="test"), brand, **data)


def _url(name, brand, *args):
    return reverse(name, args=[brand.pk, *args])


# --- Reading ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_member_reads_objectives_only_editors_see_edit_links(client, brand_a, role):
    brand, people = brand_a
    objective = _objective(brand, people)
    client.force_login(people[role])
    response = client.get(_url("strategy_objectives", brand))
    assert response.status_code == 200
    page = html(response)
    assert "Crecer" in page and "Web visits from social" in page
    assert (_url("strategy_objective_edit", brand, objective.pk) in page) == (role in EDITORS)
    assert (_url("strategy_objective_new", brand) in page) == (role in EDITORS)
    assert _url("strategy_kpi_formulas", brand) in page  # the formulas are a click away


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_member_reads_pillars_and_formulas(client, brand_a, role):
    brand, people = brand_a
    pillar = _pillar(brand, people)
    client.force_login(people[role])
    page = html(client.get(_url("strategy_pillars", brand)))
    assert "Educativo" in page
    assert (_url("strategy_pillar_edit", brand, pillar.pk) in page) == (role in EDITORS)
    formulas = client.get(_url("strategy_kpi_formulas", brand))
    assert formulas.status_code == 200
    assert "(likes + comments + shares + saves) / reach × 100" in html(formulas)


def test_strategy_tab_in_the_settings(client, brand_a):
    brand, people = brand_a
    client.force_login(people["analyst"])
    for page in (html(client.get(_url("brand_settings", brand))), html(client.get(_url("strategy_pillars", brand)))):
        assert f'href="{_url("strategy_objectives", brand)}"' in page
    page = html(client.get(_url("strategy_pillars", brand)))
    assert re.search(r'href="%s"[^>]*aria-current="page"' % re.escape(_url("strategy_objectives", brand)), page)


def test_targets_and_dates_follow_the_users_language(client, brand_a):
    brand, people = brand_a
    _objective(brand, people)
    user = people["analyst"]
    client.force_login(user)
    user.language = "es"
    user.save()
    page = html(client.get(_url("strategy_objectives", brand)))
    assert ">18\xa0000<" in page and ">4,5 %<" in page and ">2 h<" in page
    assert "Del 01/01/2030 al 31/03/2030" in page and "Objetivos y KPI" in page
    user.language = "en"
    user.save()
    page = html(client.get(_url("strategy_objectives", brand)))
    assert ">18,000<" in page and ">4.5 %<" in page and ">2 h<" in page
    assert "From 01/01/2030 to 03/31/2030" in page


def test_objective_status_against_today(client, brand_a):
    brand, people = brand_a
    today = date.today()
    _objective(brand, people, name="Pasado", period_start=date(2000, 1, 1), period_end=date(2000, 2, 1), kpis=[])
    _objective(brand, people, name="Futuro", period_start=date(today.year + 2, 1, 1),
               period_end=date(today.year + 2, 2, 1), kpis=[])
    _objective(brand, people, name="Ahora", period_start=date(2000, 1, 1), period_end=date(today.year + 1, 1, 1), kpis=[])
    client.force_login(people["owner"])
    response = client.get(_url("strategy_objectives", brand))
    statuses = {r["objective"].name: r["status"] for r in response.context["rows"]}
    assert statuses == {"Pasado": "past", "Futuro": "upcoming", "Ahora": "current"}


# --- Objectives: writing -------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_creating_an_objective_needs_manage_brand_and_is_audited(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    url = _url("strategy_objective_new", brand)
    assert client.get(url).status_code == (200 if role in EDITORS else 403)
    response = client.post(url, VALID_OBJECTIVE)
    if role not in EDITORS:
        assert response.status_code == 403 and not Objective.objects.exists()
        return
    objective = Objective.objects.get(brand=brand)
    assert response.status_code == 302 and response["Location"] == _url("strategy_objective_edit", brand, objective.pk)
    assert (objective.name, objective.period_start, objective.period_end) == (
        "Crecer en Instagram", date(2030, 1, 1), date(2030, 3, 31))
    event = AuditEvent.objects.get(action="objective.create")
    assert event.actor == people[role] and event.via == "web" and event.object_id == str(objective.pk)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_editing_and_deleting_an_objective(client, brand_a, role):
    brand, people = brand_a
    objective = _objective(brand, people)
    client.force_login(people[role])
    edit = _url("strategy_objective_edit", brand, objective.pk)
    response = client.post(edit, {**VALID_OBJECTIVE, "name": "Crecer más"})
    objective.refresh_from_db()
    if role not in EDITORS:
        assert response.status_code == 403 and objective.name == "Crecer"
        assert client.post(_url("strategy_objective_delete", brand, objective.pk)).status_code == 403
        assert Objective.objects.filter(pk=objective.pk).exists()
        return
    assert response.status_code == 302 and objective.name == "Crecer más"
    assert AuditEvent.objects.get(action="objective.update").changes["name"] == ["Crecer", "Crecer más"]
    assert client.get(_url("strategy_objective_delete", brand, objective.pk)).status_code == 405
    response = client.post(_url("strategy_objective_delete", brand, objective.pk))
    assert response.status_code == 302 and not Objective.objects.exists() and not KPI.objects.exists()
    assert AuditEvent.objects.get(action="objective.delete").actor == people[role]


@pytest.mark.parametrize("field, value", [
    ("name", "n" * 201),
    ("name", ""),
    ("period_start", "not a date"),
    ("period_end", "2030-13-45"),
    ("period_end", "2029-12-31"),  # before the start
])
def test_hostile_objectives_are_form_errors(client, brand_a, field, value):
    brand, people = brand_a
    client.force_login(people["manager"])
    response = client.post(_url("strategy_objective_new", brand), {**VALID_OBJECTIVE, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field)
    assert not Objective.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="objective.").exists()


def test_failed_edit_keeps_the_saved_objective_on_the_page(client, brand_a):
    brand, people = brand_a
    objective = _objective(brand, people)
    client.force_login(people["owner"])
    response = client.post(_url("strategy_objective_edit", brand, objective.pk),
                           {**VALID_OBJECTIVE, "period_start": "2030-05-01"})
    assert response.status_code == 200
    assert "The end comes before the start." in html(response)
    objective.refresh_from_db()
    assert objective.period_start == date(2030, 1, 1)


# --- KPI targets: writing ------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_adding_editing_and_deleting_kpis(client, brand_a, role):
    brand, people = brand_a
    objective = _objective(brand, people, kpis=[])
    client.force_login(people[role])
    new = _url("strategy_kpi_new", brand, objective.pk)
    response = client.post(new, {"metric": "response_time", "target": "1.5", "better": ""})
    if role not in EDITORS:
        assert response.status_code == 403 and not KPI.objects.exists()
        assert client.get(_url("strategy_objective_edit", brand, objective.pk)).status_code == 403
        return
    assert response.status_code == 302 and response["Location"] == _url("strategy_objective_edit", brand, objective.pk)
    kpi = KPI.objects.get()
    assert (kpi.metric, kpi.target, kpi.lower_is_better, kpi.brand_id) == ("response_time", Decimal("1.50"), True, brand.pk)
    assert AuditEvent.objects.get(action="kpi.create").actor == people[role]
    # The objective page lists it with its own small edit and delete forms.
    page = html(client.get(_url("strategy_objective_edit", brand, objective.pk)))
    assert _url("strategy_kpi_edit", brand, objective.pk, kpi.pk) in page
    assert _url("strategy_kpi_delete", brand, objective.pk, kpi.pk) in page
    assert 'action="%s"' % new in page
    edit = _url("strategy_kpi_edit", brand, objective.pk, kpi.pk)
    assert client.get(edit).status_code == 200
    response = client.post(edit, {"metric": "response_time", "target": "3", "better": "higher"})
    kpi.refresh_from_db()
    assert response.status_code == 302 and kpi.target == Decimal("3.00") and not kpi.lower_is_better
    assert client.post(_url("strategy_kpi_delete", brand, objective.pk, kpi.pk)).status_code == 302
    assert not KPI.objects.exists() and AuditEvent.objects.filter(action="kpi.delete").count() == 1


def test_spanish_decimal_comma_is_accepted(client, brand_a):
    brand, people = brand_a
    objective = _objective(brand, people, kpis=[])
    people["owner"].language = "es"
    people["owner"].save()
    client.force_login(people["owner"])
    client.post(_url("strategy_kpi_new", brand, objective.pk), {"metric": "ctr", "target": "1,25"})
    assert KPI.objects.get().target == Decimal("1.25")


@pytest.mark.parametrize("data, field", [
    ({"metric": "happiness", "target": "1"}, "metric"),
    ({"metric": "ctr", "target": "lots"}, "target"),
    ({"metric": "ctr", "target": "1" * 20}, "target"),
    ({"metric": "ctr", "target": "1.234"}, "target"),
    ({"metric": "ctr", "target": "120"}, "target"),  # a percentage of a whole
    ({"metric": "web_visits", "target": "-3"}, "target"),
    ({"metric": "ctr", "target": "2", "better": "sideways"}, "better"),
    ({"metric": "engagement_rate_reach", "target": "2"}, "metric"),  # already has a target
])
def test_hostile_kpis_are_form_errors(client, brand_a, data, field):
    brand, people = brand_a
    objective = _objective(brand, people, kpis=[("engagement_rate_reach", 3)])
    client.force_login(people["owner"])
    response = client.post(_url("strategy_kpi_new", brand, objective.pk), data)
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert KPI.objects.count() == 1
    assert not AuditEvent.objects.filter(action__startswith="kpi.").exists()


# --- Pillars: writing ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_pillar_writes_need_manage_brand_and_are_audited(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    new = _url("strategy_pillar_new", brand)
    assert client.get(new).status_code == (200 if role in EDITORS else 403)
    response = client.post(new, {"name": "Producto", "target_share": "30", "color": "#b45309"})
    if role not in EDITORS:
        assert response.status_code == 403 and not ContentPillar.objects.exists()
        return
    assert response.status_code == 302 and response["Location"] == _url("strategy_pillars", brand)
    pillar = ContentPillar.objects.get()
    assert (pillar.name, pillar.target_share, pillar.color) == ("Producto", 30, "#b45309")
    response = client.post(_url("strategy_pillar_edit", brand, pillar.pk), {"name": "Producto", "target_share": "35",
                                                                             "color": "#b45309"})
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="pillar.update").changes == {"target_share": [30, 35]}
    assert client.post(_url("strategy_pillar_delete", brand, pillar.pk)).status_code == 302
    assert not ContentPillar.objects.exists()
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="pillar.").order_by("pk")] == [
        "pillar.create", "pillar.update", "pillar.delete"]


@pytest.mark.parametrize("data, field", [
    ({"name": "p" * 81}, "name"),
    ({"name": ""}, "name"),
    ({"target_share": "101"}, "target_share"),
    ({"target_share": "-5"}, "target_share"),
    ({"target_share": "1e3"}, "target_share"),
    ({"target_share": "61"}, "target_share"),  # 40 already planned: the sum would be 101
    ({"color": "javascript:alert(1)"}, "color"),
    ({"name": "Educativo"}, "name"),  # taken
])
def test_hostile_pillars_are_form_errors(client, brand_a, data, field):
    brand, people = brand_a
    _pillar(brand, people)
    client.force_login(people["owner"])
    response = client.post(_url("strategy_pillar_new", brand),
                           {"name": "Producto", "target_share": "10", "color": "#123456", **data})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert ContentPillar.objects.count() == 1
    assert AuditEvent.objects.filter(action__startswith="pillar.").count() == 1


def test_sum_over_100_explains_what_is_left(client, brand_a):
    brand, people = brand_a
    _pillar(brand, people, target_share=70)
    client.force_login(people["owner"])
    page = client.get(_url("strategy_pillar_new", brand))
    assert page.context["form"].initial["target_share"] == 30  # the room left, offered
    assert "up to 30% of the mix" in html(page)
    response = client.post(_url("strategy_pillar_new", brand), {"name": "Promos", "target_share": "40", "color": "#123456"})
    assert ("the other pillars already plan 70%, so this one can have at most 30%"
            in response.context["form"].errors["target_share"][0])


def test_the_planned_mix_is_drawn_without_inline_styles(client, brand_a):
    brand, people = brand_a
    _pillar(brand, people, name="Educativo", target_share=40, color="#2563eb")
    _pillar(brand, people, name="Producto", target_share=30, color="#b45309")
    client.force_login(people["client_reviewer"])
    response = client.get(_url("strategy_pillars", brand))
    page = html(response)
    assert response["Content-Security-Policy"] == CSP and "'unsafe-inline'" not in CSP
    assert "style=" not in page and "<style" not in page
    assert '<link rel="stylesheet" href="/static/strategy/strategy.css">' in page
    # A stacked bar: each pillar a segment from where the previous ended, and the free share.
    assert '<rect x="0" y="0" width="40" height="6" fill="#2563eb">' in page
    assert '<rect x="40" y="0" width="30" height="6" fill="#b45309">' in page
    assert 'class="mix-unplanned" x="70" y="0" width="30"' in page
    assert '<meter min="0" max="100" value="40"' in page
    assert "The pillars plan 70% of the posts; 30% is still free to plan." in page
    _pillar(brand, people, name="Comunidad", target_share=30)
    page = html(client.get(_url("strategy_pillars", brand)))
    assert "The plan adds up to 100%." in page and "mix-unplanned" not in page


def test_markup_is_stored_verbatim_and_escaped_everywhere(client, brand_a):
    brand, people = brand_a
    objective = _objective(brand, people, name=XSS)
    pillar = _pillar(brand, people, name=XSS)
    kpi = objective.kpis.first()
    client.force_login(people["owner"])
    assert Objective.objects.get().name == XSS and ContentPillar.objects.get().name == XSS
    for url in (_url("strategy_objectives", brand), _url("strategy_objective_edit", brand, objective.pk),
                _url("strategy_kpi_edit", brand, objective.pk, kpi.pk), _url("strategy_pillars", brand),
                _url("strategy_pillar_edit", brand, pillar.pk)):
        assert_escaped(html(client.get(url)))
    client.force_login(people["client_reviewer"])
    assert_escaped(html(client.get(_url("strategy_objectives", brand))))


def test_objects_of_another_brand_are_not_found_even_with_my_brand_in_the_url(client, brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    theirs = _objective(other, other_people, name="Beta only")
    their_kpi = theirs.kpis.first()
    their_pillar = _pillar(other, other_people, name="Beta pillar")
    mine = _objective(brand, people)
    client.force_login(people["owner"])
    for url in (_url("strategy_objective_edit", brand, theirs.pk),
                _url("strategy_kpi_new", brand, theirs.pk),
                _url("strategy_kpi_edit", brand, theirs.pk, their_kpi.pk),
                _url("strategy_kpi_edit", brand, mine.pk, their_kpi.pk),  # my objective, their KPI
                _url("strategy_pillar_edit", brand, their_pillar.pk)):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "x", "metric": "ctr", "target": "1", "target_share": "1",
                                 "color": "#000000", **VALID_OBJECTIVE}).status_code == 404, url
    for url in (_url("strategy_objective_delete", brand, theirs.pk),
                _url("strategy_kpi_delete", brand, mine.pk, their_kpi.pk),
                _url("strategy_pillar_delete", brand, their_pillar.pk)):
        assert client.post(url).status_code == 404, url
    # And their brand in the URL is not found at all (not a member), not forbidden.
    assert client.get(_url("strategy_objectives", other)).status_code == 404
    assert client.get(_url("strategy_pillars", other)).status_code == 404
    assert Objective.objects.filter(pk=theirs.pk, name="Beta only").exists()
    assert KPI.objects.filter(pk=their_kpi.pk).exists() and ContentPillar.objects.filter(pk=their_pillar.pk).exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, brand_a):
    brand, people = brand_a
    response = client.get(_url("strategy_objectives", brand))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_success_messages(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.post(_url("strategy_objective_new", brand), VALID_OBJECTIVE, follow=True)
    assert "Objective created. Now give it its KPI targets." in messages_of(response)
