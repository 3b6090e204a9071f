"""The foundation's REST API: every endpoint, every role, hostile input, secrets, the audit
trail, and the OpenAPI docs page under our CSP."""

import json
import re

import pytest
from django.core import mail
from django.urls import reverse

from tertulia.core import roles, services
from tertulia.core.middleware import CSP
from tertulia.core.models import AuditEvent, Brand, Invitation, KnowledgeEntry, Membership, OrganizationMember
from tertulia.core.services import Ctx
from tertulia.networks import services as account_services
from tertulia.networks.models import SocialAccount

API = "/api/v1"
ACCESS_SECRET = "sekrit-access-4f1d9c"
REFRESH_SECRET = "sekrit-refresh-77ab20"


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def send(client, method, url, data=None, **headers):
    body = json.dumps(data) if data is not None and not isinstance(data, (str, bytes)) else (data or "")
    return getattr(client, method)(url, body, content_type="application/json", **headers)


def _workspace_member(brand, user):
    OrganizationMember.objects.create(organization=brand.organization, user=user)
    return user


@pytest.fixture
def world(brand_a, brand_b, make_user):
    """Brand A with one of everything, brand B with its own, and a write token per person."""
    brand, people = brand_a
    other, other_people = brand_b
    ctx = Ctx(people["owner"], via="test")
    spare = make_user("spare")
    services.do_add_member(ctx, brand, spare, roles.Role.ANALYST)
    w = {
        "brand": brand,
        "people": people,
        "other": other,
        "other_people": other_people,
        # Has an account and is in A's workspace, but belongs to none of its brands.
        "outsider": _workspace_member(brand, make_user("outsider")),
        "spare": Membership.objects.get(brand=brand, user=spare),
        "entry": services.do_save_knowledge(ctx, brand, title="Opening hours", answer="9 to 5", kind="faq"),
        "account": account_services.do_add_account(
            ctx, brand, network="mastodon", handle="@cafe@example.social",
            access_token=ACCESS_SECRET, refresh_token=REFRESH_SECRET),
        "invitation": services.do_invite(ctx, brand, "someone@example.com", roles.Role.ANALYST),
        "other_entry": services.do_save_knowledge(Ctx(other_people["owner"]), other, title="B only", answer="B"),
        "other_account": account_services.do_add_account(Ctx(other_people["owner"]), other, network="bluesky",
                                                         handle="beta.bsky.social"),
        "other_invitation": services.do_invite(Ctx(other_people["owner"]), other, "b-invitee@example.com", "analyst"),
    }
    w["other_member"] = Membership.objects.get(brand=other, user=other_people["community_manager"])
    w["tokens"] = {}
    for key, user in [*people.items(), ("stranger", other_people["owner"])]:
        grants = {brand.pk: "write"} if key != "stranger" else {other.pk: "write"}
        w["tokens"][key] = services.do_create_token(Ctx(user), f"{key} token", grants)[1]
    mail.outbox.clear()
    return w


# --- The role table, endpoint by endpoint -------------------------------------------------

