"""Token scopes on the whole API, route by route (enumerated from the router, so a new route is
covered without touching this file).

- A read-only token cannot use any write route: every POST, PUT, PATCH and DELETE of the schema
  answers 403 with a message that says why, and nothing changes.
- A token granted brand A cannot reach brand B, even though its user is a member of B: every
  route with B's ids answers 404, and B is unchanged.
- A revoked or expired token is 401, on reads and on writes.
- A token in the query string is not a credential (401), whatever the parameter's name.
- Tokens are stored hashed: after a token was created and used, its secret is in no column of
  any table.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import models, transaction
from django.test import Client
from django.utils import timezone

from tertulia.api.api import api
from tertulia.core import services
from tertulia.core.models import KnowledgeEntry, PersonalAccessToken
from tertulia.core.services import Ctx
from tertulia.core.tests.test_isolation import (
    NINJA_OWN,
    _api_request,
    _schema_key,
    _state_of,
    _values,
    discover,
)
from tertulia.core.tests.web_helpers import fill_route, populate, route_params

pytestmark = pytest.mark.django_db

API = "/api/v1"
WRITE_METHODS = ("post", "put", "patch", "delete")
READ_ONLY_MESSAGE = "This API token may only read"


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _write_routes():
    _web, api_routes, _paths = discover()
    routes = [(route, method) for name, route, methods in api_routes if name not in NINJA_OWN
              for method in methods if method in WRITE_METHODS]
    return routes


@pytest.fixture
def world(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return populate(*brand_a, marker="Alpha")


def test_read_only_token_is_refused_on_every_write_route(world):
    owner = world.people["owner"]
    _token, raw = services.do_create_token(Ctx(owner, via="test"), "read only", {world.brand.pk: "read"})
    spec = api.get_openapi_schema()
    values = _values(world)
    routes = _write_routes()
    # Every kind of write is there: the enumeration is not vacuous.
    assert len(routes) > 100 and {m for _r, m in routes} == set(WRITE_METHODS)
    before = _state_of(world)
    failures = []
    for route, method in routes:
        url = fill_route(route, values)
        response = _api_request(Client(), method, url, spec, _schema_key(route), world, **bearer(raw))
        if response.status_code != 403:
            failures.append(f"{method.upper()} {url}: {response.status_code} {response.content[:200]!r}")
        elif READ_ONLY_MESSAGE not in response.json().get("detail", ""):
            failures.append(f"{method.upper()} {url}: 403 without saying why: {response.content[:200]!r}")
    assert not failures, f"{len(failures)} write routes accept a read-only token:\n" + "\n".join(failures)
    assert _state_of(world) == before

    # The refusal does not depend on the body: a garbage one gets the same 403, not a 422.
    response = Client().post(f"{API}/brands/{world.brand.pk}/knowledge", "{not json", content_type="application/json",
                             **bearer(raw))
    assert response.status_code == 403 and READ_ONLY_MESSAGE in response.json()["detail"]
    # In the token owner's language.
    owner.language = "es"
    owner.save(update_fields=["language"])
    response = Client().delete(f"{API}/brands/{world.brand.pk}/knowledge/{world.entry.pk}", **bearer(raw))
    assert response.status_code == 403 and "Este token" in response.json()["detail"]
    # Reads still work with it, and the same routes work with a write token (positive control).
    assert Client().get(f"{API}/brands/{world.brand.pk}/knowledge/{world.entry.pk}", **bearer(raw)).status_code == 200
    response = Client().patch(f"{API}/brands/{world.brand.pk}/knowledge/{world.entry.pk}", {"title": "Changed"},
                              content_type="application/json", **bearer(world.token_raw))
    assert response.status_code == 200 and response.json()["title"] == "Changed"


def test_write_grant_on_one_brand_does_not_lift_a_read_grant_on_another(brand_a, brand_b):
    """Write on A, read on B (the user owns both): writes to B are refused, writes to A pass."""
    a, people_a = brand_a
    b, people_b = brand_b
    person = people_a["owner"]
    services.do_add_member(Ctx(people_b["owner"]), b, person, "owner")
    _token, raw = services.do_create_token(Ctx(person), "mixed", {a.pk: "write", b.pk: "read"})
    to_b = Client().post(f"{API}/brands/{b.pk}/knowledge", {"title": "t", "answer": "a"},
                         content_type="application/json", **bearer(raw))
    assert to_b.status_code == 403 and READ_ONLY_MESSAGE in to_b.json()["detail"]
    assert Client().patch(f"{API}/brands/{b.pk}", {"tone": "x"}, content_type="application/json",
                          **bearer(raw)).status_code == 403
    to_a = Client().post(f"{API}/brands/{a.pk}/knowledge", {"title": "t", "answer": "a"},
                         content_type="application/json", **bearer(raw))
    assert to_a.status_code == 201
    b.refresh_from_db()
    assert b.tone == "" and not KnowledgeEntry.objects.filter(brand=b).exists()
    # A write that belongs to no brand (marking one's notifications read) needs a write grant
    # somewhere: this token has one.
    assert Client().post(f"{API}/notifications/read-all", **bearer(raw)).status_code == 200


def test_token_for_brand_a_cannot_reach_brand_b_on_any_route(brand_a, brand_b, settings, tmp_path):
    """The token's user is an owner of B too; the token was granted A only (write)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    a = populate(*brand_a, marker="Alpha")
    b = populate(*brand_b, marker="Beta")
    person = a.people["owner"]
    services.do_add_member(Ctx(b.people["owner"]), b.brand, person, "owner")
    _token, raw = services.do_create_token(Ctx(person), "only A", {a.brand.pk: "write"})
    _web, api_routes, _ = discover()
    spec = api.get_openapi_schema()
    values = _values(b)
    before = _state_of(b)
    failures, checked = [], 0
    for name, route, methods in api_routes:
        if "brand_id" not in route_params(route):
            continue
        url = fill_route(route, values)
        for method in methods:
            checked += 1
            response = _api_request(Client(), method, url, spec, _schema_key(route), b, **bearer(raw))
            if response.status_code != 404:
                failures.append(f"{method.upper()} {url}: {response.status_code} {response.content[:200]!r}")
    assert checked > 200
    assert not failures, "\n".join(failures)
    assert _state_of(b) == before
    # The same person's session does reach B: the narrowing is the token's.
    client = Client()
    client.force_login(person)
    assert client.get(f"{API}/brands/{b.brand.pk}").status_code == 200


