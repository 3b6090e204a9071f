"""The calendar API: the range query (filters, limits, local and UTC times), moving a post,
week themes and key dates — roles, tokens, hostile input and other tenants."""

from __future__ import annotations

import json
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import translation

from tertulia.content import planning
from tertulia.content.models import KeyDate, Post, WeekTheme
from tertulia.core import roles
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.strategy import services as strategy_services

from .test_calendar_kit import build, future, post

pytestmark = pytest.mark.django_db
API = "/api/v1"
MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def call(method, url, data=None, token=None):
    headers = bearer(token) if token else {}
    body = json.dumps(data) if data is not None else ""
    return getattr(Client(), method)(API + url, body, content_type="application/json", **headers)


@pytest.fixture
def w(brand_a, brand_b):
    c = build(brand_a)
    b_brand, b_people = brand_b
    c.tokens = {k: core_services.do_create_token(Ctx(u), f"{k} t", {c.brand.pk: "write"})[1]
                for k, u in c.people.items()}
    c.read_token = core_services.do_create_token(Ctx(c.people["owner"]), "read", {c.brand.pk: "read"})[1]
    c.other = b_brand
    c.other_people = b_people
    c.stranger = core_services.do_create_token(Ctx(b_people["owner"]), "s", {b_brand.pk: "write"})[1]
    c.their_theme = planning.do_save_week_theme(Ctx(b_people["owner"]), b_brand, week_start=date(2030, 1, 7),
                                                theme="Beta theme")
    c.their_key_date = planning.do_save_key_date(Ctx(b_people["owner"]), b_brand, date=date(2030, 1, 8),
                                                 name="Beta day")
    c.their_pillar = strategy_services.do_save_pillar(Ctx(b_people["owner"]), b_brand, name="Beta pillar")
    return c


def test_the_range_query_returns_local_and_utc_times_and_targets(w):
    when = future(4, hour=6, minute=10)
    p = post(w, "Hola API", when=when, accounts=[w.mastodon, w.bluesky], pillar=w.pillar)
    post(w, "Otro día", when=when + timedelta(days=40))
    local = when.astimezone(MADRID)
    r = call("get", f"/brands/{w.brand.pk}/calendar?start={local.date()}&end={local.date()}",
             token=w.tokens["client_reviewer"])
    assert r.status_code == 200
    data = r.json()
    assert data["count"] == 1
    (item,) = data["items"]
    assert item["id"] == p.pk and item["time_zone"] == "Europe/Madrid"
    assert item["scheduled_local"] == local.isoformat()
    assert item["scheduled_at"].replace("Z", "+00:00").startswith(when.strftime("%Y-%m-%dT%H:%M"))
    assert sorted(t["network"] for t in item["targets"]) == ["bluesky", "mastodon"]


def test_the_range_query_filters(w):
    when = future(4)
    a = post(w, "M", when=when, pillar=w.pillar)
    b = post(w, "B", when=when, accounts=[w.bluesky], approve=True)
    d = when.astimezone(MADRID).date()
    base = f"/brands/{w.brand.pk}/calendar?start={d}&end={d}"

    def ids(q):
        r = call("get", base + q, token=w.read_token)
        assert r.status_code == 200, r.content
        return {i["id"] for i in r.json()["items"]}

    assert ids("") == {a.pk, b.pk}
    assert ids("&network=bluesky") == {b.pk}
    assert ids(f"&pillar={w.pillar.pk}") == {a.pk}
    assert ids("&state=scheduled") == {b.pk}
    assert ids(f"&author={w.people['owner'].pk}") == {a.pk, b.pk}


@pytest.mark.parametrize("query", [
    "start=2030-01-10&end=2030-01-01", "start=2030-01-01&end=2031-03-01", "start=x&end=2030-01-01", "end=2030-01-01",
    "start=2030-01-01&end=2030-01-02&network=myspace", "start=2030-01-01&end=2030-01-02&state=<script>",
    "start=2030-01-01&end=2030-01-02&pillar=-1", "start=2030-01-01&end=2030-01-02&pillar=abc",
    "start=2030-01-01&end=2030-01-02&offset=100000000000000000000",
])
def test_bad_ranges_and_filters_are_422(w, query):
    r = call("get", f"/brands/{w.brand.pk}/calendar?{query}", token=w.read_token)
    assert r.status_code == 422 and "errors" in r.json()


def test_another_tenants_filters_and_brand_are_refused(w):
    r = call("get", f"/brands/{w.brand.pk}/calendar?start=2030-01-01&end=2030-01-02&pillar={w.their_pillar.pk}",
             token=w.read_token)
    assert r.status_code == 422 and "Beta" not in r.content.decode()
    r = call("get", f"/brands/{w.other.pk}/calendar?start=2030-01-01&end=2030-01-02", token=w.tokens["owner"])
    assert r.status_code == 404
    assert call("get", f"/brands/{w.brand.pk}/calendar?start=2030-01-01&end=2030-01-02",
                token=w.stranger).status_code == 404
    assert call("get", f"/brands/{w.brand.pk}/calendar?start=2030-01-01&end=2030-01-02").status_code == 401


