"""The ideas API: CRUD, moves with compact positions, roles, tokens, other tenants, hostile input."""

from __future__ import annotations

import json

import pytest

from tertulia.content import ideas as svc
from tertulia.content.models import Idea
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.strategy import services as strategy_services

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _token(user, brand, scope="write"):
    return core_services.do_create_token(Ctx(user), f"t-{user.pk}-{scope}", {brand.pk: scope})[1]


def _api(client, method, url, raw, data=None):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(API + url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    ctx = Ctx(people["community_manager"])
    cards = [svc.do_create_idea(ctx, brand, title=t) for t in ("Uno", "Dos", "Tres")]
    theirs = svc.do_create_idea(Ctx(other_people["owner"]), other, title="Secreto de Beta")
    return {"brand": brand, "people": people, "other": other, "cards": cards, "theirs": theirs,
            "raw": _token(people["community_manager"], brand)}


def test_create_get_patch_delete(client, world):
    b, raw = world["brand"].pk, world["raw"]
    pillar = strategy_services.do_save_pillar(Ctx(world["people"]["owner"]), world["brand"], name="Educativo",
                                              target_share=20)
    created = _api(client, "post", f"/brands/{b}/ideas", raw,
                   {"title": "Hilo sobre café", "notes": "Orígenes", "pillar_id": pillar.pk,
                    "source_url": "https://example.org/a", "column": "writing"})
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["column"], data["position"], data["pillar_id"]) == ("writing", 0, pillar.pk)
    one = _api(client, "get", f"/brands/{b}/ideas/{data['id']}", raw).json()
    assert one["title"] == "Hilo sobre café"
    patched = _api(client, "patch", f"/brands/{b}/ideas/{data['id']}", raw,
                   {"title": "Hilo", "pillar_id": 0, "column": "ready"}).json()
    assert (patched["title"], patched["pillar_id"], patched["column"], patched["position"]) == ("Hilo", None, "ready", 0)
    assert _api(client, "delete", f"/brands/{b}/ideas/{data['id']}", raw).status_code == 204
    assert not Idea.objects.filter(pk=data["id"]).exists()
    assert AuditEvent.objects.filter(via="api", action__startswith="idea.").count() >= 3


def test_list_in_board_order_and_filter(client, world):
    b, raw = world["brand"].pk, world["raw"]
    uno, dos, tres = world["cards"]
    moved = _api(client, "post", f"/brands/{b}/ideas/{tres.pk}/move", raw, {"column": "idea", "position": 0})
    assert moved.status_code == 200 and moved.json()["position"] == 0
    _api(client, "post", f"/brands/{b}/ideas/{dos.pk}/move", raw, {"column": "ready"})
    items = _api(client, "get", f"/brands/{b}/ideas", raw).json()["items"]
    assert [(i["title"], i["column"], i["position"]) for i in items] == [
        ("Tres", "idea", 0), ("Uno", "idea", 1), ("Dos", "ready", 0)]
    only = _api(client, "get", f"/brands/{b}/ideas?column=ready", raw).json()
    assert [i["title"] for i in only["items"]] == ["Dos"]
    assert _api(client, "get", f"/brands/{b}/ideas?column=nope", raw).status_code == 422
    page = _api(client, "get", f"/brands/{b}/ideas?limit=1&offset=1", raw).json()
    assert page["count"] == 3 and len(page["items"]) == 1


@pytest.mark.parametrize("body", [
    {"title": ""}, {"title": "x" * 301}, {"title": "ok", "notes": "x" * 10_001},
    {"title": "ok", "source_url": "javascript:alert(1)"}, {"title": "ok", "column": "published"},
    {"title": "ok", "unknown": 1}, {"title": "ok", "pillar_id": 999999}, {"title": "a\x00b"},
    {"title": ["not", "a", "string"]},
])
def test_hostile_create_is_422(client, world, body):
    response = _api(client, "post", f"/brands/{world['brand'].pk}/ideas", world["raw"], body)
    assert response.status_code == 422, response.content
    assert Idea.objects.filter(brand=world["brand"]).count() == 3


def test_hostile_move_and_patch(client, world):
    b, raw = world["brand"].pk, world["raw"]
    uno = world["cards"][0]
    for body in ({"column": "idea", "position": -1}, {"column": "x"}, {"position": 1}, {"column": "idea", "position": 10**9},
                 {"status": "ready"}):
        assert _api(client, "post", f"/brands/{b}/ideas/{uno.pk}/move", raw, body).status_code == 422, body
    assert _api(client, "patch", f"/brands/{b}/ideas/{uno.pk}", raw, {"title": None}).status_code == 422
    assert _api(client, "patch", f"/brands/{b}/ideas/{uno.pk}", raw, {"source_url": "ftp://x"}).status_code == 422


def test_markup_is_returned_as_data(client, world):
    b, raw = world["brand"].pk, world["raw"]
    created = _api(client, "post", f"/brands/{b}/ideas", raw, {"title": XSS}).json()
    assert created["title"] == XSS


def test_other_brands_ideas_are_404(client, world):
    b, raw, theirs = world["brand"].pk, world["raw"], world["theirs"]
    for method, path, body in (("get", "", None), ("patch", "", {"title": "x"}), ("delete", "", None),
                               ("post", "/move", {"column": "ready"})):
        assert _api(client, method, f"/brands/{b}/ideas/{theirs.pk}{path}", raw, body).status_code == 404
    assert _api(client, "get", f"/brands/{world['other'].pk}/ideas", raw).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.title, theirs.status) == ("Secreto de Beta", "idea")


def test_roles_and_read_only_tokens(client, world):
    b = world["brand"].pk
    uno = world["cards"][0]
    for raw in (_token(world["people"]["analyst"], world["brand"]),
                _token(world["people"]["community_manager"], world["brand"], "read")):
        assert _api(client, "get", f"/brands/{b}/ideas", raw).status_code == 200
        assert _api(client, "post", f"/brands/{b}/ideas", raw, {"title": "x"}).status_code == 403
        assert _api(client, "post", f"/brands/{b}/ideas/{uno.pk}/move", raw, {"column": "ready"}).status_code == 403
        assert _api(client, "delete", f"/brands/{b}/ideas/{uno.pk}", raw).status_code == 403
    assert client.get(API + f"/brands/{b}/ideas").status_code == 401
