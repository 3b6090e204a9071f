"""The strategy API: objectives with nested KPI targets, and pillars with their mix, under
/api/v1/brands/{brand_id}/… — the role table, hostile input, the audit trail, other brands."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from tertulia.core import roles, services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.strategy import services
from tertulia.strategy.models import KPI, ContentPillar, Objective

pytestmark = pytest.mark.django_db

API = "/api/v1"
ROLE_KEYS = [r.value for r in roles.Role]


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def send(client, method, url, data=None, **headers):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(url, body, content_type="application/json", **headers)


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    ctx = Ctx(people["owner"], via="test")
    objective = services.do_create_objective(ctx, brand, name="Crecer", period_start=date(2030, 1, 1),
                                             period_end=date(2030, 3, 31), kpis=[("ctr", "1.5")])
    pillar = services.do_save_pillar(ctx, brand, name="Educativo", target_share=40)
    octx = Ctx(other_people["owner"], via="test")
    their = services.do_create_objective(octx, other, name="Beta only", period_start=date(2030, 1, 1),
                                         period_end=date(2030, 3, 31), kpis=[("roi", 100)])
    w = {
        "brand": brand, "people": people, "objective": objective, "kpi": objective.kpis.get(), "pillar": pillar,
        "other": other, "their_objective": their, "their_kpi": their.kpis.get(),
        "their_pillar": services.do_save_pillar(octx, other, name="Beta pillar", target_share=10),
        "tokens": {key: core_services.do_create_token(Ctx(user), f"{key} token", {brand.pk: "write"})[1]
                   for key, user in people.items()},
        "read_token": core_services.do_create_token(Ctx(people["owner"]), "read", {brand.pk: "read"})[1],
        "stranger": core_services.do_create_token(Ctx(other_people["owner"]), "stranger", {other.pk: "write"})[1],
    }
    return w


OBJ = "/brands/{brand}/objectives"
ONE = OBJ + "/{objective}"
KPIS = ONE + "/kpis"
PIL = "/brands/{brand}/pillars"

OPERATIONS = {
    "objective.list": ("get", OBJ, None, roles.VIEW, 200),
    "objective.get": ("get", ONE, None, roles.VIEW, 200),
    "objective.create": ("post", OBJ, {"name": "Otro", "period_start": "2030-04-01", "period_end": "2030-06-30"},
                         roles.MANAGE_BRAND, 201),
    "objective.patch": ("patch", ONE, {"name": "Crecer más"}, roles.MANAGE_BRAND, 200),
    "objective.delete": ("delete", ONE, None, roles.MANAGE_BRAND, 204),
    "kpi.list": ("get", KPIS, None, roles.VIEW, 200),
    "kpi.get": ("get", KPIS + "/{kpi}", None, roles.VIEW, 200),
    "kpi.create": ("post", KPIS, {"metric": "response_time", "target": 2}, roles.MANAGE_BRAND, 201),
    "kpi.patch": ("patch", KPIS + "/{kpi}", {"target": "2.5"}, roles.MANAGE_BRAND, 200),
    "kpi.delete": ("delete", KPIS + "/{kpi}", None, roles.MANAGE_BRAND, 204),
    "pillar.list": ("get", PIL, None, roles.VIEW, 200),
    "pillar.mix": ("get", "/brands/{brand}/pillar-mix", None, roles.VIEW, 200),
    "pillar.get": ("get", PIL + "/{pillar}", None, roles.VIEW, 200),
    "pillar.create": ("post", PIL, {"name": "Producto", "target_share": 30}, roles.MANAGE_BRAND, 201),
    "pillar.patch": ("patch", PIL + "/{pillar}", {"target_share": 50}, roles.MANAGE_BRAND, 200),
    "pillar.delete": ("delete", PIL + "/{pillar}", None, roles.MANAGE_BRAND, 204),
}


def _url(w, path, **over):
    ids = {"brand": w["brand"].pk, "objective": w["objective"].pk, "kpi": w["kpi"].pk, "pillar": w["pillar"].pk,
           **over}
    return API + path.format(**ids)


def _api_events(user):
    return AuditEvent.objects.filter(actor=user, via="api").count()


@pytest.mark.parametrize("role", ROLE_KEYS)
@pytest.mark.parametrize("op", OPERATIONS)
def test_each_role_gets_exactly_what_the_role_table_gives(client, world, role, op):
    method, path, body, permission, ok = OPERATIONS[op]
    user = world["people"][role]
    before = _api_events(user)
    response = send(client, method, _url(world, path), body, **bearer(world["tokens"][role]))
    allowed = permission in roles.ROLE_PERMISSIONS[role]
    assert response.status_code == (ok if allowed else 403), response.content
    if method != "get":
        assert _api_events(user) == before + (1 if allowed else 0)


@pytest.mark.parametrize("op", OPERATIONS)
def test_a_read_only_token_reads_but_never_writes(client, world, op):
    method, path, body, permission, ok = OPERATIONS[op]
    response = send(client, method, _url(world, path), body, **bearer(world["read_token"]))
    assert response.status_code == (ok if permission == roles.VIEW else 403)


@pytest.mark.parametrize("op", OPERATIONS)
def test_strangers_get_404_and_change_nothing(client, world, op):
    method, path, body, _permission, _ok = OPERATIONS[op]
    response = send(client, method, _url(world, path), body, **bearer(world["stranger"]))
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert Objective.objects.filter(pk=world["objective"].pk, name="Crecer").exists()


@pytest.mark.parametrize("op", [o for o in OPERATIONS if "{" in OPERATIONS[o][1].split("}", 1)[1]])
def test_my_brand_with_their_objects_is_404(client, world, op):
    method, path, body, _permission, _ok = OPERATIONS[op]
    h = bearer(world["tokens"]["owner"])
    their = {"objective": world["their_objective"].pk, "kpi": world["their_kpi"].pk, "pillar": world["their_pillar"].pk}
    assert send(client, method, _url(world, path, **their), body, **h).status_code == 404
    # My objective with their KPI, too.
    if "{kpi}" in path:
        assert send(client, method, _url(world, path, kpi=world["their_kpi"].pk), body, **h).status_code == 404
    assert KPI.objects.get(pk=world["their_kpi"].pk).target == Decimal("100.00")
    assert ContentPillar.objects.get(pk=world["their_pillar"].pk).target_share == 10
    assert Objective.objects.get(pk=world["their_objective"].pk).name == "Beta only"


def test_anonymous_is_401(client, world):
    for method, path, body, _p, _ok in OPERATIONS.values():
        assert send(client, method, _url(world, path), body).status_code == 401


def test_session_auth_follows_the_same_table(client, world):
    client.force_login(world["people"]["community_manager"])
    assert send(client, "get", _url(world, OBJ)).status_code == 200
    assert send(client, "post", _url(world, PIL), {"name": "x", "target_share": 1}).status_code == 403
    client.force_login(world["people"]["manager"])
    assert send(client, "post", _url(world, PIL), {"name": "x", "target_share": 1}).status_code == 201


# --- Shapes and behaviour ---------------------------------------------------------------------

def test_objective_with_nested_kpis(client, world):
    h = bearer(world["tokens"]["manager"])
    response = send(client, "post", _url(world, OBJ), {
        "name": "  Atender rápido  ", "period_start": "2030-04-01", "period_end": "2030-06-30",
        "kpis": [{"metric": "response_time", "target": 2}, {"metric": "response_rate", "target": "95.5"},
                 {"metric": "web_visits", "target": 2000, "lower_is_better": False}],
    }, **h)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Atender rápido" and body["period_start"] == "2030-04-01"
    kpis = {k["metric"]: k for k in body["kpis"]}
    assert kpis["response_time"] == {**kpis["response_time"], "target": 2.0, "lower_is_better": True, "unit": "h",
                                     "metric_label": "Median response time (hours)"}
    assert kpis["response_rate"]["target"] == 95.5 and kpis["response_rate"]["unit"] == "%"
    assert kpis["web_visits"]["unit"] == "" and not kpis["web_visits"]["lower_is_better"]
    event = AuditEvent.objects.get(action="objective.create", via="api")
    assert event.actor == world["people"]["manager"]
    assert event.changes["kpis"] == {"response_time": "2.00", "response_rate": "95.50", "web_visits": "2000.00"}

    listed = client.get(_url(world, OBJ), **h).json()
    assert listed["count"] == 2 and [o["name"] for o in listed["items"]] == ["Atender rápido", "Crecer"]


def test_patch_and_delete_are_audited(client, world):
    h = bearer(world["tokens"]["owner"])
    response = send(client, "patch", _url(world, KPIS + "/{kpi}"), {"target": 3, "lower_is_better": True}, **h)
    assert response.status_code == 200 and response.json()["target"] == 3.0 and response.json()["lower_is_better"]
    assert AuditEvent.objects.get(action="kpi.update").changes["target"] == ["1.50", "3.00"]
    response = send(client, "patch", _url(world, PIL + "/{pillar}"), {"color": "#ABCDEF"}, **h)
    assert response.json()["color"] == "#abcdef" and response.json()["target_share"] == 40
    assert send(client, "delete", _url(world, ONE), None, **h).status_code == 204
    assert not KPI.objects.filter(objective_id=world["objective"].pk).exists()
    assert {"kpi.update", "pillar.update", "objective.delete"} <= set(
        AuditEvent.objects.filter(via="api").values_list("action", flat=True))


def test_the_mix(client, world):
    h = bearer(world["tokens"]["analyst"])
    mix = client.get(_url(world, "/brands/{brand}/pillar-mix"), **h).json()
    assert mix["planned"] == 40 and mix["remaining"] == 60
    assert [p["name"] for p in mix["pillars"]] == ["Educativo"]


@pytest.mark.parametrize("method, path, body, field", [
    ("post", OBJ, {"name": "x" * 201, "period_start": "2030-01-01", "period_end": "2030-02-01"}, "name"),
    ("post", OBJ, {"name": "", "period_start": "2030-01-01", "period_end": "2030-02-01"}, "name"),
    ("post", OBJ, {"name": "a\x00b", "period_start": "2030-01-01", "period_end": "2030-02-01"}, "name"),
    ("post", OBJ, {"name": "x", "period_start": "2030-02-01", "period_end": "2030-01-01"}, "period_end"),
    ("post", OBJ, {"name": "x", "period_start": "yesterday", "period_end": "2030-01-01"}, "period_start"),
    ("post", OBJ, {"name": "x", "period_start": "2030-01-01", "period_end": "2030-02-01", "owner": 1}, "owner"),
    ("post", OBJ, {"name": "x", "period_start": "2030-01-01", "period_end": "2030-02-01",
                   "kpis": [{"metric": "happiness", "target": 1}]}, "kpis.0.metric"),
    ("post", OBJ, {"name": "x", "period_start": "2030-01-01", "period_end": "2030-02-01",
                   "kpis": [{"metric": "ctr", "target": 1}, {"metric": "ctr", "target": 2}]}, "metric"),
    ("patch", ONE, {"period_end": "2029-01-01"}, "period_end"),
    ("patch", ONE, {"name": None}, "name"),
    ("post", KPIS, {"metric": "happiness", "target": 1}, "metric"),
    ("post", KPIS, {"metric": "ctr", "target": 1}, "metric"),  # already has a CTR target
    ("post", KPIS, {"metric": "roi", "target": "NaN"}, "target"),
    ("post", KPIS, {"metric": "roi", "target": 1.234}, "target"),
    ("post", KPIS, {"metric": "roi", "target": "1" * 20}, "target"),
    ("post", KPIS, {"metric": "share_of_voice", "target": 101}, "target"),
    ("post", KPIS, {"metric": "response_time", "target": -1}, "target"),
    ("patch", KPIS + "/{kpi}", {"target": 250}, "target"),  # CTR is a share of impressions
    ("post", PIL, {"name": "x", "target_share": 101}, "target_share"),
    ("post", PIL, {"name": "x", "target_share": -1}, "target_share"),
    ("post", PIL, {"name": "x", "target_share": 61}, "target_share"),  # 40 + 61 > 100
    ("post", PIL, {"name": "educativo", "target_share": 1}, "name"),  # taken, whatever the case
    ("post", PIL, {"name": "p" * 81, "target_share": 1}, "name"),
    ("post", PIL, {"name": "x", "target_share": 1, "color": "<script>"}, "color"),
    ("patch", PIL + "/{pillar}", {"target_share": "lots"}, "target_share"),
])
def test_hostile_input_is_422_and_changes_nothing(client, world, method, path, body, field):
    h = bearer(world["tokens"]["owner"])
    before = AuditEvent.objects.count()
    response = send(client, method, _url(world, path), body, **h)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"], response.json()
    assert AuditEvent.objects.count() == before
    assert Objective.objects.filter(brand=world["brand"]).count() == 1
    assert ContentPillar.objects.filter(brand=world["brand"]).count() == 1
    assert KPI.objects.get(pk=world["kpi"].pk).target == Decimal("1.50")


def test_sum_over_100_says_how_much_is_left(client, world):
    response = send(client, "post", _url(world, PIL), {"name": "Promos", "target_share": 70},
                    **bearer(world["tokens"]["owner"]))
    assert response.status_code == 422
    assert response.json()["errors"]["target_share"] == [
        "The pillars' target shares cannot add up to more than 100%: the other pillars already plan 40%, "
        "so this one can have at most 60%."]


def test_markup_is_returned_as_data(client, world):
    h = bearer(world["tokens"]["owner"])
    xss = "<script>alert(1)</script>"
    response = send(client, "post", _url(world, PIL), {"name": xss, "target_share": 1}, **h)
    assert response.status_code == 201 and response.json()["name"] == xss
    assert response["Content-Type"].startswith("application/json")


def test_openapi_lists_the_strategy_routes(client, world):
    spec = client.get(f"{API}/openapi.json").json()
    assert "/api/v1/brands/{brand_id}/objectives/{objective_id}/kpis/{kpi_id}" in spec["paths"]
    assert "/api/v1/brands/{brand_id}/pillars/{pillar_id}" in spec["paths"]