def test_move_through_the_api(w):
    p = post(w, "Mover", when=future(2))
    url = f"/brands/{w.brand.pk}/posts/{p.pk}/move"
    new = future(6, hour=9)
    local_naive = new.astimezone(MADRID).replace(tzinfo=None).isoformat()
    assert call("post", url, {"scheduled_at": local_naive}, token=w.tokens["analyst"]).status_code == 403
    assert call("post", url, {"scheduled_at": local_naive}, token=w.read_token).status_code == 403
    r = call("post", url, {"scheduled_at": local_naive, "version": p.version}, token=w.tokens["community_manager"])
    assert r.status_code == 200, r.content
    assert r.json()["version"] == p.version + 1
    assert Post.objects.get(pk=p.pk).scheduled_at == new
    assert AuditEvent.objects.filter(action="post.reschedule", via="api", object_id=str(p.pk)).exists()
    # Stale version, the past, junk, unknown fields.
    assert call("post", url, {"scheduled_at": new.isoformat(), "version": p.version},
                token=w.tokens["owner"]).status_code == 422
    assert call("post", url, {"scheduled_at": "2001-01-01T10:00:00Z"}, token=w.tokens["owner"]).status_code == 422
    assert call("post", url, {"scheduled_at": "soon"}, token=w.tokens["owner"]).status_code == 422
    assert call("post", url, {"scheduled_at": new.isoformat(), "state": "published"},
                token=w.tokens["owner"]).status_code == 422
    # Another tenant's post under my brand, or my post under theirs: 404.
    assert call("post", f"/brands/{w.other.pk}/posts/{p.pk}/move", {"scheduled_at": new.isoformat()},
                token=w.stranger).status_code == 404
    assert Post.objects.get(pk=p.pk).scheduled_at == new


def test_week_themes_crud_and_roles(w):
    base = f"/brands/{w.brand.pk}/week-themes"
    body = {"week_start": "2030-01-09", "theme": "Verano", "pillar_id": w.pillar.pk, "campaign_id": w.campaign.pk}
    assert call("post", base, body, token=w.tokens["analyst"]).status_code == 403
    r = call("post", base, body, token=w.tokens["community_manager"])
    assert r.status_code == 201, r.content
    theme = r.json()
    assert theme["week_start"] == "2030-01-07" and theme["pillar_id"] == w.pillar.pk
    one = f"{base}/{theme['id']}"
    assert call("get", one, token=w.tokens["client_reviewer"]).json()["theme"] == "Verano"
    r = call("patch", one, {"pillar_id": 0, "notes": "<script>x</script>"}, token=w.tokens["owner"])
    assert r.status_code == 200 and r.json()["pillar_id"] is None and r.json()["notes"] == "<script>x</script>"
    assert call("patch", one, {"theme": None}, token=w.tokens["owner"]).status_code == 422
    assert call("patch", one, {"theme": "x" * 301}, token=w.tokens["owner"]).status_code == 422
    assert call("patch", one, {"pillar_id": w.their_pillar.pk}, token=w.tokens["owner"]).status_code == 422
    listing = call("get", base + "?start=2030-01-01&end=2030-01-31", token=w.read_token).json()
    assert [t["id"] for t in listing["items"]] == [theme["id"]]
    # Their theme, through my brand or theirs: 404.
    assert call("get", f"{base}/{w.their_theme.pk}", token=w.tokens["owner"]).status_code == 404
    assert call("delete", f"{base}/{w.their_theme.pk}", token=w.tokens["owner"]).status_code == 404
    assert call("get", f"/brands/{w.other.pk}/week-themes", token=w.tokens["owner"]).status_code == 404
    assert call("delete", one, token=w.tokens["owner"]).status_code == 204
    assert not WeekTheme.objects.filter(pk=theme["id"]).exists()
    assert WeekTheme.objects.filter(pk=w.their_theme.pk).exists()


def test_key_dates_crud_and_roles(w):
    base = f"/brands/{w.brand.pk}/key-dates"
    assert call("post", base, {"date": "2030-12-24", "name": "Nochebuena"}, token=w.tokens["client_reviewer"]
                ).status_code == 403
    r = call("post", base, {"date": "2030-12-24", "name": "Nochebuena"}, token=w.tokens["manager"])
    assert r.status_code == 201
    one = f"{base}/{r.json()['id']}"
    assert call("patch", one, {"name": "Nochebuena 🎄"}, token=w.tokens["owner"]).json()["name"] == "Nochebuena 🎄"
    for bad in ({"date": "2030-02-30", "name": "x"}, {"date": "2030-01-01", "name": ""},
                {"date": "2030-01-01", "name": "a\u0000b"}, {"date": "2030-01-01", "name": "x" * 201},
                {"date": "2030-01-01", "name": "x", "brand_id": w.other.pk}, {"date": "9999-12-31", "name": "x"}):
        assert call("post", base, bad, token=w.tokens["owner"]).status_code == 422, bad
    assert [k["name"] for k in call("get", base, token=w.read_token).json()["items"]] == ["Nochebuena 🎄"]
    assert call("patch", f"{base}/{w.their_key_date.pk}", {"name": "pwned"}, token=w.tokens["owner"]).status_code == 404
    assert KeyDate.objects.get(pk=w.their_key_date.pk).name == "Beta day"
    assert call("delete", one, token=w.tokens["owner"]).status_code == 204
    assert call("delete", one, token=w.tokens["owner"]).status_code == 404


def test_role_table_matches_the_permissions(w):
    for key in w.people:
        allowed = roles.COMPOSE in roles.ROLE_PERMISSIONS[key]
        r = call("post", f"/brands/{w.brand.pk}/key-dates", {"date": "2030-05-01", "name": f"Día {key}"},
                 token=w.tokens[key])
        assert r.status_code == (201 if allowed else 403), key
