"""The inbox API under /api/v1/brands/{brand_id}/…: conversations (filters, cursor pages,
detail), the team's actions, authors, replies, and the configuration (saved replies, labels,
rules, service targets) — the role table, tokens, hostile input and other brands' ids."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.core import roles
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.inbox import config
from tertulia.inbox import services as inbox
from tertulia.inbox.models import (
    Conversation,
    Correction,
    InboxRule,
    InboxSettings,
    Interaction,
    OutgoingReply,
    SavedReply,
)
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db

API = "/api/v1"
ROLE_KEYS = [r.value for r in roles.Role]
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def send(client, method, url, data=None, raw=None, **headers):
    body = raw if raw is not None else (json.dumps(data) if data is not None else "")
    return getattr(client, method)(url, body, content_type="application/json", **headers)


def _fan(ext, handle, name="", followers=None):
    return inbox.IncomingAuthor(external_id=ext, handle=handle, display_name=name, followers=followers)


def _populate(brand, owner, prefix: str, network: str = "x") -> dict:
    account = do_add_account(Ctx(owner), brand, network=network, handle=f"{prefix}brand", external_id=f"{prefix}-acc")
    now = timezone.now()
    ana = _fan(f"{prefix}-ana", f"@{prefix}ana", "Ana", 1200)
    bo = _fan(f"{prefix}-bo", f"@{prefix}bo", "Bo")
    items = [
        inbox.IncomingInteraction(external_id=f"{prefix}-1", kind="comment", author=ana, root_external_id="p1",
                                  text="¿A qué hora abrís?", created_at=now - timedelta(hours=3),
                                  intent="question", sentiment="neutral", toxicity=0.01, urgency=0.2),
        inbox.IncomingInteraction(external_id=f"{prefix}-2", kind="comment", author=ana, root_external_id="p1",
                                  text="Sigo esperando el reembolso, es urgente", created_at=now - timedelta(hours=2),
                                  intent="complaint", sentiment="negative", toxicity=0.05, urgency=0.9),
        inbox.IncomingInteraction(external_id=f"{prefix}-3", kind="comment", author=bo, root_external_id="p2",
                                  text="Sois unos inútiles", created_at=now - timedelta(hours=1),
                                  intent="complaint", sentiment="negative", toxicity=0.9, urgency=0.5),
        inbox.IncomingInteraction(external_id=f"{prefix}-4", kind="mention", author=bo, root_external_id="m1",
                                  text="Me encanta", created_at=now - timedelta(minutes=30),
                                  intent="praise", sentiment="positive", toxicity=0.0, urgency=0.1),
    ]
    inbox.ingest_interactions(account, items)
    rows = {i.external_id: i for i in Interaction.objects.filter(brand=brand).select_related("conversation")}
    first = rows[f"{prefix}-1"]
    failed = OutgoingReply.objects.create(brand=brand, conversation=first.conversation, in_reply_to=first,
                                          account=account, text="Abrimos a las 9", marker=f"{prefix}-m",
                                          state=OutgoingReply.State.FAILED, error="boom", created_by=owner)
    ctx = Ctx(owner, via="test")
    return {
        "account": account, "interactions": rows, "conversation": first.conversation,
        "toxic": rows[f"{prefix}-3"], "author": first.author, "reply": failed,
        "saved": config.do_save_saved_reply(ctx, brand, title=f"{prefix} Horario", language="es",
                                            text="Hola {name}, abrimos a las 9."),
        "label": config.do_save_label(ctx, brand, name=f"{prefix} Reembolsos"),
        "rule": config.do_save_rule(ctx, brand, name=f"{prefix} Quejas", conditions={"intents": ["complaint"]},
                                    actions={"flag": True}),
    }


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    w = {"brand": brand, "people": people, "other": other, **_populate(brand, people["owner"], "a")}
    w["theirs"] = _populate(other, other_people["owner"], "b")
    w["tokens"] = {key: core_services.do_create_token(Ctx(user), f"{key} token", {brand.pk: "write"})[1]
                   for key, user in people.items()}
    w["read_token"] = core_services.do_create_token(Ctx(people["owner"]), "read", {brand.pk: "read"})[1]
    return w


def _url(w, path, brand=None, **ids):
    values = {
        "brand": (brand or w["brand"]).pk, "conversation": w["conversation"].pk, "interaction": w["toxic"].pk,
        "author": w["author"].pk, "reply": w["reply"].pk, "saved": w["saved"].pk, "rule": w["rule"].pk,
        "label": w["label"].pk, **ids,
    }
    return API + path.format(**values)


C = "/brands/{brand}/conversations/{conversation}"
OPERATIONS = {
    "conversation.list": ("get", "/brands/{brand}/conversations", None, roles.VIEW, 200),
    "conversation.get": ("get", C, None, roles.VIEW, 200),
    "conversation.reply": ("post", C + "/reply", {"text": "Abrimos a las 9, ¡gracias!"}, roles.REPLY, 201),
    # WhatsApp's window and templates (networks/whatsapp/api.py): the world's conversation is on
    # another network, so it has no window to respect and no templates to send (422).
    "conversation.whatsapp_window": ("get", C + "/whatsapp-window", None, roles.VIEW, 200),
    "conversation.whatsapp_template": ("post", C + "/whatsapp-template", {"template_id": 1, "params": []},
                                       roles.REPLY, 422),
    "conversation.assign": ("post", C + "/assign", {"user_id": None}, roles.REPLY, 200),
    "conversation.status": ("post", C + "/status", {"new_status": "closed"}, roles.REPLY, 200),
    "conversation.labels": ("post", C + "/labels", {"add": ["vip"]}, roles.REPLY, 200),
    "interaction.relabel": ("post", "/brands/{brand}/interactions/{interaction}/relabel", {"sentiment": "neutral"},
                            roles.REPLY, 200),
    "interaction.hide": ("post", "/brands/{brand}/interactions/{interaction}/hide", {"hidden": True},
                         roles.REPLY, 200),
    "author.get": ("get", "/brands/{brand}/authors/{author}", None, roles.VIEW, 200),
    "reply.get": ("get", "/brands/{brand}/replies/{reply}", None, roles.VIEW, 200),
    "reply.retry": ("post", "/brands/{brand}/replies/{reply}/retry", None, roles.REPLY, 200),
    "saved.list": ("get", "/brands/{brand}/saved-replies", None, roles.VIEW, 200),
    "saved.create": ("post", "/brands/{brand}/saved-replies", {"title": "Gracias", "language": "en",
                                                               "text": "Thanks {name}!"}, roles.REPLY, 201),
    "saved.get": ("get", "/brands/{brand}/saved-replies/{saved}", None, roles.VIEW, 200),
    "saved.patch": ("patch", "/brands/{brand}/saved-replies/{saved}", {"text": "Hola {name}"}, roles.REPLY, 200),
    "saved.delete": ("delete", "/brands/{brand}/saved-replies/{saved}", None, roles.REPLY, 204),
    "label.list": ("get", "/brands/{brand}/labels", None, roles.VIEW, 200),
    "label.create": ("post", "/brands/{brand}/labels", {"name": "Prensa"}, roles.REPLY, 201),
    "label.get": ("get", "/brands/{brand}/labels/{label}", None, roles.VIEW, 200),
    "label.patch": ("patch", "/brands/{brand}/labels/{label}", {"name": "Devoluciones"}, roles.REPLY, 200),
    "label.delete": ("delete", "/brands/{brand}/labels/{label}", None, roles.REPLY, 204),
    "rule.list": ("get", "/brands/{brand}/inbox-rules", None, roles.VIEW, 200),
    "rule.create": ("post", "/brands/{brand}/inbox-rules",
                    {"name": "Spam", "conditions": {"intents": ["spam"]}, "actions": {"close": True}},
                    roles.MANAGE_BRAND, 201),
    "rule.get": ("get", "/brands/{brand}/inbox-rules/{rule}", None, roles.VIEW, 200),
    "rule.patch": ("patch", "/brands/{brand}/inbox-rules/{rule}", {"enabled": False}, roles.MANAGE_BRAND, 200),
    "rule.delete": ("delete", "/brands/{brand}/inbox-rules/{rule}", None, roles.MANAGE_BRAND, 204),
    "settings.get": ("get", "/brands/{brand}/inbox-settings", None, roles.VIEW, 200),
    "settings.put": ("put", "/brands/{brand}/inbox-settings",
                     {"first_response_minutes": 30, "resolution_minutes": 600, "escalation_urgency": 80,
                      "escalation_emails": []}, roles.MANAGE_BRAND, 200),
}


def test_every_route_of_the_router_is_in_the_role_table():
    from tertulia.api.api import api

    paths = {p for p in api.get_openapi_schema()["paths"] if "/inbox-" in p or any(
        k in p for k in ("/conversations", "/interactions/", "/authors/", "/replies/", "/saved-replies", "/labels"))}
    ops = {(m, p) for p in paths for m in api.get_openapi_schema()["paths"][p]}
    table = set()
    for method, path, *_ in OPERATIONS.values():
        templ = path
        for name, param in (("{brand}", "{brand_id}"), ("{conversation}", "{conversation_id}"),
                            ("{interaction}", "{interaction_id}"), ("{author}", "{author_id}"),
                            ("{reply}", "{reply_id}"), ("{saved}", "{saved_reply_id}"), ("{rule}", "{rule_id}"),
                            ("{label}", "{label_id}")):
            templ = templ.replace(name, param)
        table.add((method, API + templ))
    assert ops == table, ops ^ table


@pytest.mark.parametrize("op", sorted(OPERATIONS))
@pytest.mark.parametrize("role", ROLE_KEYS)
def test_role_table(client, world, op, role):
    method, path, body, permission, ok = OPERATIONS[op]
    response = send(client, method, _url(world, path), body, **bearer(world["tokens"][role]))
    allowed = permission in roles.ROLE_PERMISSIONS[role]
    assert response.status_code == (ok if allowed else 403), (op, role, response.content[:300])


@pytest.mark.parametrize("op", sorted(k for k, v in OPERATIONS.items() if v[0] != "get"))
def test_read_token_cannot_write_and_strangers_get_404(client, world, op):
    method, path, body, _permission, _ok = OPERATIONS[op]
    assert send(client, method, _url(world, path), body, **bearer(world["read_token"])).status_code == 403
    # A's owner with B's brand, or with A's brand and B's objects.
    t = world["theirs"]
    theirs = dict(conversation=t["conversation"].pk, interaction=t["toxic"].pk, author=t["author"].pk,
                  reply=t["reply"].pk, saved=t["saved"].pk, rule=t["rule"].pk, label=t["label"].pk)
    for brand in (world["other"], world["brand"]):
        response = send(client, method, _url(world, path, brand=brand, **theirs), body,
                        **bearer(world["tokens"]["owner"]))
        if brand == world["brand"] and "{" not in path.replace("{brand}", ""):
            continue  # a brand-level route: A's own brand is fine
        assert response.status_code == 404, (op, brand, response.content[:200])
        assert b"b Horario" not in response.content and "inútiles".encode() not in response.content


@pytest.mark.parametrize("op", sorted(k for k, v in OPERATIONS.items() if v[0] == "get"))
def test_other_brands_reads_are_404(client, world, op):
    _method, path, _body, _permission, _ok = OPERATIONS[op]
    t = world["theirs"]
    theirs = dict(conversation=t["conversation"].pk, interaction=t["toxic"].pk, author=t["author"].pk,
                  reply=t["reply"].pk, saved=t["saved"].pk, rule=t["rule"].pk, label=t["label"].pk)
    response = client.get(_url(world, path, brand=world["other"], **theirs), **bearer(world["tokens"]["owner"]))
    assert response.status_code == 404
    if path.count("{") > 1:
        response = client.get(_url(world, path, **theirs), **bearer(world["tokens"]["owner"]))
        assert response.status_code == 404
    assert b"b Horario" not in response.content


# --- Conversations ------------------------------------------------------------------------------------

def test_list_filters_and_cursor_pages(client, world):
    h = bearer(world["tokens"]["owner"])
    url = _url(world, "/brands/{brand}/conversations")
    everything = client.get(url, **h).json()
    assert len(everything["items"]) == 3 and everything["next_cursor"] == ""
    assert [c["excerpt"] for c in everything["items"]] == ["Me encanta", "Sois unos inútiles",
                                                           "Sigo esperando el reembolso, es urgente"]
    first = everything["items"][2]
    assert first["author"]["handle"] == "@aana" and first["network"] == "x" and first["status"] == "open"
    seen, after = [], ""
    while True:
        page = client.get(url, {"limit": 2, "after": after}, **h).json()
        seen += [c["id"] for c in page["items"]]
        if not page["next_cursor"]:
            break
        after = page["next_cursor"]
    assert seen == [c["id"] for c in everything["items"]]
    complaints = client.get(url, {"intent": "complaint", "sort": "oldest"}, **h).json()["items"]
    assert [c["excerpt"] for c in complaints] == ["Sigo esperando el reembolso, es urgente", "Sois unos inútiles"]
    assert [c["kind"] for c in client.get(url, {"kind": "mention"}, **h).json()["items"]] == ["mention"]
    assert client.get(url, {"status": "closed"}, **h).json()["items"] == []


@pytest.mark.parametrize("params, needle", [
    ({"intent": "bribery"}, "bribery"),
    ({"status": "archived"}, "archived"),
    ({"sort": "random"}, "random"),
    ({"flagged": "yes"}, "Flagged"),
    ({"after": "not-a-cursor"}, "page link"),
    ({"limit": "0"}, "limit"),
    ({"limit": "100000"}, "limit"),
    ({"label": "x" * 61}, "label"),
])
def test_bad_filters_are_422_with_the_reason(client, world, params, needle):
    response = client.get(_url(world, "/brands/{brand}/conversations"), params, **bearer(world["tokens"]["owner"]))
    assert response.status_code == 422
    assert needle in json.dumps(response.json(), ensure_ascii=False)


def test_conversation_detail_has_interactions_and_replies(client, world):
    body = client.get(_url(world, C), **bearer(world["tokens"]["analyst"])).json()
    assert [i["text"] for i in body["interactions"]] == ["¿A qué hora abrís?", "Sigo esperando el reembolso, es urgente"]
    assert body["interactions"][1]["intent"] == "complaint"
    assert [r["text"] for r in body["replies"]] == ["Abrimos a las 9"] and body["replies"][0]["state"] == "failed"


def test_reply_is_queued_and_validated(client, world):
    h = bearer(world["tokens"]["community_manager"])
    response = send(client, "post", _url(world, C + "/reply"), {"text": f"Gracias {SCRIPT}"}, **h)
    assert response.status_code == 201
    reply = OutgoingReply.objects.get(pk=response.json()["id"])
    assert reply.text == f"Gracias {SCRIPT}" and reply.state == "queued"
    assert reply.in_reply_to == world["interactions"]["a-2"]  # the newest inbound message
    assert response["Content-Type"].startswith("application/json")
    for body in ({"text": ""}, {"text": "x" * 10001}, {"text": "a\x00b"}, {"text": "ok", "extra": 1},
                 {"text": "ok", "in_reply_to_id": "abc"}):
        assert send(client, "post", _url(world, C + "/reply"), body, **h).status_code == 422, body
    too_long = send(client, "post", _url(world, C + "/reply"), {"text": "x" * 400}, **h)  # X: 280
    assert too_long.status_code == 422 and "text" in too_long.json()["errors"]
    # Answering a message of another conversation (or brand) is a 404.
    other = world["interactions"]["a-3"].pk
    assert send(client, "post", _url(world, C + "/reply"), {"text": "hola", "in_reply_to_id": other},
                **h).status_code == 404
    assert send(client, "post", _url(world, C + "/reply"),
                {"text": "hola", "in_reply_to_id": world["theirs"]["toxic"].pk}, **h).status_code == 404
    assert OutgoingReply.objects.filter(brand=world["brand"]).count() == 2


def test_reply_with_a_saved_reply(client, world):
    h = bearer(world["tokens"]["community_manager"])
    cm = world["people"]["community_manager"]
    url = _url(world, C + "/reply")
    response = send(client, "post", url, {"saved_reply_id": world["saved"].pk}, **h)
    assert response.status_code == 201, response.content
    assert response.json()["text"] == "Hola Ana, abrimos a las 9."
    assert OutgoingReply.objects.get(pk=response.json()["id"]).created_by == cm
    # Both, or neither: say which.
    for body in ({}, {"text": "hola", "saved_reply_id": world["saved"].pk}):
        response = send(client, "post", url, body, **h)
        assert response.status_code == 422 and "text" in response.json()["errors"]
    # Another brand's saved reply does not exist here.
    assert send(client, "post", url, {"saved_reply_id": world["theirs"]["saved"].pk}, **h).status_code == 404
    assert OutgoingReply.objects.filter(brand=world["brand"]).count() == 2


@pytest.mark.parametrize("raw", ["{not json", '{"text": "unterminated', "[1, 2]", '"text"', '{"text": 5}'])
def test_malformed_json_is_refused(client, world, raw):
    response = send(client, "post", _url(world, C + "/reply"), raw=raw, **bearer(world["tokens"]["owner"]))
    assert response.status_code in (400, 422)
    assert "detail" in response.json()
    response = send(client, "post", _url(world, "/brands/{brand}/saved-replies"), raw=raw,
                    **bearer(world["tokens"]["owner"]))
    assert response.status_code in (400, 422)
    assert OutgoingReply.objects.filter(brand=world["brand"]).count() == 1
    assert SavedReply.objects.filter(brand=world["brand"]).count() == 1


def test_assign_status_and_labels(client, world):
    h = bearer(world["tokens"]["community_manager"])
    cm = world["people"]["community_manager"]
    body = send(client, "post", _url(world, C + "/assign"), {"user_id": cm.pk}, **h).json()
    assert body["assignee_id"] == cm.pk
    for user_id in (world["people"]["analyst"].pk, 10 ** 9):
        response = send(client, "post", _url(world, C + "/assign"), {"user_id": user_id}, **h)
        assert response.status_code == 422 and "user_id" in response.json()["errors"]
    assert send(client, "post", _url(world, C + "/assign"), {}, **h).status_code == 422  # must say who (or null)
    body = send(client, "post", _url(world, C + "/status"), {"new_status": "closed"}, **h).json()
    assert body["status"] == "closed" and body["closed_at"]
    assert send(client, "post", _url(world, C + "/status"), {"new_status": "gone"}, **h).status_code == 422
    body = send(client, "post", _url(world, C + "/labels"), {"add": ["VIP", SCRIPT[:60]]}, **h).json()
    assert sorted(body["labels"]) == sorted(["VIP", SCRIPT[:60]])
    body = send(client, "post", _url(world, C + "/labels"), {"remove": ["VIP"]}, **h).json()
    assert body["labels"] == [SCRIPT[:60]]
    assert send(client, "post", _url(world, C + "/labels"), {"add": ["x" * 61]}, **h).status_code == 422
    assert send(client, "post", _url(world, C + "/labels"), {"add": [f"l{i}" for i in range(51)]},
                **h).status_code == 422
    conv = Conversation.objects.get(pk=world["conversation"].pk)
    assert conv.assignee == cm and conv.status == "closed"


def test_relabel_stores_corrections_and_hide_on_a_network_that_can(client, world):
    h = bearer(world["tokens"]["community_manager"])
    toxic = world["toxic"]
    url = _url(world, "/brands/{brand}/interactions/{interaction}/relabel")
    body = send(client, "post", url, {"sentiment": "neutral", "toxic": False}, **h).json()
    assert body["sentiment"] == "neutral" and body["toxicity"] == 0.0
    assert sorted(Correction.objects.filter(interaction=toxic).values_list("field", "new_value")) == [
        ("sentiment", "neutral"), ("toxic", "no")]
    assert send(client, "post", url, {"sentiment": "furious"}, **h).status_code == 422
    assert send(client, "post", url, {"field": "sentiment", "value": "x"}, **h).status_code == 422
    body = send(client, "post", _url(world, "/brands/{brand}/interactions/{interaction}/hide"), {"hidden": True},
                **h).json()
    assert body["hidden"] is True
    assert send(client, "post", _url(world, "/brands/{brand}/interactions/{interaction}/hide"), {"hidden": "maybe"},
                **h).status_code == 422


def test_hide_where_the_network_cannot_is_422_with_the_reason(client, brand_a):
    brand, people = brand_a
    w = _populate(brand, people["owner"], "m", network="mastodon")
    response = send(client, "post", f"{API}/brands/{brand.pk}/interactions/{w['toxic'].pk}/hide", {"hidden": True},
                    **bearer(core_services.do_create_token(Ctx(people["owner"]), "t", {brand.pk: "write"})[1]))
    assert response.status_code == 422
    assert "hide" in json.dumps(response.json())
    assert not Interaction.objects.get(pk=w["toxic"].pk).hidden


def test_author_profile_counts_history(client, world):
    body = client.get(_url(world, "/brands/{brand}/authors/{author}"), **bearer(world["tokens"]["analyst"])).json()
    assert (body["handle"], body["interactions"], body["complaints"], body["complaints_last_30_days"],
            body["offences"]) == ("@aana", 2, 1, 1, 0)
    assert body["sentiments"] == {"neutral": 1, "negative": 1} and body["followers"] == 1200
    assert [c["id"] for c in body["conversations"]] == [world["conversation"].pk]
    troll = world["toxic"].author
    body = client.get(_url(world, "/brands/{brand}/authors/{author}", author=troll.pk),
                      **bearer(world["tokens"]["analyst"])).json()
    assert body["offences"] == 1 and len(body["conversations"]) == 2


def test_retry_only_a_failed_reply(client, world):
    h = bearer(world["tokens"]["community_manager"])
    url = _url(world, "/brands/{brand}/replies/{reply}/retry")
    body = send(client, "post", url, **h).json()
    assert body["state"] == "queued" and body["error"] == ""
    again = send(client, "post", url, **h)
    assert again.status_code == 422
    assert client.get(_url(world, "/brands/{brand}/replies/{reply}"), **h).json()["state"] == "queued"


# --- Saved replies, labels, rules, targets -------------------------------------------------------------

def test_saved_reply_crud_and_unknown_variables(client, world):
    h = bearer(world["tokens"]["community_manager"])
    base = _url(world, "/brands/{brand}/saved-replies")
    created = send(client, "post", base, {"title": SCRIPT[:120], "language": "en", "text": "Hi {name}, {agent} here"},
                   **h)
    assert created.status_code == 201
    body = created.json()
    assert body["title"] == SCRIPT[:120] and body["variables"] == ["name", "agent"]
    bad = send(client, "post", base, {"title": "T", "language": "en", "text": "Hi {first_name}"}, **h)
    assert bad.status_code == 422 and "{first_name}" in bad.json()["errors"]["text"][0]
    for payload in ({"title": "T", "language": "fr", "text": "x"}, {"title": "x" * 121, "language": "es", "text": "x"},
                    {"title": "T", "language": "es", "text": "x" * 5001}, {"title": "T", "language": "es"},
                    {"title": "T", "language": "es", "text": "x", "created_by": 1}):
        assert send(client, "post", base, payload, **h).status_code == 422, payload
    dup = send(client, "post", base, {"title": "A HORARIO", "language": "es", "text": "x"}, **h)
    assert dup.status_code == 422 and "title" in dup.json()["errors"]
    listed = client.get(base, {"language": "en"}, **h).json()
    assert [s["title"] for s in listed["items"]] == [SCRIPT[:120]]
    one = _url(world, "/brands/{brand}/saved-replies/{saved}")
    assert send(client, "patch", one, {"text": "Hola {nombre}"}, **h).status_code == 422
    assert send(client, "patch", one, {"text": None}, **h).status_code == 422
    assert send(client, "patch", one, {"language": "en"}, **h).json()["language"] == "en"
    assert send(client, "delete", one, **h).status_code == 204
    assert SavedReply.objects.filter(brand=world["brand"]).count() == 1
    assert AuditEvent.objects.filter(brand=world["brand"], action__startswith="saved_reply.", via="api").count() == 3


def test_label_crud(client, world):
    h = bearer(world["tokens"]["community_manager"])
    base = _url(world, "/brands/{brand}/labels")
    assert send(client, "post", base, {"name": "Prensa"}, **h).status_code == 201
    dup = send(client, "post", base, {"name": "prensa"}, **h)
    assert dup.status_code == 422 and "name" in dup.json()["errors"]
    for name in ("", "x" * 61, "a,b"):
        assert send(client, "post", base, {"name": name}, **h).status_code == 422
    Conversation.objects.get(pk=world["conversation"].pk).labels.add(world["label"])
    assert client.get(_url(world, "/brands/{brand}/labels/{label}"), **h).json()["conversations"] == 1
    assert sorted(lb["name"] for lb in client.get(base, **h).json()["items"]) == ["Prensa", "a Reembolsos"]


def test_rule_crud_order_and_validation(client, world):
    h = bearer(world["tokens"]["manager"])
    base = _url(world, "/brands/{brand}/inbox-rules")
    cm = world["people"]["community_manager"]
    created = send(client, "post", base, {
        "name": "Insultos", "conditions": {"min_toxicity": 0.8, "networks": ["x"], "keywords": ["idiota"]},
        "actions": {"hide": True, "labels": ["trolls"], "assign_to": cm.pk}}, **h)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["position"] == 1 and body["conditions"] == {"min_toxicity": 0.8, "networks": ["x"],
                                                           "keywords": ["idiota"]}
    assert body["actions"] == {"hide": True, "labels": ["trolls"], "assign_to": cm.pk}
    for payload, field in [
        ({"name": "n", "conditions": {}, "actions": {}}, "actions"),
        ({"name": "n", "conditions": {"intents": ["bribery"]}, "actions": {"flag": True}}, "conditions.intents.0"),
        ({"name": "n", "conditions": {"min_toxicity": 5}, "actions": {"flag": True}}, "conditions.min_toxicity"),
        ({"name": "n", "conditions": {"colour": "red"}, "actions": {"flag": True}}, "conditions.colour"),
        ({"name": "n", "conditions": {}, "actions": {"assign_to": world["people"]["analyst"].pk}}, "assign_to"),
        ({"name": "x" * 121, "conditions": {}, "actions": {"flag": True}}, "name"),
        ({"name": "n", "conditions": {"keywords": ["k"] * 51}, "actions": {"flag": True}}, "conditions.keywords"),
    ]:
        response = send(client, "post", base, payload, **h)
        assert response.status_code == 422, payload
        assert field in response.json()["errors"], (field, response.json())
    rule_id = body["id"]
    one = _url(world, "/brands/{brand}/inbox-rules/{rule}", rule=rule_id)
    moved = send(client, "patch", one, {"position": 0, "enabled": False}, **h).json()
    assert moved["position"] == 0 and moved["enabled"] is False
    assert [r["id"] for r in client.get(base, **h).json()["items"]] == [rule_id, world["rule"].pk]
    changed = send(client, "patch", one, {"actions": {"flag": True}}, **h).json()
    assert changed["actions"] == {"flag": True} and changed["conditions"]["min_toxicity"] == 0.8
    assert send(client, "delete", one, **h).status_code == 204
    assert list(InboxRule.objects.filter(brand=world["brand"]).values_list("position", flat=True)) == [0]


def test_inbox_settings_get_defaults_and_put(client, world):
    h = bearer(world["tokens"]["owner"])
    url = _url(world, "/brands/{brand}/inbox-settings")
    assert client.get(url, **h).json() == {"brand_id": world["brand"].pk, "first_response_minutes": 60,
                                           "resolution_minutes": 1440, "escalation_urgency": 80,
                                           "escalation_emails": []}
    body = {"first_response_minutes": 20, "resolution_minutes": 300, "escalation_urgency": 70,
            "escalation_emails": ["jefa@example.com"]}
    assert send(client, "put", url, body, **h).json()["escalation_emails"] == ["jefa@example.com"]
    assert InboxSettings.objects.get(brand=world["brand"]).first_response_minutes == 20
    for bad in ({**body, "escalation_emails": ["nope"]}, {**body, "resolution_minutes": 5},
                {**body, "escalation_urgency": 101}, {**body, "first_response_minutes": 0},
                {k: v for k, v in body.items() if k != "escalation_urgency"},
                {**body, "escalation_emails": [f"p{i}@example.com" for i in range(21)]}):
        response = send(client, "put", url, bad, **h)
        assert response.status_code == 422, bad
    assert InboxSettings.objects.get(brand=world["brand"]).first_response_minutes == 20
