"""The giveaways API under /api/v1/brands/{brand_id}/giveaways/…: the whole flow through the
API (create, commit, entries from the inbox's ingestion, close, draw, a refused second draw in
the log, a proof that verifies), hostile input, roles and tokens, and the OpenAPI schema."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.giveaways import draw, eligibility, services
from tertulia.giveaways.models import Contest, DrawRun, Entry
from tertulia.inbox import services as inbox
from tertulia.networks import services as account_services

pytestmark = pytest.mark.django_db

API = "/api/v1"


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def send(client, method, url, data=None, **headers):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(url, body, content_type="application/json", **headers)


def _account(ctx, brand, handle):
    return account_services.do_add_account(ctx, brand, network="mastodon", handle=handle, display_name=handle,
                                           base_url="https://mastodon.example", access_token="t0ken")


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    ctx = Ctx(people["owner"], via="test")
    octx = Ctx(other_people["owner"], via="test")
    return {
        "brand": brand, "people": people, "other": other,
        "account": _account(ctx, brand, "@marca"),
        "their_account": _account(octx, other, "@otra"),
        "tokens": {key: core_services.do_create_token(Ctx(user), f"{key} token", {brand.pk: "write"})[1]
                   for key, user in people.items()},
        "read_token": core_services.do_create_token(Ctx(people["owner"]), "read", {brand.pk: "read"})[1],
        "stranger": core_services.do_create_token(octx, "stranger", {other.pk: "write"})[1],
    }


def _body(w, **over):
    now = timezone.now()
    body = {
        "title": "Sorteo de verano", "prize": "Una cesta", "winners": 1, "substitutes": 1,
        "starts_at": (now - timedelta(hours=3)).isoformat(), "ends_at": (now + timedelta(days=2)).isoformat(),
        "required_terms": ["#sorteo"], "posts": [{"account_id": w["account"].pk, "external_id": "post-1"}],
    }
    body.update(over)
    return body


def _comment(ext, handle, text, minutes_ago, root="post-1"):
    author = inbox.IncomingAuthor(external_id=f"id-{handle}", handle=handle, display_name=handle)
    return inbox.IncomingInteraction(external_id=ext, kind="comment", author=author, text=text,
                                     created_at=timezone.now() - timedelta(minutes=minutes_ago),
                                     root_external_id=root)


HOSTILE = '<script>alert("x")</script> @amiga'


def test_the_whole_draw_through_the_api(client, world):
    w = world
    owner = w["people"]["owner"]
    owner.language = "es"  # explanations come back in the caller's language
    owner.save(update_fields=["language"])
    auth = bearer(w["tokens"]["owner"])
    base = f"{API}/brands/{w['brand'].pk}/giveaways"

    created = send(client, "post", base, _body(w, starts_at=(timezone.now() - timedelta(hours=3))
                                             .astimezone(w["brand"].tzinfo).isoformat()), **auth)
    assert created.status_code == 201, created.content
    g = created.json()
    one = f"{base}/{g['id']}"
    assert g["status"] == "open" and g["timezone"] == "Europe/Madrid"
    assert g["posts"] == [{"id": g["posts"][0]["id"], "account_id": w["account"].pk, "network": "mastodon",
                           "external_id": "post-1", "target_id": None}]
    assert g["required_terms"] == ["#sorteo"] and g["winners"] == 1 and g["substitutes"] == 1
    # The seed stays secret until the draw; its commitment is known from the start.
    contest = Contest.objects.get(pk=g["id"])
    assert g["seed"] is None and g["entries_hash"] is None and g["result"] is None and g["drawn_at"] is None
    assert g["commitment"] == draw.commitment(contest.seed) and contest.seed not in created.content.decode()
    assert g["committed_at"] is None and g["public_url"] is None
    assert [x["id"] for x in send(client, "get", base, **auth).json()["items"]] == [g["id"]]

    committed = send(client, "post", f"{one}/commit", **auth).json()
    assert committed["committed_at"] is not None
    try:
        path = reverse("giveaway_public", kwargs={"public_id": contest.public_id})
        assert committed["public_url"] == f"http://testserver{path}"
    except NoReverseMatch:  # the web engineer's public page is not installed in this checkout
        assert committed["public_url"] is None
    # The proof before the draw: the commitment, never the seed.
    early = send(client, "get", f"{one}/proof", **auth).json()
    assert early["commitment"] == g["commitment"] and "seed" not in early and "entries" not in early

    # Entries come in through the inbox's ingestion, under the contest post's id.
    inbox.ingest_interactions(w["account"], [
        _comment("c1", "@ana", "¡Me apunto! #sorteo @luis", 50),
        _comment("c2", "@bea", "Quiero participar", 40),  # no #sorteo
        _comment("c3", "@Ana", "Otra vez #sorteo", 30),  # the same person as c1
        _comment("c4", "@carla", HOSTILE + " #sorteo", 20),
        _comment("c5", "@dani", "#sorteo para mí", 10),
        _comment("x1", "@eva", "#sorteo en otro post", 10, root="another-post"),
    ])
    # "Fetch now" polls through the inbox (a paused account is left alone: no network here)
    # and collects what the inbox stored.
    type(w["account"]).objects.filter(pk=w["account"].pk).update(paused=True)
    fetched = send(client, "post", f"{one}/fetch", **auth)
    assert fetched.status_code == 200, fetched.content
    assert fetched.json() == {"new": 5, "entries": 5, "polls": {str(w["account"].pk): "skipped"}}

    entries = send(client, "get", f"{one}/entries", **auth).json()
    assert entries["count"] == 5
    by_ext = {e["external_id"]: e for e in entries["items"]}
    assert by_ext["c4"]["text"] == HOSTILE + " #sorteo"  # untrusted text, verbatim in JSON
    assert by_ext["c2"]["counts"] is False and by_ext["c2"]["rejection"] == "missing_terms"
    with translation.override("es"):
        assert by_ext["c2"]["rejection_label"] == eligibility.explain("missing_terms", {"missing": ["#sorteo"]})
    cm_view = send(client, "get", f"{one}/entries?rejection=missing_terms",
                   **bearer(w["tokens"]["community_manager"])).json()["items"][0]  # an English speaker
    assert cm_view["rejection_label"] == "Missing: #sorteo"
    assert by_ext["c3"]["rejection"] == "duplicate" and by_ext["c3"]["detail"]["of"] == by_ext["c1"]["id"]
    assert by_ext["c1"]["counts"] is True and by_ext["c1"]["override"] == "none"
    assert {e["external_id"] for e in send(client, "get", f"{one}/entries?counts=true", **auth).json()["items"]} \
        == {"c1", "c4", "c5"}
    assert {e["external_id"] for e in send(client, "get", f"{one}/entries?counts=false", **auth).json()["items"]} \
        == {"c2", "c3"}
    assert [e["external_id"] for e in
            send(client, "get", f"{one}/entries?rejection=missing_terms", **auth).json()["items"]] == ["c2"]
    bad_filter = send(client, "get", f"{one}/entries?rejection=nope", **auth)
    assert bad_filter.status_code == 422 and "rejection" in bad_filter.json()["errors"]
    paged = send(client, "get", f"{one}/entries?limit=2&offset=4", **auth).json()
    assert paged["count"] == 5 and [e["external_id"] for e in paged["items"]] == ["c5"]

    # Overrides: a reason is required; the decision is logged and counted.
    c2 = by_ext["c2"]["id"]
    no_reason = send(client, "post", f"{one}/entries/{c2}/override", {"decision": "include"}, **auth)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["errors"]
    assert Entry.objects.get(pk=c2).override == ""
    included = send(client, "post", f"{one}/entries/{c2}/override",
                    {"decision": "include", "reason": "Lo escribió en una respuesta"}, **auth)
    assert included.status_code == 200, included.content
    assert included.json()["counts"] is True and included.json()["override"] == "include"
    assert included.json()["override_by_id"] == owner.pk
    assert AuditEvent.objects.filter(action="giveaway.override", via="api", actor=owner).exists()
    assert send(client, "get", one, **auth).json()["summary"] == {
        "entries": 5, "taking_part": 4, "rejected": {"duplicate": 1}, "overrides": 1}

    # Drawing while entries are open is refused with the reason, and logged.
    early_draw = send(client, "post", f"{one}/draw", **auth)
    assert early_draw.status_code == 422 and early_draw.json()["errors"]["__all__"]
    closed = send(client, "post", f"{one}/close", **auth).json()
    assert closed["status"] == "closed"

    drawn = send(client, "post", f"{one}/draw", **auth)
    assert drawn.status_code == 200, drawn.content
    d = drawn.json()
    contest.refresh_from_db()
    assert d["status"] == "drawn" and d["seed"] == contest.seed and d["entries_hash"] == contest.entries_hash
    assert len(d["result"]["winners"]) == 1 and len(d["result"]["substitutes"]) == 1
    winner = d["result"]["winners"][0]
    assert winner["rank"] == 1 and winner["conversation_id"] is not None
    assert [winner["network"], winner["handle"], winner["comment_id"], winner["weight"]] == contest.result["winners"][0]

    # Nobody can draw again; the attempt is refused and kept in the log.
    again = send(client, "post", f"{one}/draw", **auth)
    assert again.status_code == 422
    contest.refresh_from_db()
    assert contest.result["winners"][0] == [winner["network"], winner["handle"], winner["comment_id"], winner["weight"]]
    runs = send(client, "get", f"{one}/runs", **auth).json()
    assert [r["accepted"] for r in runs["items"]] == [False, True, False]
    assert runs["items"][1]["entries_hash"] == d["entries_hash"] and runs["items"][2]["user_id"] == owner.pk
    assert DrawRun.objects.filter(contest=contest).count() == 3

    # The proof checks out with the published algorithm, and names the 4 people taking part.
    proof = send(client, "get", f"{one}/proof", **auth).json()
    assert proof["seed"] == contest.seed and len(proof["entries"]) == 4
    verdict = draw.verify(proof)
    assert verdict.ok and [name for name, _ok in verdict.checks] == ["commitment", "entries_hash", "winners",
                                                                     "substitutes"]

    # A drawn giveaway can no longer change.
    for method, path, body in (("patch", one, {"title": "Otro"}), ("delete", one, None),
                               ("post", f"{one}/entries/{c2}/override", {"decision": "none"})):
        refused = send(client, method, path, body, **auth)
        assert refused.status_code == 422, (method, path, refused.content)
    assert Contest.objects.get(pk=contest.pk).title == "Sorteo de verano"

    effect = send(client, "get", f"{one}/effect", **auth).json()
    # No analytics snapshots: the figures are missing (null), not zero; the entries are counted.
    assert effect["accounts"] == [{"account_id": w["account"].pk, "network": "mastodon", "followers_before": None,
                                   "followers_after": None, "new_followers": None}]
    assert effect["posts"][0]["likes"] is None and effect["posts"][0]["engagements"] is None
    assert effect["posts"][0]["entries"] == 5
    assert set(AuditEvent.objects.filter(via="api", actor=owner).values_list("action", flat=True)) >= {
        "giveaway.create", "giveaway.commit", "giveaway.close", "giveaway.draw", "giveaway.draw_refused"}


def test_hostile_input_is_refused_with_reasons(client, world):
    w = world
    auth = bearer(w["tokens"]["community_manager"])
    base = f"{API}/brands/{w['brand'].pk}/giveaways"
    now = timezone.now()
    too_many = [{"account_id": w["account"].pk, "external_id": f"p{i}"} for i in range(services.MAX_POSTS + 1)]
    cases = {
        "title too long": (_body(w, title="x" * 201), "title"),
        "NUL in title": (_body(w, title="Sorteo\x00"), "title"),
        "blank title": (_body(w, title="   "), "title"),
        "malformed datetime": (_body(w, starts_at="mañana a las 10"), "starts_at"),
        "no offset": (_body(w, starts_at="2030-01-01T10:00:00", ends_at="2030-01-05T10:00:00"), "starts_at"),
        "closes before it opens": (_body(w, starts_at=(now + timedelta(days=2)).isoformat(),
                                         ends_at=(now + timedelta(days=1)).isoformat()), "ends_at"),
        "longer than a year": (_body(w, ends_at=(now + timedelta(days=400)).isoformat()), "ends_at"),
        "unknown field": (_body(w, seed="00" * 32), "seed"),
        "another brand's account": (_body(w, posts=[{"account_id": w["their_account"].pk, "external_id": "p"}]),
                                    "posts.0.account_id"),
        "no such account": (_body(w, posts=[{"account_id": 2**61, "external_id": "p"}]), "posts.0.account_id"),
        "too many posts": (_body(w, posts=too_many), "posts"),
        "no post": (_body(w, posts=[]), "posts"),
        "bad post id": (_body(w, posts=[{"account_id": w["account"].pk, "external_id": "<img src=x>"}]), "posts"),
        "script as a hashtag": (_body(w, required_terms=["<script>"]), "required_terms"),
        "zero winners": (_body(w, winners=0), "winners"),
        "unknown mode": (_body(w, mode="lottery"), "mode"),
        "string for a number": (_body(w, min_tags="many"), "min_tags"),
    }
    for name, (body, field) in cases.items():
        response = send(client, "post", base, body, **auth)
        assert response.status_code == 422, (name, response.status_code, response.content)
        assert field in response.json()["errors"], (name, response.json())
    assert not Contest.objects.exists()

    # A title with markup is text: stored and returned as given (JSON), escaped by the pages.
    ok = send(client, "post", base, _body(w, title=HOSTILE), **auth)
    assert ok.status_code == 201 and ok["Content-Type"].startswith("application/json")
    g = ok.json()
    assert g["title"] == HOSTILE
    one = f"{base}/{g['id']}"
    # PATCH: only what is sent changes; null, unknown fields and another brand's account are refused.
    for body, field in (({"title": None}, "title"), ({"prize": None}, "prize"), ({"commitment": "0" * 64}, "commitment"),
                        ({"posts": [{"account_id": w["their_account"].pk, "external_id": "p"}]}, "posts.0.account_id"),
                        ({"ends_at": "2020-01-01T00:00:00+00:00"}, "ends_at")):
        response = send(client, "patch", one, body, **auth)
        assert response.status_code == 422 and field in response.json()["errors"], response.content
    patched = send(client, "patch", one, {"winners": 3, "mode": "weighted", "excluded_handles": ["@staff"]}, **auth)
    assert patched.status_code == 200, patched.content
    assert (patched.json()["winners"], patched.json()["mode"], patched.json()["title"]) == (3, "weighted", HOSTILE)
    assert [p["account_id"] for p in patched.json()["posts"]] == [w["account"].pk]
    # Unpublished, it may go; once the commitment is public it stays on record (422).
    assert send(client, "post", f"{one}/commit", **auth).status_code == 200
    kept = send(client, "delete", one, **auth)
    assert kept.status_code == 422 and Contest.objects.filter(pk=g["id"]).exists()
    spare = send(client, "post", base, _body(w), **auth).json()
    assert send(client, "delete", f"{base}/{spare['id']}", **auth).status_code == 204
    assert not Contest.objects.filter(pk=spare["id"]).exists()


def test_roles_tokens_and_strangers(client, world):
    w = world
    ctx = Ctx(w["people"]["owner"], via="test")
    contest = services.do_create_contest(
        ctx, w["brand"], posts=[(w["account"], "post-1")], title="Sorteo",
        starts_at=timezone.now() - timedelta(hours=1), ends_at=timezone.now() + timedelta(days=1))
    inbox.ingest_interactions(w["account"], [_comment("c1", "@ana", "hola", 10)])
    services.collect(contest)
    entry = contest.entries.get()
    base = f"{API}/brands/{w['brand'].pk}/giveaways"
    one = f"{base}/{contest.pk}"
    reads = [("get", base), ("get", one), ("get", f"{one}/proof"), ("get", f"{one}/runs"), ("get", f"{one}/effect"),
             ("get", f"{one}/entries")]
    writes = [("post", base, _body(w)), ("patch", one, {"title": "Mío"}), ("delete", one, None),
              ("post", f"{one}/commit", None), ("post", f"{one}/close", None), ("post", f"{one}/fetch", None),
              ("post", f"{one}/draw", None),
              ("post", f"{one}/entries/{entry.pk}/override", {"decision": "exclude", "reason": "staff"})]
    for who in ("read-only token", "analyst", "client_reviewer"):
        auth = bearer(w["read_token"] if who == "read-only token" else w["tokens"][who])
        for method, url in reads:
            assert send(client, method, url, **auth).status_code == 200, (who, url)
        for method, url, body in writes:
            response = send(client, method, url, body, **auth)
            assert response.status_code == 403, (who, method, url, response.content)
    # Nothing happened: no second contest, no commitment, no draw attempt logged, no override.
    contest.refresh_from_db()
    assert Contest.objects.count() == 1 and contest.committed_at is None and contest.title == "Sorteo"
    assert not DrawRun.objects.exists() and Entry.objects.get(pk=entry.pk).override == ""
    # Another brand's owner: the contest and its entries do not exist for them.
    stranger = bearer(w["stranger"])
    for method, url in reads[1:]:
        assert send(client, method, url, **stranger).status_code == 404
    for method, url, body in writes:
        assert send(client, method, url, body, **stranger).status_code == 404, (method, url)
    their_base = f"{API}/brands/{w['other'].pk}/giveaways"
    assert send(client, "get", f"{their_base}/{contest.pk}", **stranger).status_code == 404
    # An entry of the brand's other giveaway (on the same post) is not this giveaway's entry.
    second = services.do_create_contest(
        ctx, w["brand"], posts=[(w["account"], "post-1")], title="Otro", starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(days=1))
    services.collect(second)
    cm = bearer(w["tokens"]["community_manager"])
    crossed = send(client, "post", f"{one}/entries/{second.entries.get().pk}/override",
                   {"decision": "exclude", "reason": "staff"}, **cm)
    assert crossed.status_code == 404 and not Entry.objects.exclude(override="").exists()
    # The community manager (COMPOSE) may write.
    response = send(client, "post", f"{one}/entries/{entry.pk}/override", {"decision": "exclude", "reason": "staff"},
                    **cm)
    assert response.status_code == 200 and response.json()["counts"] is False
    anonymous = client.get(one)
    assert anonymous.status_code == 401


def test_the_openapi_schema_lists_the_routes():
    from tertulia.api.api import api

    paths = api.get_openapi_schema()["paths"]
    base = "/api/v1/brands/{brand_id}/giveaways"
    expected = {
        base: {"get", "post"}, base + "/{giveaway_id}": {"get", "patch", "delete"},
        **{base + "/{giveaway_id}/" + step: {"post"} for step in ("commit", "close", "fetch", "draw")},
        **{base + "/{giveaway_id}/" + view: {"get"} for view in ("proof", "runs", "effect", "entries")},
        base + "/{giveaway_id}/entries/{giveaway_entry_id}/override": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert set(paths[path]) == methods, path
        assert all(op["tags"] == ["giveaways"] for op in paths[path].values())
    entries = paths[base + "/{giveaway_id}/entries"]["get"]
    assert {"counts", "rejection", "limit", "offset"} <= {p["name"] for p in entries["parameters"]}