# name: (method, path, body, permission needed, status on success)
OPERATIONS = {
    "brand.get": ("get", "/brands/{brand}", None, roles.VIEW, 200),
    "brand.patch": ("patch", "/brands/{brand}", {"tone": "warm"}, roles.MANAGE_BRAND, 200),
    "brand.delete": ("delete", "/brands/{brand}", None, roles.DELETE_BRAND, 204),
    "account.list": ("get", "/brands/{brand}/accounts", None, roles.VIEW, 200),
    "account.get": ("get", "/brands/{brand}/accounts/{account}", None, roles.VIEW, 200),
    "account.create": ("post", "/brands/{brand}/accounts", {"network": "x", "handle": "cafe"}, roles.MANAGE_ACCOUNTS, 201),
    "account.patch": ("patch", "/brands/{brand}/accounts/{account}", {"display_name": "Café"}, roles.MANAGE_ACCOUNTS, 200),
    "account.delete": ("delete", "/brands/{brand}/accounts/{account}", None, roles.MANAGE_ACCOUNTS, 204),
    "member.list": ("get", "/brands/{brand}/members", None, roles.VIEW, 200),
    "member.add": ("post", "/brands/{brand}/members", {"email": "outsider@example.com", "role": "analyst"}, roles.MANAGE_MEMBERS, 201),
    "member.patch": ("patch", "/brands/{brand}/members/{spare}", {"role": "community_manager"}, roles.MANAGE_MEMBERS, 200),
    "member.delete": ("delete", "/brands/{brand}/members/{spare}", None, roles.MANAGE_MEMBERS, 204),
    "invitation.list": ("get", "/brands/{brand}/invitations", None, roles.MANAGE_MEMBERS, 200),
    "invitation.create": ("post", "/brands/{brand}/invitations", {"email": "new@example.com", "role": "analyst"}, roles.MANAGE_MEMBERS, 201),
    "invitation.revoke": ("delete", "/brands/{brand}/invitations/{invitation}", None, roles.MANAGE_MEMBERS, 204),
    "knowledge.list": ("get", "/brands/{brand}/knowledge", None, roles.VIEW, 200),
    "knowledge.get": ("get", "/brands/{brand}/knowledge/{entry}", None, roles.VIEW, 200),
    "knowledge.create": ("post", "/brands/{brand}/knowledge", {"title": "Returns", "answer": "30 days"}, roles.MANAGE_BRAND, 201),
    "knowledge.patch": ("patch", "/brands/{brand}/knowledge/{entry}", {"answer": "10 to 6"}, roles.MANAGE_BRAND, 200),
    "knowledge.delete": ("delete", "/brands/{brand}/knowledge/{entry}", None, roles.MANAGE_BRAND, 204),
    "audit.list": ("get", "/brands/{brand}/audit", None, roles.VIEW_AUDIT, 200),
}
ROLE_KEYS = [r.value for r in roles.Role]


def _url(w, path, brand=None):
    return API + path.format(
        brand=(brand or w["brand"]).pk, account=w["account"].pk, spare=w["spare"].pk,
        invitation=w["invitation"].pk, entry=w["entry"].pk,
    )


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
        # A write that happened is in the audit log as an API change; a refused one left no trace.
        assert _api_events(user) == before + (1 if allowed else 0)
    if not allowed:
        assert "detail" in response.json()


@pytest.mark.parametrize("op", OPERATIONS)
def test_strangers_get_404_for_every_brand_endpoint(client, world, op):
    method, path, body, _permission, _ok = OPERATIONS[op]
    response = send(client, method, _url(world, path), body, **bearer(world["tokens"]["stranger"]))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("op", OPERATIONS)
def test_session_auth_follows_the_same_table(client, world, op):
    method, path, body, permission, ok = OPERATIONS[op]
    client.force_login(world["people"]["community_manager"])
    response = send(client, method, _url(world, path), body)
    expected = ok if permission in roles.ROLE_PERMISSIONS[roles.Role.COMMUNITY_MANAGER] else 403
    assert response.status_code == expected


def test_ids_of_another_brand_in_the_path_are_404(client, world):
    h = bearer(world["tokens"]["owner"])
    b = world["brand"].pk
    foreign = {
        "accounts": world["other_account"].pk, "knowledge": world["other_entry"].pk,
        "members": world["other_member"].pk, "invitations": world["other_invitation"].pk,
    }
    for kind, pk in foreign.items():
        url = f"{API}/brands/{b}/{kind}/{pk}"
        if kind in ("accounts", "knowledge"):
            assert client.get(url, **h).status_code == 404, url
        patch = {"accounts": {"display_name": "x"}, "knowledge": {"title": "x"}, "members": {"role": "analyst"}}.get(kind)
        if patch:
            assert send(client, "patch", url, patch, **h).status_code == 404, url
        assert send(client, "delete", url, None, **h).status_code == 404, url
    # All of B's rows are untouched.
    assert KnowledgeEntry.objects.filter(pk=world["other_entry"].pk, title="B only").exists()
    assert SocialAccount.objects.filter(pk=world["other_account"].pk).exists()
    assert Membership.objects.filter(pk=world["other_member"].pk, role="community_manager").exists()
    assert Invitation.objects.get(pk=world["other_invitation"].pk).revoked_at is None


def test_absurd_ids_are_404(client, world):
    h = bearer(world["tokens"]["owner"])
    assert client.get(f"{API}/brands/{2**70}", **h).status_code == 404
    assert client.get(f"{API}/brands/{world['brand'].pk}/knowledge/{2**70}", **h).status_code == 404
    response = client.get(f"{API}/brands/not-a-number", **h)
    assert response.status_code == 422 and "brand_id" in response.json()["errors"]


# --- /me and brands -----------------------------------------------------------------------

