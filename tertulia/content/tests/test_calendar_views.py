"""The calendar pages: month, week and list per brand and across brands, filters, hostile
parameters, escaping, roles, and moving a post by form and by drag (JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tertulia.content.models import KeyDate, Post, WeekTheme
from tertulia.core import services as core_services
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import ALL_ROLES, XSS, assert_escaped, html, messages_of
from tertulia.networks.services import do_add_account
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


def url(c, **params):
    from urllib.parse import urlencode

    base = reverse("section_calendar", args=[c.brand.pk])
    return f"{base}?{urlencode(params)}" if params else base


def test_the_nav_points_at_the_calendar():
    assert reverse("section_calendar", args=[7]) == "/brands/7/calendar/"


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("view", ["month", "week", "list"])
def test_every_member_sees_the_post_at_the_brands_local_time(brand_a, role, view):
    c = build(brand_a)
    when = future(3, hour=7, minute=15)  # UTC
    p = post(c, "Lanzamiento de otoño", when=when, pillar=c.pillar)
    local = when.astimezone(MADRID)
    page = html(client_for(c.people[role]).get(url(c, view=view, date=local.date().isoformat())))
    assert f'data-post-id="{p.pk}"' in page
    assert local.strftime("%H:%M") in page and f'datetime="{local.isoformat()}"' in page
    assert "Lanzamiento de otoño" in page and "Mastodon" in page
    assert f"/brands/{c.brand.pk}/posts/{p.pk}/" in page
    can_move = role in ("owner", "manager", "community_manager")
    assert (reverse("calendar_post_move", args=[c.brand.pk, p.pk]) in page) == can_move
    assert ('draggable="true"' in page) == (can_move and view != "list")  # nowhere to drop in a list


def test_a_stranger_gets_404(brand_a, brand_b):
    c = build(brand_a)
    _b, b_people = brand_b
    assert client_for(b_people["owner"]).get(url(c)).status_code == 404
    anonymous = Client().get(url(c))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))


def test_user_text_is_escaped_everywhere_on_the_calendar(brand_a):
    c = build(brand_a)
    when = future(2)
    post(c, XSS, when=when)
    KeyDate.objects.create(brand=c.brand, date=when.astimezone(MADRID).date(), name=XSS)
    monday = when.astimezone(MADRID).date() - timedelta(days=when.astimezone(MADRID).weekday())
    WeekTheme.objects.create(brand=c.brand, week_start=monday, theme=XSS)
    strategy_services.do_save_pillar(c.owner, c.brand, c.pillar, name=XSS)
    for view in ("month", "week", "list"):
        page = html(client_for(c.people["owner"]).get(url(c, view=view, date=when.date().isoformat())))
        assert_escaped(page)


@pytest.mark.parametrize("params", [
    {"view": "year"}, {"date": "not-a-date"}, {"date": "99999-01-01"}, {"date": "0001-01-01"},
    {"network": "<script>"}, {"pillar": "9" * 40}, {"state": "nope"}, {"campaign": "-1"}, {"author": "x"},
    {"page": "abc", "view": "list"}, {"date": "\x00"}, {"view": "list", "page": "99999999999999999999"},
])
def test_hostile_parameters_never_break_the_page(brand_a, params):
    c = build(brand_a)
    response = client_for(c.people["owner"]).get(url(c, **params))
    assert response.status_code == 200
    assert "<script>" not in html(response).split("</head>", 1)[1].replace('<script src=', '')


def test_bad_filters_show_a_note_and_another_brands_pillar_is_ignored(brand_a, brand_b):
    c = build(brand_a)
    b_brand, b_people = brand_b
    b_pillar = strategy_services.do_save_pillar(Ctx(b_people["owner"]), b_brand, name="Beta secret pillar",
                                                target_share=10)
    p = post(c, "Visible", when=future(2))
    page = html(client_for(c.people["owner"]).get(url(c, pillar=b_pillar.pk, date=future(2).date().isoformat())))
    assert "Unknown pillar; that filter was ignored." in page
    assert "Beta secret pillar" not in page
    assert f'data-post-id="{p.pk}"' in page


def test_filters_narrow_the_grid(brand_a):
    c = build(brand_a)
    when = future(2)
    a = post(c, "En Mastodon", when=when, pillar=c.pillar)
    b = post(c, "En Bluesky", when=when, accounts=[c.bluesky], pillar=c.other_pillar)
    client = client_for(c.people["analyst"])
    page = html(client.get(url(c, network="bluesky", date=when.date().isoformat())))
    assert f'data-post-id="{b.pk}"' in page and f'data-post-id="{a.pk}"' not in page
    page = html(client.get(url(c, pillar=c.pillar.pk, date=when.date().isoformat())))
    assert f'data-post-id="{a.pk}"' in page and f'data-post-id="{b.pk}"' not in page


def test_key_dates_campaigns_themes_and_the_mix_are_shown(brand_a):
    c = build(brand_a)
    when = future(2)
    day = when.astimezone(MADRID).date()
    from tertulia.content import services as content_services

    content_services.do_create_campaign(c.owner, c.brand, name="Rebajas de invierno", starts_on=day,
                                        ends_on=day + timedelta(days=3))
    KeyDate.objects.create(brand=c.brand, date=day, name="Día de la marca")
    WeekTheme.objects.create(brand=c.brand, week_start=day - timedelta(days=day.weekday()), theme="Semana verde")
    post(c, "Uno", when=when, pillar=c.pillar)
    page = html(client_for(c.people["client_reviewer"]).get(url(c, view="week", date=day.isoformat())))
    assert "Rebajas de invierno" in page and "Día de la marca" in page and "Semana verde" in page
    assert "Pillar mix: planned and actual" in page and f'data-pillar-id="{c.pillar.pk}"' in page


def test_spanish_day_names(brand_a):
    c = build(brand_a)
    owner = c.people["owner"]
    owner.language = "es"
    owner.save()
    page = html(client_for(owner).get(url(c, view="week", date="2026-11-23")))
    assert "lun" in page.lower() and "Calendario" in page


def test_the_list_view_paginates(brand_a):
    c = build(brand_a)
    first = timezone.now().astimezone(MADRID).date()
    # 55 posts next month, all at different minutes.
    start = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    for i in range(55):
        post(c, f"Post {i}", when=datetime(start.year, start.month, 1 + i % 27, 8, i, tzinfo=UTC))
    client = client_for(c.people["owner"])
    page1 = html(client.get(url(c, view="list", date=start.isoformat())))
    page2 = html(client.get(url(c, view="list", date=start.isoformat(), page=2)))
    assert page1.count("data-post-id=") == 50 and page2.count("data-post-id=") == 5


# --- Moving ----------------------------------------------------------------------------------

def test_the_move_form_keeps_the_local_time_and_redirects_back(brand_a):
    c = build(brand_a)
    p = post(c, "Mover", when=future(2, hour=8))
    target_day = (future(5)).astimezone(MADRID).date()
    back = url(c, view="week")
    response = client_for(c.people["community_manager"]).post(
        reverse("calendar_post_move", args=[c.brand.pk, p.pk]),
        {"date": target_day.isoformat(), "time": "18:05", "version": p.version, "next": back})
    assert response.status_code == 302 and response["Location"] == back
    p.refresh_from_db()
    assert p.scheduled_at.astimezone(MADRID).strftime("%Y-%m-%d %H:%M") == f"{target_day.isoformat()} 18:05"


def test_drag_and_drop_answers_json_and_keeps_the_time_of_day(brand_a):
    c = build(brand_a)
    p = post(c, "Arrastrar", when=future(2, hour=9, minute=30))
    local_time = p.scheduled_at.astimezone(MADRID).strftime("%H:%M")
    target_day = future(4).astimezone(MADRID).date()
    response = client_for(c.people["owner"]).post(
        reverse("calendar_post_move", args=[c.brand.pk, p.pk]), {"date": target_day.isoformat(), "version": p.version},
        HTTP_ACCEPT="application/json")
    data = json.loads(response.content)
    assert response.status_code == 200 and data["ok"] and data["date"] == target_day.isoformat()
    assert data["time"] == local_time and data["version"] == p.version + 1
    # The same stale version again: refused, with a message asking to reload.
    again = client_for(c.people["owner"]).post(
        reverse("calendar_post_move", args=[c.brand.pk, p.pk]), {"date": target_day.isoformat(), "version": p.version},
        HTTP_ACCEPT="application/json")
    assert again.status_code == 422 and "Reload" in json.loads(again.content)["message"]


@pytest.mark.parametrize("data", [{}, {"date": "mañana"}, {"date": "2026-01-01", "time": "25:99"},
                                  {"date": "1999-01-01", "time": "10:00"}, {"date": "2000-01-01", "time": "10:00"},
                                  {"date": "2026-01-01", "time": "10:00", "version": "<script>"}])
def test_bad_moves_are_refused_with_a_message(brand_a, data):
    c = build(brand_a)
    p = post(c, "Quieto", when=future(2))
    response = client_for(c.people["owner"]).post(reverse("calendar_post_move", args=[c.brand.pk, p.pk]), data,
                                                  follow=True)
    assert response.status_code == 200 and messages_of(response)
    assert Post.objects.get(pk=p.pk).scheduled_at == p.scheduled_at


def test_moving_needs_compose_and_the_brand_of_the_post(brand_a, brand_b):
    c = build(brand_a)
    p = post(c, "Quieto", when=future(2))
    day = future(4).date().isoformat()
    for role in ("analyst", "client_reviewer"):
        response = client_for(c.people[role]).post(reverse("calendar_post_move", args=[c.brand.pk, p.pk]),
                                                   {"date": day})
        assert response.status_code == 403
    b_brand, b_people = brand_b
    # B's owner, with B's brand in the URL and A's post: the post does not exist for them.
    b_account = do_add_account(Ctx(b_people["owner"]), b_brand, network="mastodon", handle="@beta")
    assert b_account
    response = client_for(b_people["owner"]).post(reverse("calendar_post_move", args=[b_brand.pk, p.pk]),
                                                  {"date": day})
    assert response.status_code == 404
    assert client_for(c.people["owner"]).get(reverse("calendar_post_move", args=[c.brand.pk, p.pk])).status_code == 405
    assert Post.objects.get(pk=p.pk).scheduled_at == p.scheduled_at


def test_an_offsite_next_is_not_followed(brand_a):
    c = build(brand_a)
    p = post(c, "Mover", when=future(2))
    response = client_for(c.people["owner"]).post(reverse("calendar_post_move", args=[c.brand.pk, p.pk]),
                                                  {"date": future(3).date().isoformat(), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("section_calendar", args=[c.brand.pk])


# --- Across brands -----------------------------------------------------------------------------

def test_the_cross_brand_calendar_shows_only_my_brands_in_my_time_zone(brand_a, brand_b, tenant):
    c = build(brand_a)
    b_brand, b_people = brand_b
    gamma_brand, gamma_people = tenant("Gamma")
    user = c.people["analyst"]
    user.timezone = "America/New_York"
    user.save()
    core_services.do_add_member(Ctx(b_people["owner"]), b_brand, user, "client_reviewer")
    when = future(3, hour=15)
    a_post = post(c, "Alpha post", when=when)
    b_account = do_add_account(Ctx(b_people["owner"]), b_brand, network="bluesky", handle="beta.example")
    from tertulia.content import services as content_services

    b_post = content_services.do_create_post(Ctx(b_people["owner"]), b_brand, text="Beta post", accounts=[b_account],
                                             scheduled_at=when)
    g_account = do_add_account(Ctx(gamma_people["owner"]), gamma_brand, network="x", handle="gamma")
    g_post = content_services.do_create_post(Ctx(gamma_people["owner"]), gamma_brand, text="Gamma secret post",
                                             accounts=[g_account], scheduled_at=when)
    ny = when.astimezone(ZoneInfo("America/New_York"))
    page = html(client_for(user).get(reverse("calendar_all") + f"?view=week&date={ny.date().isoformat()}"))
    assert f'data-post-id="{a_post.pk}"' in page and f'data-post-id="{b_post.pk}"' in page
    assert f'data-post-id="{g_post.pk}"' not in page and "Gamma secret post" not in page
    assert ny.strftime("%H:%M") in page and "Alpha Brand" in page and "Beta Brand" in page
    # A filter naming Gamma's pillar is ignored, never used to read Gamma.
    g_pillar = strategy_services.do_save_pillar(Ctx(gamma_people["owner"]), gamma_brand, name="Gamma pillar")
    page = html(client_for(user).get(reverse("calendar_all") + f"?pillar={g_pillar.pk}"))
    assert "Unknown pillar" in page and "Gamma pillar" not in page


def test_the_cross_brand_calendar_needs_sign_in():
    response = Client().get(reverse("calendar_all"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_cross_brand_calendar_of_someone_without_brands(make_user):
    loner = make_user("loner")
    for view in ("month", "week", "list"):
        response = client_for(loner).get(reverse("calendar_all"), {"view": view})
        assert response.status_code == 200 and "data-post-id" not in html(response)
