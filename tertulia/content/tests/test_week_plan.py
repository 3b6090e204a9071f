"""The weekly topic plan and key dates: services, pages, roles, hostile input."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tertulia.content import planning
from tertulia.content.models import KeyDate, WeekTheme
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import ALL_ROLES, XSS, assert_escaped, html
from tertulia.strategy import services as strategy_services

from .test_calendar_kit import build, future, post

pytestmark = pytest.mark.django_db
MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Services --------------------------------------------------------------------------------

def test_a_theme_belongs_to_the_monday_of_its_week_and_is_audited(brand_a):
    c = build(brand_a)
    cm = Ctx(c.people["community_manager"])
    theme = planning.do_save_week_theme(cm, c.brand, week_start=date(2030, 1, 3), theme="  Sostenibilidad  ",
                                        pillar=c.pillar, campaign=c.campaign)
    assert theme.week_start == date(2029, 12, 31) and theme.theme == "Sostenibilidad"
    planning.do_save_week_theme(cm, c.brand, theme, notes="Con datos", pillar=None)
    theme.refresh_from_db()
    assert theme.notes == "Con datos" and theme.pillar is None and theme.campaign == c.campaign
    assert list(AuditEvent.objects.filter(object_id=str(theme.pk), action__startswith="week_theme.")
                .values_list("action", flat=True).order_by("pk")) == ["week_theme.create", "week_theme.update"]


def test_theme_rules(brand_a, brand_b):
    c = build(brand_a)
    b_brand, b_people = brand_b
    b_pillar = strategy_services.do_save_pillar(Ctx(b_people["owner"]), b_brand, name="Beta", target_share=10)
    with pytest.raises(PermissionDenied):
        planning.do_save_week_theme(Ctx(c.people["analyst"]), c.brand, week_start=date(2030, 1, 1), theme="x")
    with pytest.raises(PermissionDenied):
        planning.do_save_week_theme(c.owner, c.brand, week_start=date(2030, 1, 1), theme="x", pillar=b_pillar)
    for bad in ({"theme": ""}, {"theme": "x" * 301}, {"theme": "a\x00b"}, {"week_start": None},
                {"week_start": date(1, 1, 1)}, {"week_start": date(9999, 12, 31)}, {"notes": "n" * 4001}):
        fields = {"week_start": date(2030, 1, 1), "theme": "Tema", **bad}
        with pytest.raises(ValidationError):
            planning.do_save_week_theme(c.owner, c.brand, **fields)
    assert not WeekTheme.objects.filter(brand=c.brand).exists()


def test_key_dates(brand_a):
    c = build(brand_a)
    k = planning.do_save_key_date(c.owner, c.brand, date=date(2030, 11, 27), name="Black Friday")
    planning.do_save_key_date(c.owner, c.brand, k, name="Black Friday 2030", notes="Ofertas")
    k.refresh_from_db()
    assert (k.name, k.notes) == ("Black Friday 2030", "Ofertas")
    with pytest.raises(ValidationError):
        planning.do_save_key_date(c.owner, c.brand, date=date(2030, 1, 1), name="")
    with pytest.raises(PermissionDenied):
        planning.do_delete_key_date(Ctx(c.people["client_reviewer"]), k)
    planning.do_delete_key_date(Ctx(c.people["community_manager"]), k)
    assert not KeyDate.objects.filter(pk=k.pk).exists()


# --- The plan page ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_everyone_sees_the_plan_and_only_composers_edit_it(brand_a, role):
    c = build(brand_a)
    today = timezone.now().astimezone(MADRID).date()
    monday = today - timedelta(days=today.weekday())
    theme = WeekTheme.objects.create(brand=c.brand, week_start=monday + timedelta(weeks=1), theme="Tema siguiente",
                                     pillar=c.pillar)
    post(c, "Planificado", when=future(8), pillar=c.pillar)
    client = client_for(c.people[role])
    page = html(client.get(reverse("week_plan", args=[c.brand.pk])))
    assert "Tema siguiente" in page and page.count('class="card plan-week') == 5
    can = role in ("owner", "manager", "community_manager")
    assert (reverse("week_theme_edit", args=[c.brand.pk, theme.pk]) in page) == can
    response = client.post(reverse("week_plan", args=[c.brand.pk]),
                           {"week_start": (monday + timedelta(weeks=2)).isoformat(), "theme": "Nuevo tema"})
    assert response.status_code == (302 if can else 403)
    assert WeekTheme.objects.filter(brand=c.brand, theme="Nuevo tema").exists() == can
    response = client.post(reverse("week_theme_delete", args=[c.brand.pk, theme.pk]))
    assert response.status_code == (302 if can else 403)
    assert WeekTheme.objects.filter(pk=theme.pk).exists() != can


def test_the_plan_counts_posts_per_pillar_per_week(brand_a):
    c = build(brand_a)
    when = future(7)
    post(c, "Uno", when=when, pillar=c.pillar)
    post(c, "Dos", when=when, pillar=c.pillar)
    post(c, "Tres", when=when, pillar=c.other_pillar)
    local = when.astimezone(MADRID).date()
    page = html(client_for(c.people["analyst"]).get(reverse("week_plan", args=[c.brand.pk])
                                                    + f"?week={local.isoformat()}"))
    assert "3 posts planned." in page
    plan = client_for(c.people["owner"]).get(reverse("week_plan", args=[c.brand.pk]),
                                             {"week": local.isoformat(), "plan": local.isoformat()})
    assert plan.context["form"].initial["week_start"] == local - timedelta(days=local.weekday())
    assert "Educar: 2 (67 %" in page and "Entretener: 1 (33 %" in page


def test_plan_page_is_escaped_and_survives_bad_weeks(brand_a):
    c = build(brand_a)
    today = timezone.now().astimezone(MADRID).date()
    WeekTheme.objects.create(brand=c.brand, week_start=today - timedelta(days=today.weekday()), theme=XSS, notes=XSS)
    client = client_for(c.people["owner"])
    assert_escaped(html(client.get(reverse("week_plan", args=[c.brand.pk]))))
    for week in ("nope", "0001-01-01", "9999-12-31", "\x00"):
        response = client.get(reverse("week_plan", args=[c.brand.pk]), {"week": week})
        assert response.status_code == 200 and "That date is not valid" in html(response)


def test_theme_edit_page_with_hostile_input(brand_a, brand_b):
    c = build(brand_a)
    b_brand, b_people = brand_b
    b_pillar = strategy_services.do_save_pillar(Ctx(b_people["owner"]), b_brand, name="Beta", target_share=10)
    theme = planning.do_save_week_theme(c.owner, c.brand, week_start=date(2030, 1, 7), theme="Tema")
    client = client_for(c.people["community_manager"])
    edit = reverse("week_theme_edit", args=[c.brand.pk, theme.pk])
    # Another brand's pillar is not a choice; an oversized theme is refused.
    response = client.post(edit, {"week_start": "2030-01-07", "theme": "x", "pillar": b_pillar.pk})
    assert response.status_code == 200 and response.context["form"].errors.get("pillar")
    response = client.post(edit, {"week_start": "2030-01-07", "theme": "x" * 5000})
    assert response.status_code == 200 and response.context["form"].errors.get("theme")
    response = client.post(edit, {"week_start": "07/01/2030", "theme": XSS})
    assert response.status_code == 302
    theme.refresh_from_db()
    assert theme.theme == XSS
    # Another brand's member: 404, whatever they send.
    outsider = client_for(b_people["owner"])
    assert outsider.get(edit).status_code == 404
    assert outsider.post(reverse("week_theme_delete", args=[c.brand.pk, theme.pk])).status_code == 404
    assert WeekTheme.objects.filter(pk=theme.pk).exists()


@pytest.mark.parametrize("role", ALL_ROLES)
def test_key_date_pages(brand_a, role):
    c = build(brand_a)
    k = planning.do_save_key_date(c.owner, c.brand, date=timezone.now().date() + timedelta(days=3), name=XSS)
    client = client_for(c.people[role])
    page = html(client.get(reverse("key_date_list", args=[c.brand.pk])))
    assert_escaped(page)
    can = role in ("owner", "manager", "community_manager")
    response = client.post(reverse("key_date_list", args=[c.brand.pk]), {"date": "2030-12-24", "name": "Nochebuena"})
    assert response.status_code == (302 if can else 403)
    response = client.post(reverse("key_date_edit", args=[c.brand.pk, k.pk]), {"date": "31/12/2030", "name": "Fin"})
    assert response.status_code == (302 if can else 403)
    if can:
        k.refresh_from_db()
        assert (k.date, k.name) == (date(2030, 12, 31), "Fin")
        bad = client.post(reverse("key_date_edit", args=[c.brand.pk, k.pk]), {"date": "2030-02-30", "name": ""})
        assert bad.status_code == 200 and set(bad.context["form"].errors) == {"date", "name"}
    response = client.post(reverse("key_date_delete", args=[c.brand.pk, k.pk]))
    assert response.status_code == (302 if can else 403)
    assert KeyDate.objects.filter(pk=k.pk).exists() != can