def test_me(client, world):
    response = client.get(f"{API}/me", **bearer(world["tokens"]["manager"]))
    assert response.status_code == 200
    me = response.json()
    assert {k: me[k] for k in ("username", "email", "language", "timezone")} == {
        "username": "alpha_manager", "email": "alpha_manager@example.com", "language": "en",
        "timezone": "Europe/Madrid",
    }
    assert me["brands"] == [{
        "id": world["brand"].pk, "name": "Alpha Brand", "organization_id": world["brand"].organization_id,
        "organization": "Alpha Agency", "role": "manager",
        "permissions": sorted(roles.ROLE_PERMISSIONS[roles.Role.MANAGER]),
    }]
    assert "password" not in response.content.decode()


def test_brand_crud(client, world):
    owner = world["people"]["owner"]
    client.force_login(owner)
    org_id = world["brand"].organization_id
    response = send(client, "post", f"{API}/brands", {
        "organization_id": org_id, "name": "  Gamma  ", "timezone": "America/Bogota", "language": "en",
        "banned_words": ["cheap", "Cheap", " free "], "required_hashtags": ["Gamma", "#Coffee"],
    })
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "Gamma"
    assert created["banned_words"] == ["cheap", "free"]
    assert created["required_hashtags"] == ["#Gamma", "#Coffee"]
    assert created["role"] == "owner" and "delete_brand" in created["permissions"]
    gamma = created["id"]

    listing = client.get(f"{API}/brands").json()
    assert listing["count"] == 2
    assert [b["name"] for b in listing["items"]] == ["Alpha Brand", "Gamma"]

    response = send(client, "patch", f"{API}/brands/{gamma}", {"tone": "Warm, close", "signature": "— G"})
    assert response.status_code == 200
    assert client.get(f"{API}/brands/{gamma}").json()["tone"] == "Warm, close"
    assert Brand.objects.get(pk=gamma).signature == "— G"

    assert send(client, "delete", f"{API}/brands/{gamma}").status_code == 204
    assert client.get(f"{API}/brands/{gamma}").status_code == 404
    assert not Brand.objects.filter(pk=gamma).exists()
    actions = list(AuditEvent.objects.filter(actor=owner, via="api").values_list("action", flat=True))
    assert sorted(actions) == ["brand.create", "brand.delete", "brand.update"]


def test_brand_create_needs_a_workspace_you_administer(client, world):
    # The manager is a (non-admin) member of Alpha's workspace.
    client.force_login(world["people"]["manager"])
    response = send(client, "post", f"{API}/brands", {"organization_id": world["brand"].organization_id, "name": "X"})
    assert response.status_code == 403
    # Another tenant's workspace id in the body is a 404, as if it did not exist.
    client.force_login(world["people"]["owner"])
    assert send(client, "post", f"{API}/brands", {"organization_id": world["other"].organization_id, "name": "X"}).status_code == 404
    assert send(client, "post", f"{API}/brands", {"organization_id": 999999, "name": "X"}).status_code == 404
    assert not Brand.objects.filter(name="X").exists()


