"""The posts API: CRUD, variants, validation report, filters, roles, tenants, 422 shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tertulia.content import composer, services
from tertulia.content.models import Post, PostVariant
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, generated_png
from tertulia.networks.services import do_add_account
from tertulia.strategy import services as strategy_services

pytestmark = pytest.mark.django_db
API = "/api/v1"


def send(client, method, url, data=None, **headers):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(url, body, content_type="application/json", **headers)


@pytest.fixture
def setup(brand_a, brand_b, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    brand, people = brand_a
    owner = Ctx(people["owner"])
    accounts = {"x": do_add_account(owner, brand, network="x", handle="alpha"),
                "bluesky": do_add_account(owner, brand, network="bluesky", handle="alpha.bsky.social")}
    client = Client()
    client.force_login(people["community_manager"])
    return brand, people, accounts, client, brand_b


def test_create_read_update_delete(setup):
    brand, people, accounts, client, _b = setup
    cm = Ctx(people["community_manager"])
    pillar = strategy_services.do_save_pillar(Ctx(people["owner"]), brand, name="Recetas", target_share=30)
    campaign = services.do_create_campaign(cm, brand, name="Otoño")
    image = services.do_upload_media(cm, brand, generated_png(800, 800), alt_text="Una tarta")
    base = f"{API}/brands/{brand.pk}/posts"
    payload = {"text": "Hola", "account_ids": [accounts["x"].pk, accounts["bluesky"].pk],
               "variants": {"x": "Hola X", "bluesky": None}, "pillar_id": pillar.pk, "format": "image",
               "campaign_id": campaign.pk, "scheduled_at": "2030-05-06T09:30:00+02:00", "first_comment": "Más",
               "media_ids": [image.pk]}
    response = send(client, "post", base, payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft" and body["networks"] == ["x", "bluesky"]
    assert body["scheduled_at"].startswith("2030-05-06T07:30:00")
    assert body["media_ids"] == [image.pk] and body["pillar_id"] == pillar.pk
    variants = {v["network"]: v for v in body["variants"]}
    assert variants["x"]["is_custom"] and variants["x"]["effective_text"] == "Hola X"
    assert not variants["bluesky"]["is_custom"] and variants["bluesky"]["effective_text"] == "Hola"
    post_id = body["id"]
    assert AuditEvent.objects.filter(action="post.create", via="api").exists()

    got = client.get(f"{base}/{post_id}").json()
    assert got["text"] == "Hola" and got["version"] == 1
    response = send(client, "patch", f"{base}/{post_id}", {"text": "Hola de nuevo", "pillar_id": None, "version": 1})
    assert response.status_code == 200, response.content
    assert response.json()["text"] == "Hola de nuevo" and response.json()["pillar_id"] is None
    assert response.json()["version"] == 2
    # A stale version is refused with the field-errors shape.
    stale = send(client, "patch", f"{base}/{post_id}", {"text": "viejo", "version": 1})
    assert stale.status_code == 422 and set(stale.json()) == {"detail", "errors"}
    assert send(client, "patch", f"{base}/{post_id}", {"text": None}).status_code == 422

    assert client.delete(f"{base}/{post_id}").status_code == 204
    assert not Post.objects.filter(pk=post_id).exists()


def test_list_filters_and_pages(setup):
    brand, people, accounts, client, _b = setup
    cm = Ctx(people["community_manager"])
    pillar = strategy_services.do_save_pillar(Ctx(people["owner"]), brand, name="Recetas", target_share=30)
    early = composer.do_create_draft(cm, brand, text="temprano", accounts=[accounts["x"]], pillar=pillar,
                                     scheduled_at=datetime(2030, 1, 1, 10, tzinfo=UTC))
    late = composer.do_create_draft(cm, brand, text="tarde", accounts=[accounts["bluesky"]],
                                    scheduled_at=datetime(2030, 6, 1, 10, tzinfo=UTC))
    base = f"{API}/brands/{brand.pk}/posts"
    ids = lambda r: [p["id"] for p in r.json()["items"]]  # noqa: E731
    assert ids(client.get(base)) == [late.pk, early.pk]
    assert ids(client.get(base, {"network": "x"})) == [early.pk]
    assert ids(client.get(base, {"pillar": pillar.pk})) == [early.pk]
    assert ids(client.get(base, {"from": "2030-03-01T00:00:00Z"})) == [late.pk]
    assert ids(client.get(base, {"to": "2030-03-01T00:00:00Z"})) == [early.pk]
    assert ids(client.get(base, {"state": "pending_approval"})) == []
    page = client.get(base, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 2 and [p["id"] for p in page["items"]] == [early.pk]
    assert client.get(base, {"state": "bogus"}).status_code == 422


def test_variants_endpoints(setup):
    brand, people, accounts, client, _b = setup
    post = composer.do_create_draft(Ctx(people["community_manager"]), brand, text="Común",
                                    accounts=[accounts["x"], accounts["bluesky"]])
    base = f"{API}/brands/{brand.pk}/posts/{post.pk}/variants"
    listed = client.get(base).json()
    assert {v["network"]: v["is_custom"] for v in listed} == {"x": False, "bluesky": False}
    response = send(client, "put", f"{base}/x", {"text": "Propio de X"})
    assert response.status_code == 200 and response.json()["effective_text"] == "Propio de X"
    assert PostVariant.objects.get(post=post, network="x").is_custom
    response = client.delete(f"{base}/x")
    assert response.status_code == 200 and response.json() == {
        "network": "x", "is_custom": False, "text": "", "effective_text": "Común"}
    assert send(client, "put", f"{base}/myspace", {"text": "x"}).status_code == 422
    assert send(client, "put", f"{base}/x", {"text": ""}).status_code == 422
    assert send(client, "put", f"{base}/x", {"text": "a" * 70001}).status_code == 422


def test_validate_returns_the_report(setup):
    brand, people, accounts, client, _b = setup
    url = f"{API}/brands/{brand.pk}/posts/validate"
    response = send(client, "post", url, {"text": "a" * 281, "account_ids": [accounts["x"].pk, accounts["bluesky"].pk],
                                          "variants": {"bluesky": "corto"}})
    assert response.status_code == 200
    report = response.json()
    assert not report["valid"]
    x = report["networks"]["x"]
    assert [e["code"] for e in x["errors"]] == ["too_long"]
    assert x["counters"][0] == {"key": "characters", "label": "characters", "value": 281, "limit": 280,
                                "over": True}
    assert report["networks"]["bluesky"]["errors"] == [] and not report["networks"]["bluesky"]["inherits"]
    es = Client(HTTP_ACCEPT_LANGUAGE="es")
    user = people["community_manager"]
    user.language = "es"
    user.save()
    es.force_login(user)
    body = send(es, "post", url, {"text": "a" * 281, "account_ids": [accounts["x"].pk]}).json()
    assert "caracteres" in body["networks"]["x"]["errors"][0]["message"]


def test_delete_refused_once_approved(setup):
    from tertulia.content import approvals

    brand, people, accounts, client, _b = setup
    cm = Ctx(people["community_manager"])
    post = composer.do_create_draft(cm, brand, text="Hola", accounts=[accounts["x"]])
    approvals.do_submit_for_review(cm, post)
    approvals.do_approve(Ctx(people["manager"]), Post.objects.get(pk=post.pk))
    response = client.delete(f"{API}/brands/{brand.pk}/posts/{post.pk}")
    assert response.status_code == 409
    assert "cannot be deleted" in response.json()["detail"]
    assert Post.objects.filter(pk=post.pk).exists()


def test_patching_an_approved_post_sends_it_back_to_review(setup):
    from tertulia.content import approvals

    brand, people, accounts, client, _b = setup
    cm = Ctx(people["community_manager"])
    post = composer.do_create_draft(cm, brand, text="Hola", accounts=[accounts["x"]],
                                    scheduled_at=timezone.now() + timedelta(days=1))
    approvals.do_submit_for_review(cm, post)
    approvals.do_approve(Ctx(people["manager"]), Post.objects.get(pk=post.pk))
    response = send(client, "patch", f"{API}/brands/{brand.pk}/posts/{post.pk}", {"text": "Hola, cambiado"})
    assert response.status_code == 200 and response.json()["state"] == "pending_approval"


def test_roles_and_tenants(setup):
    brand, people, accounts, client, (b_brand, b_people) = setup
    b_owner = Ctx(b_people["owner"])
    b_account = do_add_account(b_owner, b_brand, network="x", handle="beta")
    b_post = composer.do_create_draft(b_owner, b_brand, text="Beta secret", accounts=[b_account])
    b_image = services.do_upload_media(b_owner, b_brand, generated_png(), alt_text="beta")
    post = composer.do_create_draft(Ctx(people["community_manager"]), brand, text="Alpha", accounts=[accounts["x"]])
    base = f"{API}/brands/{brand.pk}/posts"
    # Another brand's post, through my brand or theirs: 404 and nothing leaks.
    for url in (f"{base}/{b_post.pk}", f"{API}/brands/{b_brand.pk}/posts/{b_post.pk}",
                f"{base}/{b_post.pk}/variants", f"{API}/brands/{b_brand.pk}/posts"):
        response = client.get(url)
        assert response.status_code == 404 and b"Beta secret" not in response.content
    assert send(client, "patch", f"{base}/{b_post.pk}", {"text": "pwned"}).status_code == 404
    assert client.delete(f"{base}/{b_post.pk}").status_code == 404
    assert send(client, "put", f"{base}/{b_post.pk}/variants/x", {"text": "pwned"}).status_code == 404
    b_post.refresh_from_db()
    assert b_post.text == "Beta secret"
    # Another brand's ids in a body: 422 naming the field, nothing written.
    for field, value in (("account_ids", [b_account.pk]), ("media_ids", [b_image.pk])):
        response = send(client, "post", base, {"text": "x", field: [*value]})
        assert response.status_code == 422 and field in response.json()["errors"]
    assert Post.objects.filter(brand=brand).count() == 1
    # Roles: analysts and client reviewers read but do not write.
    analyst = Client()
    analyst.force_login(people["analyst"])
    assert analyst.get(base).status_code == 200
    assert analyst.get(f"{base}/{post.pk}").status_code == 200
    assert send(analyst, "post", base, {"text": "x"}).status_code == 403
    assert send(analyst, "patch", f"{base}/{post.pk}", {"text": "x"}).status_code == 403
    assert analyst.delete(f"{base}/{post.pk}").status_code == 403
    assert send(analyst, "post", f"{base}/validate", {"text": "x"}).status_code == 403
    # A read-only token cannot write either.
    _token, raw = core_services.do_create_token(Ctx(people["community_manager"]), "ro", {brand.pk: "read"})
    anon = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert anon.get(base, **headers).status_code == 200
    assert send(anon, "post", base, {"text": "x"}, **headers).status_code == 403


def test_hostile_bodies(setup):
    brand, people, accounts, client, _b = setup
    base = f"{API}/brands/{brand.pk}/posts"
    cases = [
        {"text": "a" * 100_000},
        {"text": "a\x00b"},
        {"text": "x", "unknown": 1},
        {"text": "x", "scheduled_at": "2030-05-06T09:30:00"},  # no offset
        {"text": "x", "variants": {"myspace": "hola"}},
        {"text": "x", "account_ids": ["abc"]},
        {"text": "x", "account_ids": list(range(500))},
        {"text": "x", "format": "hologram"},
    ]
    for payload in cases:
        response = send(client, "post", base, payload)
        assert response.status_code == 422, (payload if len(str(payload)) < 200 else "big", response.content[:200])
        assert set(response.json()) == {"detail", "errors"}
    assert client.post(base, "{not json", content_type="application/json").status_code in (400, 422)
    assert not Post.objects.filter(brand=brand).exists()
    # Script in the text is stored as text and returned as JSON, never as HTML.
    response = send(client, "post", base, {"text": XSS, "account_ids": [accounts["x"].pk]})
    assert response.status_code == 201 and response["Content-Type"].startswith("application/json")
    assert response.json()["text"] == XSS
    zw = "Hola\u200b\u200dmundo"
    assert send(client, "post", base, {"text": zw}).json()["text"] == zw
