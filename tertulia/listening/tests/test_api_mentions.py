"""Listening API: queries (CRUD and check), sources (CRUD and poll), mentions (filters,
pagination, to-inbox); hostile bodies, other brands' ids, roles that may only read."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.listening import services
from tertulia.listening.mentions import MentionIn, ingest
from tertulia.listening.models import ListeningQuery, Mention, Source
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db
API = "/api/v1/brands"


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def send(c, method, url, body=None):
    return getattr(c, method)(url, data=json.dumps(body) if body is not None else None,
                              content_type="application/json")


def test_queries_crud_and_check(brand_a, brand_b):
    brand, people = brand_a
    c = client_for(people["community_manager"])
    base = f"{API}/{brand.pk}/listening/queries"
    created = send(c, "post", base, {"name": f"Marca {XSS}", "kind": "brand", "text": '"café lento" OR #cafelento'})
    assert created.status_code == 201, created.content
    query_id = created.json()["id"]
    assert created.json()["name"] == f"Marca {XSS}" and created.json()["enabled"] is True
    assert AuditEvent.objects.filter(brand=brand, action="listening_query.create").exists()
    bad = send(c, "post", base, {"name": "Rota", "kind": "brand", "text": "(cafe OR"})
    assert bad.status_code == 422 and "Column" in json.dumps(bad.json())
    for body in ({"name": "x", "kind": "brand", "text": "a" * 2001}, {"name": "", "kind": "brand", "text": "a"},
                 {"name": "x", "kind": "nope", "text": "a"}, {"name": "x", "text": "a", "extra": 1},
                 {"name": "x\x00", "text": "a"}, {"name": "x", "text": "a", "competitor_id": 999999}):
        assert send(c, "post", base, body).status_code in (404, 422), body
    listing = c.get(base)
    assert listing.status_code == 200 and [q["id"] for q in listing.json()["items"]] == [query_id]
    patched = send(c, "patch", f"{base}/{query_id}", {"enabled": False, "text": "#cafelento"})
    assert patched.status_code == 200 and patched.json()["enabled"] is False and patched.json()["text"] == "#cafelento"
    assert send(c, "patch", f"{base}/{query_id}", {"text": 'a "b'}).status_code == 422
    assert send(c, "patch", f"{base}/{query_id}", {"name": None}).status_code == 422

    check = f"{base}/check"
    ok = send(c, "post", check, {"text": "#cafelento NOT lang:en"}).json()
    assert ok["ok"] is True and ok["error"] == "" and ok["column"] is None
    error = send(c, "post", check, {"text": 'cafe OR "lento'}).json()
    assert error["ok"] is False and error["column"] == 9 and "Column 9" in error["error"]
    assert send(c, "post", check, {"text": "a" * 3000}).status_code == 422

    b_brand, b_people = brand_b
    b_query = services.do_save_query(Ctx(b_people["owner"]), b_brand, name="Beta secret", kind="brand", text="beta")
    assert c.get(f"{base}/{b_query.pk}").status_code == 404
    assert send(c, "patch", f"{base}/{b_query.pk}", {"name": "mine"}).status_code == 404
    assert send(c, "delete", f"{base}/{b_query.pk}").status_code == 404
    assert c.get(f"{API}/{b_brand.pk}/listening/queries").status_code == 404
    assert ListeningQuery.objects.get(pk=b_query.pk).name == "Beta secret"

    reader = client_for(people["analyst"])
    assert reader.get(base).status_code == 200
    assert send(reader, "post", base, {"name": "x", "kind": "brand", "text": "x"}).status_code == 403
    assert send(reader, "post", check, {"text": "x"}).status_code == 403
    assert send(reader, "delete", f"{base}/{query_id}").status_code == 403
    assert send(c, "delete", f"{base}/{query_id}").status_code == 204
    assert not ListeningQuery.objects.filter(pk=query_id).exists()


def test_sources_crud_and_poll(brand_a, brand_b, settings):
    settings.LISTENING_SOURCES = {"JITTER": 0.0}
    brand, people = brand_a
    c = client_for(people["community_manager"])
    base = f"{API}/{brand.pk}/listening/sources"
    for body in ({"kind": "feed", "url": "http://192.168.1.1/rss"}, {"kind": "feed", "url": "javascript:alert(1)"},
                 {"kind": "feed", "url": "https://x.example/" + "a" * 1000}, {"kind": "search", "term": "#x"},
                 {"kind": "feed", "url": "https://x.example/rss", "interval_seconds": 10},
                 {"kind": "search", "term": "#x", "account_id": 99999999}, {"kind": "weird"}):
        assert send(c, "post", base, body).status_code in (404, 422), body
    created = send(c, "post", base, {"kind": "feed", "url": "https://news.example/rss", "name": XSS,
                                     "interval_seconds": 1800})
    assert created.status_code == 201, created.content
    source = created.json()
    assert source["url"] == "https://news.example/rss" and source["interval_seconds"] == 1800 and source["error"] == ""
    patched = send(c, "patch", f"{base}/{source['id']}", {"url": "http://127.0.0.1:9/feed"})
    assert patched.status_code == 422  # a private address, refused when written
    patched = send(c, "patch", f"{base}/{source['id']}", {"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    send(c, "patch", f"{base}/{source['id']}", {"enabled": True})
    Source.objects.filter(pk=source["id"]).update(url="http://127.0.0.1:9/feed")  # as if DNS changed
    polled = send(c, "post", f"{base}/{source['id']}/poll")
    assert polled.status_code == 200
    assert polled.json()["status"] == "failed" and "private or local" in polled.json()["source"]["error"]
    assert polled.json()["source"]["failures"] == 1

    b_brand, b_people = brand_b
    b_source = services.do_save_source(Ctx(b_people["owner"]), b_brand, kind="comments")
    for method, suffix in (("get", ""), ("patch", ""), ("delete", ""), ("post", "/poll")):
        assert send(c, method, f"{base}/{b_source.pk}{suffix}", {"enabled": False} if method == "patch" else None
                    ).status_code == 404
    reader = client_for(people["client_reviewer"])
    assert reader.get(base).status_code == 200
    assert send(reader, "post", f"{base}/{source['id']}/poll").status_code == 403
    assert send(reader, "delete", f"{base}/{source['id']}").status_code == 403
    assert send(c, "delete", f"{base}/{source['id']}").status_code == 204
    assert Source.objects.filter(pk=b_source.pk).exists()


def test_mentions_list_filters_and_to_inbox(brand_a, brand_b):
    brand, people = brand_a
    ctx = Ctx(people["community_manager"], via="test")
    q1 = services.do_save_query(ctx, brand, name="Marca", kind="brand", text='"café lento" OR #cafelento')
    q2 = services.do_save_query(ctx, brand, name="Prensa", kind="industry", text="site:news.example")
    now = timezone.now()
    ingest(brand, None, [
        MentionIn(network="mastodon", external_id="m1", text="Odio #cafelento, horrible y pésimo",
                  url="javascript:alert(1)", created_at=now - timedelta(hours=1)),
        MentionIn(network="web", external_id="w1", text="café lento en la prensa", url="https://news.example/a",
                  created_at=now - timedelta(days=3)),
    ])
    b_brand, b_people = brand_b
    services.do_save_query(Ctx(b_people["owner"]), b_brand, name="B", kind="brand", text="beta")
    ingest(b_brand, None, [MentionIn(network="mastodon", external_id="b1", text="beta secret", created_at=now)])
    b_mention = Mention.objects.get(brand=b_brand)

    c = client_for(people["community_manager"])
    base = f"{API}/{brand.pk}/listening/mentions"
    everything = c.get(base).json()
    assert everything["count"] == 2 and [m["external_id"] for m in everything["items"]] == ["m1", "w1"]
    first = everything["items"][0]
    assert first["url"] == "" and first["query_ids"] == [q1.pk] and first["can_go_to_inbox"] is True
    assert everything["items"][1]["query_ids"] == sorted([q1.pk, q2.pk])
    assert [m["external_id"] for m in c.get(base, {"query": q2.pk}).json()["items"]] == ["w1"]
    assert [m["external_id"] for m in c.get(base, {"network": "mastodon"}).json()["items"]] == ["m1"]
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert [m["external_id"] for m in c.get(base, {"since": since}).json()["items"]] == ["m1"]
    assert c.get(base, {"limit": 1, "offset": 1}).json()["items"][0]["external_id"] == "w1"
    assert c.get(base, {"since": "yesterday"}).status_code == 422
    assert c.get(base, {"network": "x" * 100}).status_code == 422
    assert c.get(base, {"query": b_mention.pk}).json()["count"] == 0

    m1 = Mention.objects.get(external_id="m1")
    w1 = Mention.objects.get(external_id="w1")
    assert send(c, "post", f"{base}/{m1.pk}/to-inbox").status_code == 422  # no Mastodon account yet
    account = do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="cafe@fake.example",
                             access_token="t", base_url="https://fake.example")
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.CONNECTED)
    reader = client_for(people["analyst"])
    assert send(reader, "post", f"{base}/{m1.pk}/to-inbox").status_code == 403
    sent = send(c, "post", f"{base}/{m1.pk}/to-inbox")
    assert sent.status_code == 200 and sent.json()["conversation_id"]
    assert c.get(f"{base}/{m1.pk}").json()["conversation_id"] == sent.json()["conversation_id"]
    refused = send(c, "post", f"{base}/{w1.pk}/to-inbox")
    assert refused.status_code == 422 and "cannot be answered from the inbox" in json.dumps(refused.json())
    assert c.get(f"{base}/{b_mention.pk}").status_code == 404
    assert send(c, "post", f"{base}/{b_mention.pk}/to-inbox").status_code == 404
    assert c.get(f"{API}/{b_brand.pk}/listening/mentions").status_code == 404
    b_mention.refresh_from_db()
    assert b_mention.conversation_id is None