def test_brand_validation_errors_are_422_with_fields(client, world):
    client.force_login(world["people"]["owner"])
    org_id = world["brand"].organization_id
    response = send(client, "post", f"{API}/brands", {"organization_id": org_id, "name": "Alpha Brand"})
    assert response.status_code == 422
    assert response.json()["errors"]  # duplicate name in the workspace
    response = send(client, "post", f"{API}/brands", {"organization_id": org_id, "name": "Z", "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert "timezone" in response.json()["errors"]
    response = send(client, "patch", f"{API}/brands/{world['brand'].pk}", {"language": "xx"})
    assert response.status_code == 422
    assert "language" in response.json()["errors"]
    response = send(client, "patch", f"{API}/brands/{world['brand'].pk}", {"name": None})
    assert response.status_code == 422
    assert "null" in response.json()["errors"]["name"][0]
    response = send(client, "patch", f"{API}/brands/{world['brand'].pk}", {"organization_id": world["other"].organization_id})
    assert response.status_code == 422
    assert "organization_id" in response.json()["errors"]
    assert Brand.objects.get(pk=world["brand"].pk).organization_id != world["other"].organization_id


# --- Accounts -----------------------------------------------------------------------------

def test_account_crud_and_secrets_are_write_only(client, world):
    h = bearer(world["tokens"]["manager"])
    b = world["brand"].pk
    response = send(client, "post", f"{API}/brands/{b}/accounts", {
        "network": "x", "handle": "cafe_barrio", "display_name": "Café",
        "access_token": "tok-NEW-secret-1", "refresh_token": "tok-NEW-secret-2",
    }, **h)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["handle"] == "@cafe_barrio" and body["has_credentials"] is True
    assert "access_token" not in body and "refresh_token" not in body
    assert "tok-NEW-secret" not in response.content.decode()
    account = SocialAccount.objects.get(pk=body["id"])
    assert account.access_token == "tok-NEW-secret-1" and account.refresh_token == "tok-NEW-secret-2"

    listing = client.get(f"{API}/brands/{b}/accounts", **h).json()
    assert {a["handle"] for a in listing["items"]} == {"@cafe_barrio", "@cafe@example.social"}

    response = send(client, "patch", f"{API}/brands/{b}/accounts/{body['id']}", {"status": "disabled", "display_name": "C"}, **h)
    assert response.status_code == 200
    assert response.json()["status"] == "disabled"
    # The network is fixed, and tokens cannot be read back or slipped in through PATCH.
    assert send(client, "patch", f"{API}/brands/{b}/accounts/{body['id']}", {"network": "mastodon"}, **h).status_code == 422
    assert send(client, "patch", f"{API}/brands/{b}/accounts/{body['id']}", {"access_token": "x"}, **h).status_code == 422
    assert send(client, "post", f"{API}/brands/{b}/accounts", {"network": "myspace", "handle": "x"}, **h).status_code == 422

    assert send(client, "delete", f"{API}/brands/{b}/accounts/{body['id']}", **h).status_code == 204
    assert not SocialAccount.objects.filter(pk=body["id"]).exists()


def test_secrets_never_appear_in_any_response(client, world, django_capture_on_commit_callbacks):
    h = bearer(world["tokens"]["owner"])
    b = world["brand"].pk
    send(client, "patch", f"{API}/brands/{b}/accounts/{world['account'].pk}", {"display_name": "Touched"}, **h)
    with django_capture_on_commit_callbacks(execute=True):
        invite = send(client, "post", f"{API}/brands/{b}/invitations", {"email": "guest@example.com", "role": "analyst"}, **h)
    assert invite.status_code == 201
    raw_invite = re.search(r"/invitations/([\w-]+)/", mail.outbox[-1].body).group(1)
    secrets_ = [ACCESS_SECRET, REFRESH_SECRET, raw_invite, *world["tokens"].values()]
    secrets_ += list(Invitation.objects.values_list("token_hash", flat=True))
    bodies = [invite.content.decode()]
    for op, (method, path, _body, _perm, _ok) in OPERATIONS.items():
        if method == "get":
            bodies.append(client.get(_url(world, path) + "?include_closed=true", **h).content.decode())
    bodies.append(client.get(f"{API}/me", **h).content.decode())
    bodies.append(client.get(f"{API}/brands", **h).content.decode())
    bodies.append(client.get(f"{API}/openapi.json").content.decode())
    for body in bodies:
        for secret in secrets_:
            assert secret not in body
    # The account output has no field for them at all.
    account = client.get(f"{API}/brands/{b}/accounts/{world['account'].pk}", **h).json()
    assert not {"access_token", "refresh_token", "token_hash"} & set(account)


# --- Members and invitations --------------------------------------------------------------

def test_members(client, world):
    h = bearer(world["tokens"]["manager"])
    b = world["brand"].pk
    listing = client.get(f"{API}/brands/{b}/members", **h).json()
    assert listing["count"] == 6
    assert {m["username"]: m["role"] for m in listing["items"]}["alpha_client"] == "client_reviewer"

    # An existing user, by e-mail in any case.
    response = send(client, "post", f"{API}/brands/{b}/members", {"email": "OUTSIDER@example.com", "role": "community_manager"}, **h)
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "outsider"
    assert Membership.objects.get(brand_id=b, user=world["outsider"]).role == "community_manager"
    # Twice is an error, not a second membership.
    again = send(client, "post", f"{API}/brands/{b}/members", {"email": "outsider@example.com", "role": "analyst"}, **h)
    assert again.status_code == 422
    # Someone without an account, and someone with an account in another workspace, get the
    # same answer: a pointer to invitations. Nobody learns who has an account elsewhere, and
    # nobody is added to a workspace without accepting an invitation.
    answers = []
    for email in ("nobody@example.com", world["other_people"]["owner"].email):
        response = send(client, "post", f"{API}/brands/{b}/members", {"email": email, "role": "analyst"}, **h)
        assert response.status_code == 422
        assert "invitation" in response.json()["errors"]["email"][0]
        assert not Membership.objects.filter(brand_id=b, user__email=email).exists()
        answers.append(response.json())
    assert answers[0] == answers[1]
    # Managers cannot make owners.
    response = send(client, "post", f"{API}/brands/{b}/members", {"email": "alpha_owner@example.com", "role": "owner"}, **h)
    assert response.status_code == 403
    response = send(client, "patch", f"{API}/brands/{b}/members/{world['spare'].pk}", {"role": "owner"}, **h)
    assert response.status_code == 403
    assert Membership.objects.get(pk=world["spare"].pk).role == "analyst"
    assert send(client, "patch", f"{API}/brands/{b}/members/{world['spare'].pk}", {"role": "emperor"}, **h).status_code == 422

    response = send(client, "patch", f"{API}/brands/{b}/members/{world['spare'].pk}", {"role": "community_manager"}, **h)
    assert response.status_code == 200 and response.json()["role"] == "community_manager"
    assert send(client, "delete", f"{API}/brands/{b}/members/{world['spare'].pk}", **h).status_code == 204
    assert not Membership.objects.filter(pk=world["spare"].pk).exists()


def test_the_last_owner_stays(client, world):
    owner = world["people"]["owner"]
    h = bearer(world["tokens"]["owner"])
    b = world["brand"].pk
    own = Membership.objects.get(brand_id=b, user=owner)
    response = send(client, "patch", f"{API}/brands/{b}/members/{own.pk}", {"role": "manager"}, **h)
    assert response.status_code == 422
    assert "owner" in json.dumps(response.json())
    assert send(client, "delete", f"{API}/brands/{b}/members/{own.pk}", **h).status_code == 422
    assert Membership.objects.get(pk=own.pk).role == "owner"


def test_invitations(client, world, django_capture_on_commit_callbacks):
    h = bearer(world["tokens"]["owner"])
    b = world["brand"].pk
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, "post", f"{API}/brands/{b}/invitations",
                        {"email": "Guest@Example.com", "role": "manager", "language": "en"}, **h)
    assert response.status_code == 201, response.content
    inv = response.json()
    assert inv["email"] == "guest@example.com" and inv["status"] == "open" and inv["invited_by"] == "alpha_owner"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["guest@example.com"]

    listing = client.get(f"{API}/brands/{b}/invitations", **h).json()
    assert {i["email"] for i in listing["items"]} == {"guest@example.com", "someone@example.com"}
    assert listing["items"][0]["email"] == "guest@example.com"  # newest first

    assert send(client, "delete", f"{API}/brands/{b}/invitations/{inv['id']}", **h).status_code == 204
    assert Invitation.objects.get(pk=inv["id"]).revoked_at is not None
    assert {i["email"] for i in client.get(f"{API}/brands/{b}/invitations", **h).json()["items"]} == {"someone@example.com"}
    closed = client.get(f"{API}/brands/{b}/invitations?include_closed=true", **h).json()["items"]
    assert {i["email"]: i["status"] for i in closed}["guest@example.com"] == "revoked"
    # Revoking twice changes nothing; an accepted invitation cannot be revoked.
    assert send(client, "delete", f"{API}/brands/{b}/invitations/{inv['id']}", **h).status_code == 204
    assert AuditEvent.objects.filter(action="invitation.revoke", object_id=str(inv["id"])).count() == 1

    # Already a member: refused.
    response = send(client, "post", f"{API}/brands/{b}/invitations", {"email": "alpha_cm@example.com", "role": "analyst"}, **h)
    assert response.status_code == 422
    response = send(client, "post", f"{API}/brands/{b}/invitations", {"email": "not-an-email", "role": "analyst"}, **h)
    assert response.status_code == 422 and "email" in response.json()["errors"]


def test_accepted_invitation_cannot_be_revoked(client, world, make_user, django_capture_on_commit_callbacks):
    h = bearer(world["tokens"]["owner"])
    b = world["brand"].pk
    with django_capture_on_commit_callbacks(execute=True):
        send(client, "post", f"{API}/brands/{b}/invitations", {"email": "joiner@example.com", "role": "analyst"}, **h)
    raw = re.search(r"/invitations/([\w-]+)/", mail.outbox[-1].body).group(1)
    services.do_accept_invitation(make_user("joiner"), raw)
    inv = Invitation.objects.get(email="joiner@example.com")
    response = send(client, "delete", f"{API}/brands/{b}/invitations/{inv.pk}", **h)
    assert response.status_code == 422
    inv.refresh_from_db()
    assert inv.revoked_at is None


# --- Knowledge ----------------------------------------------------------------------------

def test_knowledge_crud(client, world):
    h = bearer(world["tokens"]["manager"])
    b = world["brand"].pk
    response = send(client, "post", f"{API}/brands/{b}/knowledge", {
        "kind": "department", "title": "Complaints", "answer": "Write to the complaints desk",
        "department": "Customer care", "contact": "care@example.com", "keywords": ["refund", "Refund", "broken"],
    }, **h)
    assert response.status_code == 201, response.content
    entry = response.json()
    assert entry["keywords"] == ["refund", "broken"] and entry["kind"] == "department"

    assert client.get(f"{API}/brands/{b}/knowledge/{entry['id']}", **h).json()["title"] == "Complaints"
    assert [e["title"] for e in client.get(f"{API}/brands/{b}/knowledge?kind=department", **h).json()["items"]] == ["Complaints"]
    assert [e["title"] for e in client.get(f"{API}/brands/{b}/knowledge?q=9 to", **h).json()["items"]] == ["Opening hours"]
    assert client.get(f"{API}/brands/{b}/knowledge", **h).json()["count"] == 2
    assert client.get(f"{API}/brands/{b}/knowledge?kind=gossip", **h).status_code == 422

    response = send(client, "patch", f"{API}/brands/{b}/knowledge/{entry['id']}", {"answer": "Call us"}, **h)
    assert response.status_code == 200
    assert KnowledgeEntry.objects.get(pk=entry["id"]).answer == "Call us"
    assert KnowledgeEntry.objects.get(pk=entry["id"]).title == "Complaints"  # untouched
    event = AuditEvent.objects.filter(action="knowledge.update").latest("id")
    assert event.changes == {"answer": ["Write to the complaints desk", "Call us"]} and event.via == "api"

    assert send(client, "delete", f"{API}/brands/{b}/knowledge/{entry['id']}", **h).status_code == 204
    assert client.get(f"{API}/brands/{b}/knowledge/{entry['id']}", **h).status_code == 404


# --- Audit log ----------------------------------------------------------------------------

def test_audit_is_newest_first_and_paginated(client, world):
    h = bearer(world["tokens"]["owner"])
    b = world["brand"].pk
    for i in range(5):
        send(client, "patch", f"{API}/brands/{b}", {"tone": f"tone {i}"}, **h)
    total = AuditEvent.objects.filter(brand_id=b).count()
    page = client.get(f"{API}/brands/{b}/audit?limit=3", **h).json()
    assert page["count"] == total and len(page["items"]) == 3
    assert page["items"][0]["action"] == "brand.update" and page["items"][0]["via"] == "api"
    assert page["items"][0]["changes"]["tone"] == ["tone 3", "tone 4"]
    ids = [e["id"] for e in client.get(f"{API}/brands/{b}/audit?limit=200", **h).json()["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == total
    nxt = client.get(f"{API}/brands/{b}/audit?limit=3&offset=3", **h).json()["items"]
    assert [e["id"] for e in nxt] == ids[3:6]
    only = client.get(f"{API}/brands/{b}/audit?action=member", **h).json()["items"]
    assert only and all(e["action"].startswith("member") for e in only)
    # B's events never show up in A's log.
    assert not AuditEvent.objects.filter(pk__in=ids, brand=world["other"]).exists()
    # Nonsense paging is refused.
    assert client.get(f"{API}/brands/{b}/audit?limit=0", **h).status_code == 422
    assert client.get(f"{API}/brands/{b}/audit?offset=-1", **h).status_code == 422


def test_lists_clamp_the_page_size(client, world):
    KnowledgeEntry.objects.bulk_create(
        KnowledgeEntry(brand=world["brand"], title=f"entry {i:03}", answer="a") for i in range(205))
    page = client.get(f"{API}/brands/{world['brand'].pk}/knowledge?limit=1000", **bearer(world["tokens"]["analyst"])).json()
    assert page["count"] == 206 and len(page["items"]) == 200
    default = client.get(f"{API}/brands/{world['brand'].pk}/knowledge", **bearer(world["tokens"]["analyst"])).json()
    assert len(default["items"]) == 50


# --- Hostile input ------------------------------------------------------------------------

@pytest.mark.parametrize("path,body,field", [
    ("/brands", {"organization_id": 0, "name": "x" * 121}, "name"),
    ("/brands/{brand}", {"tone": "x" * 4001}, "tone"),
    ("/brands/{brand}", {"banned_words": ["x" * 101]}, "banned_words.0"),
    ("/brands/{brand}", {"banned_words": ["w"] * 201}, "banned_words"),
    ("/brands/{brand}/accounts", {"network": "x", "handle": "h" * 201}, "handle"),
    ("/brands/{brand}/accounts", {"network": "x", "handle": "h", "access_token": "t" * 8001}, "access_token"),
    ("/brands/{brand}/knowledge", {"title": "t" * 201, "answer": "a"}, "title"),
    ("/brands/{brand}/knowledge", {"title": "t", "answer": "a" * 5001}, "answer"),
    ("/brands/{brand}/knowledge", {"title": "t", "answer": "a", "keywords": ["k"] * 51}, "keywords"),
    ("/brands/{brand}/members", {"email": "a" * 250 + "@example.com", "role": "analyst"}, "email"),
    ("/brands/{brand}/invitations", {"email": "x@example.com", "role": "analyst", "language": "x" * 50}, "language"),
    ("/brands/{brand}/knowledge", {"title": "nul\x00byte", "answer": "a"}, "title"),
    ("/brands/{brand}/knowledge", {"title": "   ", "answer": "a"}, "title"),
])
def test_oversized_and_invalid_fields_are_422(client, world, path, body, field):
    method = "patch" if path == "/brands/{brand}" else "post"
    before = _api_events(world["people"]["owner"])
    response = send(client, method, _url(world, path), body, **bearer(world["tokens"]["owner"]))
    assert response.status_code == 422, response.content
    payload = response.json()
    assert payload["detail"] == "Please correct the errors."
    assert field in payload["errors"] and payload["errors"][field][0]
    assert _api_events(world["people"]["owner"]) == before


@pytest.mark.parametrize("raw_body,status", [
    ("{not json", 400),
    ('{"title": "unterminated', 400),
    ("[1, 2, 3]", 422),
    ('"just a string"', 422),
    ('{"title": 5, "answer": ["a"]}', 422),
])
def test_malformed_json_is_refused(client, world, raw_body, status):
    response = send(client, "post", _url(world, "/brands/{brand}/knowledge"), raw_body, **bearer(world["tokens"]["owner"]))
    assert response.status_code == status
    assert "detail" in response.json()
    assert KnowledgeEntry.objects.filter(brand=world["brand"]).count() == 1


def test_an_enormous_body_is_refused(client, world):
    huge = json.dumps({"title": "t", "answer": "a" * (6 * 1024 * 1024)})
    response = send(client, "post", _url(world, "/brands/{brand}/knowledge"), huge, **bearer(world["tokens"]["owner"]))
    assert response.status_code in (400, 413)
    assert KnowledgeEntry.objects.filter(brand=world["brand"]).count() == 1


SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_markup_is_stored_verbatim_returned_as_json_and_escaped_in_pages(client, world):
    h = bearer(world["tokens"]["owner"])
    b = world["brand"].pk
    response = send(client, "patch", f"{API}/brands/{b}", {"name": SCRIPT, "tone": SCRIPT}, **h)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["name"] == SCRIPT
    assert Brand.objects.get(pk=b).name == SCRIPT
    entry = send(client, "post", f"{API}/brands/{b}/knowledge", {"title": SCRIPT, "answer": SCRIPT}, **h).json()
    assert entry["title"] == SCRIPT

    client.force_login(world["people"]["owner"])
    for url in (reverse("brand_settings", args=[b]), reverse("knowledge_list", args=[b])):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html, url


# --- OpenAPI and the docs page ------------------------------------------------------------

def test_openapi_lists_the_paths(client, db):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/api/v1/me": {"get"},
        "/api/v1/brands": {"get", "post"},
        "/api/v1/brands/{brand_id}": {"get", "patch", "delete"},
        "/api/v1/brands/{brand_id}/accounts": {"get", "post"},
        "/api/v1/brands/{brand_id}/accounts/{account_id}": {"get", "patch", "delete"},
        "/api/v1/brands/{brand_id}/members": {"get", "post"},
        "/api/v1/brands/{brand_id}/members/{member_id}": {"patch", "delete"},
        "/api/v1/brands/{brand_id}/invitations": {"get", "post"},
        "/api/v1/brands/{brand_id}/invitations/{invitation_id}": {"delete"},
        "/api/v1/brands/{brand_id}/knowledge": {"get", "post"},
        "/api/v1/brands/{brand_id}/knowledge/{entry_id}": {"get", "patch", "delete"},
        "/api/v1/brands/{brand_id}/audit": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    schemes = response.json()["components"]["securitySchemes"]
    assert {"TokenAuth", "SessionAuth"} <= set(schemes)
    # The account schema documents no readable secret.
    account_out = response.json()["components"]["schemas"]["AccountOut"]["properties"]
    assert "access_token" not in account_out and "refresh_token" not in account_out


def test_docs_page_is_local_and_has_no_inline_script(client, db):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CSP
    html = response.content.decode()
    assert "http://" not in html and "https://" not in html and "cdn" not in html.lower()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attrs, body in scripts:
        if "src=" in attrs:
            assert body.strip() == ""
            src = re.search(r'src="([^"]+)"', attrs).group(1)
            assert src.startswith("/static/")
            assert client.get(src).status_code == 200, src
        else:
            # Only data the CSP never runs.
            assert 'type="application/json"' in attrs
            json.loads(body)
    for href in re.findall(r'<link[^>]+href="([^"]+)"', html):
        assert href.startswith("/static/") and client.get(href).status_code == 200, href


@pytest.mark.browser
def test_docs_page_renders_under_the_csp_in_chromium(live_server, chromium_path):
    from playwright.sync_api import sync_playwright

    violations, foreign = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text or "Refused" in m.text else None)
        page.on("pageerror", lambda e: violations.append(str(e)))
        page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(live_server.url) and not r.url.startswith("data:") else None)
        page.goto(f"{live_server.url}{API}/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20000)
        title = page.inner_text(".swagger-ui .info .title")
        page.locator(".opblock-summary-path", has_text="/api/v1/brands/{brand_id}/knowledge").first.wait_for(timeout=20000)
        browser.close()
    assert "Tertulia API" in title
    assert not violations, violations
    assert not foreign, foreign


def test_brand_branding_colours_and_logo(client, world, settings, tmp_path):
    import io

    from PIL import Image

    settings.MEDIA_ROOT = str(tmp_path)
    brand = world["brand"]
    url = f"{API}/brands/{brand.pk}"
    client.force_login(world["people"]["owner"])
    got = client.get(url).json()
    assert (got["primary_color"], got["accent_color"], got["has_logo"]) == ("#1f3a5f", "#e07a1f", False)
    assert send(client, "patch", url, {"primary_color": "#AA00cc"}).json()["primary_color"] == "#aa00cc"
    for hostile in ("red", "#12345", "#1234567", "#12345g", "javascript:alert(1)", "#fff<script>"):
        assert send(client, "patch", url, {"accent_color": hostile}).status_code == 422, hostile
    assert Brand.objects.get(pk=brand.pk).accent_color == "#e07a1f"

    image = io.BytesIO()
    Image.new("RGB", (1200, 200), "#336699").save(image, "PNG")
    response = client.post(f"{url}/logo", {"file": _upload("logo.png", image.getvalue())})
    assert response.status_code == 200 and response.json()["has_logo"] is True
    logo = client.get(f"{url}/logo")
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(logo.content)).size == (600, 100)  # scaled to fit 600×200
    # Not an image, a bomb-sized header, the wrong role, another tenant's brand.
    assert client.post(f"{url}/logo", {"file": _upload("logo.png", b"<svg onload=alert(1)>")}).status_code == 422
    client.force_login(world["people"]["community_manager"])
    assert client.post(f"{url}/logo", {"file": _upload("logo.png", image.getvalue())}).status_code == 403
    assert client.get(f"{url}/logo").status_code == 200  # members read it
    assert send(client, "delete", f"{url}/logo").status_code == 403
    client.force_login(world["people"]["owner"])
    assert client.get(f"{API}/brands/{world['other'].pk}/logo").status_code == 404
    assert send(client, "delete", f"{url}/logo").json()["has_logo"] is False
    assert client.get(f"{url}/logo").status_code == 404


def _upload(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="image/png")