@pytest.mark.parametrize("state", ["revoked", "expired"])
def test_revoked_or_expired_token_is_401_on_reads_and_writes(brand_a, state):
    brand, people = brand_a
    owner = people["owner"]
    token, raw = services.do_create_token(Ctx(owner), "soon gone", {brand.pk: "write"})
    assert Client().get(f"{API}/brands/{brand.pk}", **bearer(raw)).status_code == 200
    if state == "revoked":
        services.do_revoke_token(Ctx(owner), token)
    else:
        PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for method, url, body in [("get", f"/brands/{brand.pk}", None), ("get", "/me", None),
                              ("post", f"/brands/{brand.pk}/knowledge", {"title": "t", "answer": "a"}),
                              ("patch", f"/brands/{brand.pk}", {"tone": "gone"}),
                              ("delete", f"/brands/{brand.pk}", None)]:
        kwargs = {"data": body, "content_type": "application/json"} if body else {}
        response = getattr(Client(), method)(API + url, **kwargs, **bearer(raw))
        assert response.status_code == 401, (method, url, response.content)
    brand.refresh_from_db()
    assert brand.tone == "" and not KnowledgeEntry.objects.filter(brand=brand).exists()


@pytest.mark.parametrize("param", ["token", "access_token", "api_key", "key", "bearer", "auth", "Authorization"])
def test_token_in_the_query_string_is_refused(brand_a, param):
    brand, people = brand_a
    _token, raw = services.do_create_token(Ctx(people["owner"]), "in the url", {brand.pk: "write"})
    assert Client().get(f"{API}/me?{param}={raw}").status_code == 401
    assert Client().get(f"{API}/brands/{brand.pk}?{param}=Bearer%20{raw}").status_code == 401
    response = Client().post(f"{API}/brands/{brand.pk}/knowledge?{param}={raw}", {"title": "t", "answer": "a"},
                             content_type="application/json")
    assert response.status_code == 401
    # The same token in the header works (the refusal is about where it was sent).
    assert Client().get(f"{API}/me", **bearer(raw)).status_code == 200


def test_token_secret_is_in_no_column_of_any_table(brand_a):
    """Created, used for a read and a write, audited: the raw secret is stored nowhere."""
    brand, people = brand_a
    token, raw = services.do_create_token(Ctx(people["owner"]), "hashed", {brand.pk: "write"})
    assert Client().get(f"{API}/me", **bearer(raw)).status_code == 200
    assert Client().post(f"{API}/brands/{brand.pk}/knowledge", {"title": "Hours", "answer": "9 to 5"},
                         content_type="application/json", **bearer(raw)).status_code == 201
    secret = raw[len(PersonalAccessToken.PREFIX) + 4:]  # past the hint, which is stored on purpose
    found, searched = [], 0
    text_fields = (models.CharField, models.TextField, models.JSONField)
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, text_fields)]
        for field in fields:
            searched += 1
            lookup = f"{field.name}__contains"
            try:
                with transaction.atomic():
                    hit = model._default_manager.filter(**{lookup: secret}).exists()
            except Exception:  # noqa: BLE001 - a JSON or encrypted field without text lookups
                with transaction.atomic():
                    hit = any(secret in str(v) for v in model._default_manager.values_list(field.name, flat=True))
            if hit:
                found.append(f"{model._meta.label}.{field.name}")
    assert searched > 100
    assert not found, f"the token's secret is stored in {found}"
    row = PersonalAccessToken.objects.get(pk=token.pk)
    assert row.token_hash == PersonalAccessToken.hash(raw) != raw and raw.startswith(row.hint)
