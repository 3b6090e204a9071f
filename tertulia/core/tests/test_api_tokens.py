"""Personal access tokens and how the API authenticates: hashed at rest, bearer auth,
revocation and expiry, read and write scopes, per-brand grants, and the browser session
with CSRF."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tertulia.core import services
from tertulia.core.models import AuditEvent, Brand, KnowledgeEntry, PersonalAccessToken, TokenGrant
from tertulia.core.services import Ctx

API = "/api/v1"


def token_for(user, grants, **kw):
    return services.do_create_token(Ctx(user, via="test"), "test token", grants, **kw)


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def send(client, method, url, data=None, **headers):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(url, body, content_type="application/json", **headers)


# --- At rest ------------------------------------------------------------------------------

def test_token_is_stored_only_as_a_hash(brand_a):
    brand, people = brand_a
    token, raw = token_for(people["owner"], {brand.pk: "write"})
    assert raw.startswith(PersonalAccessToken.PREFIX) and len(raw) > 40
    row = PersonalAccessToken.objects.values().get(pk=token.pk)
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    # No column holds the secret; the hint is a short prefix that cannot be used on its own.
    assert not any(isinstance(v, str) and raw in v for v in row.values())
    assert raw.startswith(row["hint"]) and len(row["hint"]) <= 8
    # Nor does the audit log of its creation.
    for event in AuditEvent.objects.filter(action="token.create").values():
        assert raw not in json.dumps(event, default=str)


# --- Bearer auth --------------------------------------------------------------------------

def test_bearer_token_authenticates(client, brand_a):
    brand, people = brand_a
    token, raw = token_for(people["analyst"], {brand.pk: "read"})
    assert token.last_used_at is None
    response = client.get(f"{API}/me", **bearer(raw))
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alpha_analyst"
    assert [b["id"] for b in body["brands"]] == [brand.pk]
    assert body["brands"][0]["role"] == "analyst"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_no_credentials_is_401(client, brand_a):
    brand, _people = brand_a
    assert client.get(f"{API}/me").status_code == 401
    assert client.get(f"{API}/brands/{brand.pk}").status_code == 401
    # An anonymous write is 401 too, not a CSRF 403.
    assert send(client, "post", f"{API}/brands/{brand.pk}/knowledge", {"title": "t", "answer": "a"}).status_code == 401


@pytest.mark.parametrize("raw", ["tta_not-a-real-token", "not-even-our-prefix", ""])
def test_unknown_token_is_401(client, brand_a, raw):
    assert client.get(f"{API}/me", **bearer(raw)).status_code == 401


def test_revoked_token_is_401(client, brand_a):
    brand, people = brand_a
    token, raw = token_for(people["owner"], {brand.pk: "write"})
    assert client.get(f"{API}/brands/{brand.pk}", **bearer(raw)).status_code == 200
    services.do_revoke_token(Ctx(people["owner"]), token)
    assert client.get(f"{API}/brands/{brand.pk}", **bearer(raw)).status_code == 401
    response = send(client, "patch", f"{API}/brands/{brand.pk}", {"tone": "changed"}, **bearer(raw))
    assert response.status_code == 401
    brand.refresh_from_db()
    assert brand.tone == ""


def test_expired_token_is_401(client, brand_a):
    brand, people = brand_a
    _token, raw = token_for(people["owner"], {brand.pk: "write"}, expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"{API}/me", **bearer(raw)).status_code == 401
    _token, fresh = token_for(people["owner"], {brand.pk: "write"}, expires_at=timezone.now() + timedelta(days=1))
    assert client.get(f"{API}/me", **bearer(fresh)).status_code == 200


def test_token_of_a_deactivated_user_is_401(client, brand_a):
    brand, people = brand_a
    _token, raw = token_for(people["manager"], {brand.pk: "write"})
    people["manager"].is_active = False
    people["manager"].save()
    assert client.get(f"{API}/me", **bearer(raw)).status_code == 401


def test_bad_token_never_falls_back_to_the_session(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    assert client.get(f"{API}/me").status_code == 200
    assert client.get(f"{API}/me", **bearer("tta_wrong")).status_code == 401


def test_scheme_other_than_bearer_is_401(client, brand_a):
    brand, people = brand_a
    _token, raw = token_for(people["owner"], {brand.pk: "write"})
    assert client.get(f"{API}/me", HTTP_AUTHORIZATION=f"Basic {raw}").status_code == 401


# --- Scopes -------------------------------------------------------------------------------

def test_read_token_reads_but_cannot_write(client, brand_a):
    brand, people = brand_a
    owner = people["owner"]
    entry = services.do_save_knowledge(Ctx(owner), brand, title="Opening hours", answer="9 to 5")
    _token, raw = token_for(owner, {brand.pk: "read"})
    h = bearer(raw)
    for url in (f"/brands/{brand.pk}", f"/brands/{brand.pk}/members", f"/brands/{brand.pk}/audit",
                f"/brands/{brand.pk}/knowledge/{entry.pk}", f"/brands/{brand.pk}/accounts", "/brands"):
        assert client.get(API + url, **h).status_code == 200, url

    writes = [
        ("post", f"/brands/{brand.pk}/knowledge", {"title": "New", "answer": "x"}),
        ("patch", f"/brands/{brand.pk}/knowledge/{entry.pk}", {"title": "Changed"}),
        ("delete", f"/brands/{brand.pk}/knowledge/{entry.pk}", None),
        ("patch", f"/brands/{brand.pk}", {"tone": "changed"}),
        ("delete", f"/brands/{brand.pk}", None),
        ("post", f"/brands/{brand.pk}/accounts", {"network": "mastodon", "handle": "@x@example.org"}),
        ("post", f"/brands/{brand.pk}/invitations", {"email": "new@example.com", "role": "analyst"}),
        ("post", "/brands", {"organization_id": brand.organization_id, "name": "Sneaky"}),
    ]
    for method, url, data in writes:
        response = send(client, method, API + url, data, **h)
        assert response.status_code == 403, (method, url, response.content)
    # Nothing changed.
    entry.refresh_from_db()
    assert entry.title == "Opening hours"
    assert KnowledgeEntry.objects.filter(brand=brand).count() == 1
    brand.refresh_from_db()
    assert brand.tone == ""
    assert not Brand.objects.filter(name="Sneaky").exists()
    # /me tells the token's real reach: the role's read permissions only.
    me = client.get(f"{API}/me", **h).json()
    assert set(me["brands"][0]["permissions"]) == {"view", "analytics", "view_audit"}


def test_write_token_writes(client, brand_a):
    brand, people = brand_a
    _token, raw = token_for(people["owner"], {brand.pk: "write"})
    response = send(client, "post", f"{API}/brands/{brand.pk}/knowledge", {"title": "Returns", "answer": "30 days"}, **bearer(raw))
    assert response.status_code == 201
    assert KnowledgeEntry.objects.get(pk=response.json()["id"]).title == "Returns"


def test_write_scope_does_not_lift_the_role(client, brand_a):
    brand, people = brand_a
    _token, raw = token_for(people["analyst"], {brand.pk: "write"})
    response = send(client, "patch", f"{API}/brands/{brand.pk}", {"tone": "mine now"}, **bearer(raw))
    assert response.status_code == 403


def test_token_for_brand_a_cannot_reach_brand_b(client, brand_a, brand_b):
    a, people_a = brand_a
    b, people_b = brand_b
    person = people_a["owner"]
    services.do_add_member(Ctx(people_b["owner"]), b, person, "owner")  # a member of both brands
    b_entry = services.do_save_knowledge(Ctx(people_b["owner"]), b, title="B secret", answer="only B")
    _token, raw = token_for(person, {a.pk: "write"})
    h = bearer(raw)
    for url in (f"/brands/{b.pk}", f"/brands/{b.pk}/members", f"/brands/{b.pk}/audit", f"/brands/{b.pk}/accounts",
                f"/brands/{b.pk}/knowledge", f"/brands/{b.pk}/knowledge/{b_entry.pk}", f"/brands/{b.pk}/invitations"):
        assert client.get(API + url, **h).status_code == 404, url
    assert send(client, "patch", f"{API}/brands/{b.pk}", {"tone": "x"}, **h).status_code == 404
    assert send(client, "delete", f"{API}/brands/{b.pk}", None, **h).status_code == 404
    assert send(client, "post", f"{API}/brands/{b.pk}/knowledge", {"title": "t", "answer": "a"}, **h).status_code == 404
    # B's entry is not reachable through A's path either.
    assert client.get(f"{API}/brands/{a.pk}/knowledge/{b_entry.pk}", **h).status_code == 404
    # Listings show A only.
    assert [x["id"] for x in client.get(f"{API}/brands", **h).json()["items"]] == [a.pk]
    assert [x["id"] for x in client.get(f"{API}/me", **h).json()["brands"]] == [a.pk]
    # Yet the same person's session reaches B: the narrowing is the token's.
    client.force_login(person)
    assert client.get(f"{API}/brands/{b.pk}").status_code == 200


def test_write_token_that_creates_a_brand_can_set_it_up(client, brand_a):
    brand, people = brand_a
    token, raw = token_for(people["owner"], {brand.pk: "write"})
    response = send(client, "post", f"{API}/brands", {"organization_id": brand.organization_id, "name": "Gamma"}, **bearer(raw))
    assert response.status_code == 201, response.content
    new_id = response.json()["id"]
    assert TokenGrant.objects.get(token=token, brand_id=new_id).scope == "write"
    response = send(client, "patch", f"{API}/brands/{new_id}", {"tone": "friendly"}, **bearer(raw))
    assert response.status_code == 200
    assert response.json()["tone"] == "friendly"


# --- Session ------------------------------------------------------------------------------

def test_session_reads_without_csrf_but_writes_need_it(brand_a):
    brand, people = brand_a
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    assert client.get(f"{API}/brands/{brand.pk}").status_code == 200

    response = send(client, "post", f"{API}/brands/{brand.pk}/knowledge", {"title": "No CSRF", "answer": "x"})
    assert response.status_code == 403
    assert not KnowledgeEntry.objects.filter(title="No CSRF").exists()
    assert send(client, "patch", f"{API}/brands/{brand.pk}", {"tone": "No CSRF"}).status_code == 403
    assert send(client, "delete", f"{API}/brands/{brand.pk}").status_code == 403
    assert Brand.objects.filter(pk=brand.pk, tone="").exists()

    # With the cookie and the matching header (what the pages and the docs page send) it works.
    client.get("/api/v1/docs")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    response = send(client, "post", f"{API}/brands/{brand.pk}/knowledge", {"title": "With CSRF", "answer": "x"},
                    HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="knowledge.create", object_id=str(response.json()["id"]))
    assert event.via == "api" and event.actor_id == people["owner"].pk


# --- Audit --------------------------------------------------------------------------------

def test_api_changes_are_audited_as_api(client, brand_a):
    brand, people = brand_a
    _token, raw = token_for(people["manager"], {brand.pk: "write"})
    response = send(client, "patch", f"{API}/brands/{brand.pk}", {"signature": "— the team"}, **bearer(raw),
                    REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="brand.update", brand=brand).latest("id")
    assert event.via == "api"
    assert event.actor_id == people["manager"].pk
    assert event.ip == "203.0.113.7"
    assert event.changes == {"signature": ["", "— the team"]}
    assert raw not in json.dumps(event.changes)
