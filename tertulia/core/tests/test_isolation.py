"""Tenant isolation, proved by crawling every route.

Every URL pattern (pages and the API under /api/v1, found by walking the URL resolver and
ninja's OpenAPI schema, so new routes are covered without touching this file) is requested
by a member of brand A with every path parameter filled with brand B's ids, by GET and POST
(and each API method). Nothing of B may come back: the status is the expected one (404
almost always) and neither the body nor a redirect carries B's strings; and B's data is
unchanged afterwards. The same crawl with A's ids, as A's owner, must succeed, so the
negative result is not vacuous.

A route whose path parameter is not in PARAMS fails the test: add the new parameter name
there (which of B's objects it names), so the crawl keeps covering it.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from django.core import signing
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern, RoutePattern

from tertulia.api.api import api
from tertulia.core.models import (
    AuditEvent,
    Brand,
    Invitation,
    KnowledgeEntry,
    Membership,
    OrganizationMember,
    PersonalAccessToken,
    TokenGrant,
)
from tertulia.content.models import MediaAsset
from tertulia.content import public_media
from tertulia.giveaways.models import Contest, DrawRun, Entry
from tertulia.listening.models import Competitor, CompetitorPost, ListeningQuery, Mention, SpikeAlert, Source
from tertulia.networks.models import SocialAccount
from tertulia.strategy.models import KPI, ContentPillar, Objective

from .web_helpers import World, fill_route, leaks, populate, route_params

pytestmark = pytest.mark.django_db

# Path parameter name -> which object of a World it names. A route with a parameter that is
# not here fails test_every_route_parameter_is_known.
PARAMS = {
    "brand_id": lambda w: w.brand.pk,
    "organization_id": lambda w: w.brand.organization_id,
    "org_id": lambda w: w.brand.organization_id,
    "entry_id": lambda w: w.entry.pk,
    "knowledge_id": lambda w: w.entry.pk,
    "account_id": lambda w: w.account.pk,
    "membership_id": lambda w: w.membership.pk,
    "member_id": lambda w: w.membership.pk,
    "user_id": lambda w: w.membership.user_id,
    "invitation_id": lambda w: w.invitation.pk,
    "token_id": lambda w: w.token.pk,
    # The invitation link's secret. For the crawl of B this is B's stored *hash*: what
    # someone reading the database (or a log) could learn must not work as the link.
    "token": lambda w: w.invitation_raw,
    "slug": lambda w: w.link.slug,
    "asset_id": lambda w: w.media.pk,
    "objective_id": lambda w: w.objective.pk,
    "kpi_id": lambda w: w.kpi.pk,
    "pillar_id": lambda w: w.pillar.pk,
    "campaign_id": lambda w: w.campaign.pk,
    "post_id": lambda w: w.post.pk,
    "target_id": lambda w: w.target.pk,
    "idea_id": lambda w: w.idea.pk,
    "feed_id": lambda w: w.feed.pk,
    "theme_id": lambda w: w.theme.pk,
    "key_date_id": lambda w: w.key_date.pk,
    "comment_id": lambda w: w.comment.pk,
    "word_id": lambda w: w.word.pk,
    "preset_id": lambda w: w.preset.pk,
    "slot_id": lambda w: w.slot.pk,
    "notification_id": lambda w: w.notification.pk,
    # Secret links (client review, private iCal feed): for the crawl of B these are B's
    # stored *hashes*, which must not work as the link.
    "review_token": lambda w: w.review_raw,
    "calendar_token": lambda w: w.calendar_raw,
    "review_link_id": lambda w: w.review_link.pk,
    # A signed public media link (what Instagram and Threads download): A's link to A's file.
    "media_token": lambda w: public_media.public_url(w.media).rsplit("/", 1)[1],
    # A network name (a post's variant): the world's post has a target on its Mastodon account.
    "network": lambda w: w.account.network,
    # The inbox.
    "conversation_id": lambda w: w.conversation.pk,
    "interaction_id": lambda w: w.interaction.pk,
    "author_id": lambda w: w.author.pk,
    "reply_id": lambda w: w.reply.pk,
    "saved_reply_id": lambda w: w.saved_reply.pk,
    "rule_id": lambda w: w.rule.pk,
    "label_id": lambda w: w.label.pk,
    # Giveaways: a contest, one of its entries, and its public id (the public pages' key).
    "giveaway_id": lambda w: w.contest.pk,
    "giveaway_entry_id": lambda w: w.giveaway_entry.pk,
    "public_id": lambda w: w.contest.public_id,
    # Listening.
    "competitor_id": lambda w: w.competitor.pk,
    "competitor_account_id": lambda w: w.competitor_account.pk,
    "competitor_post_id": lambda w: w.competitor_post.pk,
    "listening_query_id": lambda w: w.listening_query.pk,
    "source_id": lambda w: w.source.pk,
    "mention_id": lambda w: w.mention.pk,
    "alert_id": lambda w: w.alert.pk,
    # The CM cadence.
    "cadence_task_id": lambda w: w.cadence_task.pk,
    # Reports: an archived report, a schedule, and the report's public link secret (for the
    # crawl of B, B's stored hash, which must not work as the link).
    "report_id": lambda w: w.report.pk,
    "report_schedule_id": lambda w: w.report_schedule.pk,
    "share_token": lambda w: w.report_raw,
    "export_id": lambda w: w.export.pk,
}

# Public pages: no sign-in, because what they need is in the URL itself.
PUBLIC = {
    # A post's short link: it redirects to the URL the post already publishes, and nothing else.
    "short_link",
    # A client's review link: the token opens that one post, for comments and approval.
    "review_link",
    # A member's private iCal feed: the token is the credential (404 when unknown or revoked).
    "calendar_ical",
    # A signed, expiring link to one media file: the signature is the credential (404 otherwise).
    "public_media",
    # Meta's webhook: no session; the X-Hub-Signature-256 of the raw body is the credential.
    "meta_webhook",
    # WhatsApp's webhook: the same (Meta signs it with the app secret).
    "whatsapp_webhook",
    # A report's read-only share link: the token shows that one report (404 when unknown,
    # revoked or expired).
    "report_public",
    # A giveaway's public results and verification pages: the public id is the key, and only a
    # giveaway whose commitment is published has them (404 otherwise).
    "giveaway_public",
    "giveaway_public_proof",
    "giveaway_public_entries",
    "giveaway_verify",
    # Operations (core/views_ops.py): liveness, readiness and metrics, for machines; aggregates
    # only, no tenant data (metrics are guarded by METRICS_TOKEN or loopback).
    "healthz",
    "readyz",
    "metrics",
}

# Public routes that refuse a bare GET even from A's owner (positive control), and why.
# Meta's webhook: a GET without Meta's verify token is refused (403), whoever asks.
POSITIVE_NOT_OK = {"meta_webhook": 403, "whatsapp_webhook": 403,
                   # The world's interaction is not a WhatsApp message, so it has no file to fetch
                   # (a real one is covered by inbox/tests/test_whatsapp_inbox.py).
                   "whatsapp_media": 404,
                   # A giveaway's proof and entry list are published by the draw (the world's is not drawn).
                   "giveaway_public_proof": 404, "giveaway_public_entries": 404}

# Pages whose answer to B's ids is not 404, and why.
WEB_NOT_404 = {
    # The link checks its own secret: a wrong one is "no longer valid" (410), the same page
    # for a stranger's link as for a used one.
    ("invitation_accept", "GET"): 410,
    ("invitation_accept", "POST"): 410,
    # POST-only, and about the user's own tokens: the method is refused before any lookup.
    ("token_revoke", "GET"): 405,
    # Short links are public redirects (GET/HEAD only).
    ("short_link", "GET"): 302,
    ("short_link", "POST"): 405,
    # A client's review link checks its own secret: unknown, revoked, expired or used alike
    # are "no longer valid" (410).
    ("review_link", "GET"): 410,
    ("review_link", "POST"): 410,
    # A public media link serves GET and HEAD only: the method is refused before any lookup.
    ("public_media", "POST"): 405,
}

# API operations whose answer for A's own world is a refusal because of the object's state,
# not a success: the world's target is in review, so it can be neither retried nor deleted from
# the network (422 with the reason). Their 404 for B's ids is checked like every other route.
API_STATE_REFUSALS = {
    # Listening: the world's mention is a web article, which cannot be answered from the inbox
    # (422 with why); the generated bodies carry the shared "kind" value ("faq"), which is neither
    # a query kind nor a source kind (422 from the service, after the brand was found).
    ("post", "/brands/{brand_id}/listening/mentions/{mention_id}/to-inbox"): 422,
    ("post", "/brands/{brand_id}/listening/queries"): 422,
    ("patch", "/brands/{brand_id}/listening/queries/{listening_query_id}"): 422,
    ("post", "/brands/{brand_id}/listening/sources"): 422,
    ("post", "/brands/{brand_id}/targets/{target_id}/retry"): 422,
    ("post", "/brands/{brand_id}/targets/{target_id}/delete"): 422,
    # The world's target is not published (and not on Joomla): nothing to change on the site.
    ("post", "/brands/{brand_id}/targets/{target_id}/update-on-network"): 422,
    ("post", "/brands/{brand_id}/targets/{target_id}/unpublish"): 422,
    # Its post has no first comment that failed, so there is nothing to post again.
    ("post", "/brands/{brand_id}/targets/{target_id}/retry-comment"): 422,
    # The world's comment came through Mastodon, which cannot hide comments (the reason, 422).
    ("post", "/brands/{brand_id}/interactions/{interaction_id}/hide"): 422,
    # Reports: the generated bodies carry the shared "kind" value ("faq"), which is no report
    # kind (422 from the service, after the brand was found).
    ("post", "/brands/{brand_id}/reports"): 422,
    ("post", "/brands/{brand_id}/report-schedules"): 422,
    ("patch", "/brands/{brand_id}/report-schedules/{report_schedule_id}"): 422,
    # WhatsApp: the world's account and conversation are on Mastodon, which has no templates.
    ("post", "/brands/{brand_id}/accounts/{account_id}/whatsapp/templates/sync"): 422,
    ("post", "/brands/{brand_id}/conversations/{conversation_id}/whatsapp-template"): 422,
    # Giveaways: the world's contest has its commitment published and its window open, so it
    # cannot be deleted (it stays on record) nor drawn yet; the generated create body has no
    # post and an empty window (422 with the reasons).
    ("post", "/brands/{brand_id}/giveaways"): 422,
    ("delete", "/brands/{brand_id}/giveaways/{giveaway_id}"): 422,
    ("post", "/brands/{brand_id}/giveaways/{giveaway_id}/draw"): 422,
    # Competitors: the crawl's generated file is a PNG, not CSV text (422 with the reason).
    ("post", "/brands/{brand_id}/competitor-accounts/{competitor_account_id}/import"): 422,
    # Analytics data imports: the same generated PNG is no web analytics or conversions CSV.
    ("post", "/brands/{brand_id}/analytics/traffic/import"): 422,
    ("post", "/brands/{brand_id}/analytics/conversions/import"): 422,
    # The world's brand is not deleted, so there is nothing to restore (422 with why).
    ("post", "/deleted-brands/{brand_id}/restore"): 422,
}

API_METHODS = ("get", "post", "put", "patch", "delete")
NINJA_OWN = {"openapi-json", "openapi-view", "api-root"}


# --- Route discovery ------------------------------------------------------------------

def _pattern_text(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern)
    if isinstance(pattern, RegexPattern):
        regex = pattern.regex
        if regex.groups:
            raise AssertionError(f"regex URL pattern with groups {regex.pattern!r}: teach test_isolation to fill it")
        return re.sub(r"\\(.)", r"\1", regex.pattern.lstrip("^").rstrip("$").replace("\\Z", ""))
    raise AssertionError(f"unknown URL pattern type {pattern!r}")


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + _pattern_text(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + _pattern_text(p.pattern), p


def api_prefix() -> str:
    return reverse("api:api-root")  # "/api/v1/"


def _schema_key(route: str) -> str:
    return "/" + re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", route)


def discover():
    """(web routes, api routes): web is [(name, route)], api is [(name, route, methods)]."""
    schema = api.get_openapi_schema()
    schema_paths = {path: item for path, item in schema["paths"].items()}
    web, api_routes, seen = [], [], set()
    prefix = api_prefix().lstrip("/")
    for route, pattern in _walk(get_resolver().url_patterns):
        if route in seen:
            continue  # ninja registers one Django pattern per operation of a path
        seen.add(route)
        if route.startswith(prefix):
            if pattern.name in NINJA_OWN:
                api_routes.append((pattern.name, route, ("get",)))
                continue
            item = schema_paths.get(_schema_key(route))
            # A route kept out of the schema still gets every method.
            methods = tuple(m for m in API_METHODS if m in item) if item else API_METHODS
            api_routes.append((pattern.name, route, methods))
        else:
            web.append((pattern.name, route))
    return web, api_routes, schema_paths


def test_route_discovery_sees_pages_and_api():
    web, api_routes, schema_paths = discover()
    names = {n for n, _r in web}
    assert {"brand_settings", "knowledge_edit", "member_role", "invitation_accept", "token_revoke"} <= names
    assert any(n == "openapi-json" for n, _r, _m in api_routes)
    # Every path in the OpenAPI schema is a real route, and every API route is in the schema.
    routes = {_schema_key(r) for n, r, _m in api_routes if n not in NINJA_OWN}
    assert routes == set(schema_paths), (routes ^ set(schema_paths))


def test_every_route_parameter_is_known():
    web, api_routes, _ = discover()
    unknown = {
        (route, param)
        for route in [r for _n, r in web] + [r for _n, r, _m in api_routes]
        for param in route_params(route)
        if param not in PARAMS
    }
    assert not unknown, (
        f"routes with path parameters the isolation crawl cannot fill: {sorted(unknown)}. "
        "Add each parameter to PARAMS in tertulia/core/tests/test_isolation.py."
    )


# --- The worlds ------------------------------------------------------------------------

OUTSIDER_EMAIL = "outsider@example.com"


@pytest.fixture
def worlds(brand_a, brand_b, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")  # the worlds' images never touch var/media
    a = populate(*brand_a, marker="Alpha")
    b = populate(*brand_b, marker="Beta")
    # In A's workspace but in none of its brands: the one kind of person the API adds directly.
    outsider = make_user("outsider", email=OUTSIDER_EMAIL)
    OrganizationMember.objects.create(organization=a.brand.organization, user=outsider)
    return a, b


def _values(world: World, *, stored_hash_for_token: bool = False) -> dict:
    values = {name: get(world) for name, get in PARAMS.items()}
    if stored_hash_for_token:
        values["token"] = world.invitation.token_hash
        values["review_token"] = world.review_link.token_hash
        values["calendar_token"] = world.calendar_token.token_hash
        values["share_token"] = world.report.share_token_hash
        # What the database tells about a media file (its id and hash), signed with any key
        # but the site's, must not make a public link.
        # A giveaway's public pages are public to whoever holds the public id; a made-up one
        # finds nothing.
        values["public_id"] = "NotAPublicId0000"
        values["media_token"] = signing.dumps({"a": world.media.pk, "h": world.media.sha256[:16]},
                                              key="read-from-the-database", salt=public_media.SALT)
    return values


def _form_payload(world: World) -> dict:
    """A POST body valid for every form, aimed at ``world``: if a view forgot its scoping,
    this would really change ``world``'s data (and the crawl would see it)."""
    return {
        "name": "Renamed by intruder", "timezone": "UTC", "language": "en", "tone": "intruder",
        "banned_words": "x", "required_hashtags": "#x", "signature": "intruder",
        "confirm_name": world.brand.name, "kind": "faq", "title": "Intruder title", "answer": "Intruder answer",
        "department": "", "contact": "", "keywords": "", "network": "bluesky", "handle": "intruder.example",
        "display_name": "Intruder", "base_url": "", "status": "disabled", "email": "intruder@example.com",
        "role": "analyst", "first_name": "In", "last_name": "Truder", "username": "intruder",
        "password": "a long enough password 123", "expires_in_days": "3", "org": world.brand.organization_id,
        f"brand_{world.brand.pk}": "write", "next": "/",
    }


# --- API bodies from the OpenAPI schema ---------------------------------------------------

def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            options = [_resolve(s, spec) for s in schema[key] if s.get("type") != "null"]
            if key == "allOf":
                merged = {"type": "object", "properties": {}, "required": []}
                for o in options:
                    merged["properties"].update(o.get("properties", {}))
                    merged["required"] += o.get("required", [])
                return merged
            return options[0] if options else {"type": "null"}
    return schema


def _sample(schema: dict, spec: dict, name: str, known: dict):
    schema = _resolve(schema, spec)
    if name in known:
        return known[name]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return {k: _sample(v, spec, k, known) for k, v in props.items() if k in required or k in known}
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    fmt = schema.get("format")
    if fmt == "email":
        return "api-intruder@example.com"
    if fmt in ("uri", "url"):
        return "https://example.com/"
    if fmt == "date-time":
        return datetime(2030, 1, 1, 12, 0).isoformat() + "Z"
    if fmt == "date":
        return date(2030, 1, 1).isoformat()
    return "Sample"


def _api_known(world: World) -> dict:
    """Body and query fields by name: ids aim at ``world``; the rest are valid values."""
    known = {name: get(world) for name, get in PARAMS.items() if name != "token"}
    known.update({
        "name": "Renamed by API intruder", "timezone": "UTC", "language": "en", "role": "analyst",
        "network": "bluesky", "handle": "api-intruder.example", "title": "API intruder", "answer": "API intruder",
        "kind": "faq", "status": "disabled", "email": OUTSIDER_EMAIL, "confirm_name": world.brand.name,
        "scope": "write",
        "time": "10:15",  # a queue slot's wall time (HH:MM); the world's own slot is 09:30
        "labels": ["vip"],  # an inbox rule's action (a rule needs at least one)
    })
    return known


def _api_request(client: Client, method: str, url: str, spec: dict, path: str, world: World, **extra):
    op = spec["paths"].get(path, {}).get(method, {})
    known = _api_known(world)
    query = {
        p["name"]: _sample(p.get("schema", {}), spec, p["name"], known)
        for p in op.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }
    body = None
    content = op.get("requestBody", {}).get("content", {})
    if content:
        media, entry = next(iter(content.items()))
        body = _sample(entry.get("schema", {}), spec, "", known)
        if media == "multipart/form-data":
            return _send_multipart(client, method, url, entry.get("schema", {}), spec, known, **extra)
        if media != "application/json":
            raise AssertionError(f"{method.upper()} {path}: teach test_isolation to send {media}")
    if query:
        from urllib.parse import urlencode

        url = f"{url}?{urlencode(query)}"
    send = getattr(client, method)
    if body is None:
        return send(url, **extra)
    return send(url, data=body, content_type="application/json", **extra)


def _send_multipart(client: Client, method: str, url: str, schema: dict, spec: dict, known: dict, **extra):
    """A multipart body: files are real generated images, other fields as for JSON."""
    from .web_helpers import generated_png

    schema = _resolve(schema, spec)
    data = {}
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(prop, spec)
        if prop.get("format") == "binary":
            data[name] = generated_png(320, 240, (10, 90, 160))
        elif name in schema.get("required", []) or name in known:
            data[name] = _sample(prop, spec, name, known)
    return getattr(client, method)(url, data=data, **extra)


# --- What B looks like, to prove nothing changed ---------------------------------------------

def _state_of(world: World) -> dict:
    brand = Brand.objects.filter(pk=world.brand.pk).values().first()
    return {
        "brand": brand,
        "org_brands": sorted(Brand.objects.filter(organization_id=world.brand.organization_id).values_list("pk", "name")),
        "org_members": sorted(OrganizationMember.objects.filter(organization_id=world.brand.organization_id)
                              .values_list("user_id", "is_admin")),
        "knowledge": sorted(KnowledgeEntry.objects.filter(brand_id=world.brand.pk).values_list("pk", "title", "answer", "kind")),
        "accounts": sorted(SocialAccount.objects.filter(brand_id=world.brand.pk)
                           .values_list("pk", "network", "handle", "status", "display_name")),
        "members": sorted(Membership.objects.filter(brand_id=world.brand.pk).values_list("user_id", "role")),
        "invitations": sorted(Invitation.objects.filter(brand_id=world.brand.pk)
                              .values_list("pk", "email", "role", "revoked_at", "accepted_at")),
        "tokens": sorted(PersonalAccessToken.objects.filter(user=world.people["owner"]).values_list("pk", "name", "revoked_at")),
        "grants": sorted(TokenGrant.objects.filter(brand_id=world.brand.pk).values_list("token_id", "scope")),
        "audit": AuditEvent.objects.filter(brand_id=world.brand.pk).count(),
        "strategy": (sorted(Objective.objects.filter(brand_id=world.brand.pk).values_list("pk", "name", "period_end")),
                     sorted(KPI.objects.filter(brand_id=world.brand.pk).values_list("pk", "metric", "target")),
                     sorted(ContentPillar.objects.filter(brand_id=world.brand.pk).values_list("pk", "name", "target_share"))),
        "media": sorted(MediaAsset.objects.filter(brand_id=world.brand.pk).values_list("pk", "alt_text", "sha256")),
        "giveaways": (sorted(Contest.objects.filter(brand_id=world.brand.pk).values_list(
                          "pk", "title", "starts_at", "ends_at", "committed_at", "drawn_at", "winners")),
                      sorted(Entry.objects.filter(brand_id=world.brand.pk).values_list("pk", "override", "rejection")),
                      DrawRun.objects.filter(brand_id=world.brand.pk).count()),
        "listening": (sorted(ListeningQuery.objects.filter(brand_id=world.brand.pk).values_list("pk", "name", "text",
                                                                                                 "enabled")),
                      sorted(Source.objects.filter(brand_id=world.brand.pk).values_list("pk", "kind", "url", "enabled")),
                      sorted(Mention.objects.filter(brand_id=world.brand.pk).values_list("pk", "text", "conversation_id")),
                      sorted(SpikeAlert.objects.filter(brand_id=world.brand.pk).values_list("pk", "count")),
                      sorted(Competitor.objects.filter(brand_id=world.brand.pk).values_list("pk", "name")),
                      sorted(CompetitorPost.objects.filter(brand_id=world.brand.pk).values_list("pk", "likes"))),
    }


# --- The crawl ------------------------------------------------------------------------------

def _web_methods():
    return ("GET", "POST")  # what a page can be asked; other verbs are refused by Django itself


@pytest.mark.parametrize("as_role", ["owner", "client_reviewer"])
def test_member_of_a_cannot_reach_anything_of_b(worlds, as_role):
    a, b = worlds
    web, api_routes, _paths = discover()
    spec = api.get_openapi_schema()
    user = a.people[as_role]
    before = _state_of(b)
    b_values = _values(b, stored_hash_for_token=True)
    payload = _form_payload(b)
    client = Client()
    failures = []

    for name, route in web:
        params = route_params(route)
        url = fill_route(route, b_values)
        for method in _web_methods():
            client.force_login(user)  # a crawled logout must not turn the rest anonymous
            response = client.get(url) if method == "GET" else client.post(url, payload)
            found = leaks(response, b.secrets)
            if found:
                failures.append(f"{method} {url} ({name}) leaks {found}")
            if params:
                expected = WEB_NOT_404.get((name, method), 404)
                if response.status_code != expected:
                    failures.append(f"{method} {url} ({name}): {response.status_code}, expected {expected}")
            elif response.status_code not in (200, 302, 403, 404, 405):
                failures.append(f"{method} {url} ({name}): unexpected {response.status_code}")
            if response.status_code == 302 and response["Location"].startswith(reverse("login")) and name != "logout":
                failures.append(f"{method} {url} ({name}): signed-in user sent to the login page")

    for auth in ("session", "token"):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {a.token_raw}"} if auth == "token" else {}
        for name, route, methods in api_routes:
            params = route_params(route)
            url = fill_route(route, b_values)
            for method in methods:
                if auth == "token" and as_role != "owner":
                    continue  # the token belongs to A's owner
                if auth == "token":
                    caller = Client()  # the token alone, no session behind it
                else:
                    caller = client
                    caller.force_login(user)
                response = _api_request(caller, method, url, spec, _schema_key(route), b, **extra)
                found = leaks(response, b.secrets)
                if found:
                    failures.append(f"[{auth}] {method.upper()} {url} leaks {found}")
                if params:
                    if response.status_code != 404:
                        failures.append(f"[{auth}] {method.upper()} {url}: {response.status_code}, expected 404 "
                                        f"({response.content[:200]!r})")
                elif response.status_code >= 500:
                    failures.append(f"[{auth}] {method.upper()} {url}: {response.status_code}")

    assert not failures, "\n".join(failures)
    assert _state_of(b) == before, "a request from brand A changed brand B's data"


def test_anonymous_visitor_is_sent_to_sign_in(worlds):
    _a, b = worlds
    web, api_routes, _ = discover()
    spec = api.get_openapi_schema()
    values = _values(b)
    failures = []
    login_url = reverse("login")
    for name, route in web:
        params = route_params(route)
        url = fill_route(route, values)
        for method in _web_methods():
            client = Client()  # stays anonymous (accepting B's invitation would sign it in)
            response = client.get(url) if method == "GET" else client.post(url, _form_payload(b))
            found = leaks(response, [s for s in b.secrets if s not in (b.invitation_raw,)])
            if name in ("invitation_accept", "review_link", "calendar_ical", "giveaway_public", "giveaway_public_proof",
                        "giveaway_public_entries", "giveaway_verify", "report_public"):
                # B's real link: the one page a stranger may see, because they hold the secret.
                continue
            if name in PUBLIC:
                if found:
                    failures.append(f"anonymous {method} {url} leaks {found}")
                continue
            if found:
                failures.append(f"anonymous {method} {url} leaks {found}")
            if params:
                ok = response.status_code == 302 and response["Location"].startswith(login_url + "?next=")
                if method == "GET" and name == "token_revoke":
                    ok = ok or response.status_code == 405
                if not ok:
                    failures.append(f"anonymous {method} {url}: {response.status_code} {response.get('Location')}")
    for name, route, methods in api_routes:
        if not route_params(route):
            continue
        url = fill_route(route, values)
        for method in methods:
            response = _api_request(Client(), method, url, spec, _schema_key(route), b)
            if response.status_code != 401:
                failures.append(f"anonymous {method.upper()} {url}: {response.status_code}, expected 401")
            if leaks(response, b.secrets):
                failures.append(f"anonymous {method.upper()} {url} leaks")
    assert not failures, "\n".join(failures)


def test_brand_a_ids_with_b_children_are_refused(worlds):
    """The subtler attack: my own brand in the URL, someone else's object after it."""
    a, b = worlds
    web, api_routes, _ = discover()
    spec = api.get_openapi_schema()
    values = _values(b, stored_hash_for_token=True)
    values["brand_id"] = a.brand.pk
    values["organization_id"] = values["org_id"] = a.brand.organization_id
    client = Client()
    failures = []
    before = _state_of(b)
    for name, route in web:
        params = route_params(route)
        if "brand_id" not in params or len(params) < 2:
            continue
        url = fill_route(route, values)
        for method in _web_methods():
            client.force_login(a.people["owner"])
            response = client.get(url) if method == "GET" else client.post(url, _form_payload(b))
            # POST-only views refuse GET before looking anything up.
            expected = (404, 405) if method == "GET" else (404,)
            if response.status_code not in expected or leaks(response, b.secrets):
                failures.append(f"{method} {url} ({name}): {response.status_code}")
    for name, route, methods in api_routes:
        params = route_params(route)
        if "brand_id" not in params or len(params) < 2:
            continue
        url = fill_route(route, values)
        for method in methods:
            client.force_login(a.people["owner"])
            response = _api_request(client, method, url, spec, _schema_key(route), b)
            if response.status_code != 404 or leaks(response, b.secrets):
                failures.append(f"{method.upper()} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert _state_of(b) == before


def test_positive_control_owner_reaches_every_route_of_a(worlds):
    """The same crawl with A's own ids succeeds, so the 404s above are not vacuous."""
    a, b = worlds
    web, api_routes, _ = discover()
    spec = api.get_openapi_schema()
    values = _values(a)
    owner = a.people["owner"]
    client = Client()
    failures = []
    login_url = reverse("login")

    def isolated(send):
        # Each request runs in a savepoint that is rolled back: deleting the brand or an
        # entry must not spoil the routes crawled after it.
        with transaction.atomic():
            client.force_login(owner)
            response = send()
            transaction.set_rollback(True)
        return response

    for name, route in web:
        url = fill_route(route, values)
        get = isolated(lambda: client.get(url))
        ok = get.status_code in (200, 302) or get.status_code == POSITIVE_NOT_OK.get(name)
        if get.status_code == 405:
            post = isolated(lambda: client.post(url, _form_payload(a)))
            ok, get = post.status_code in (200, 302), post
        if not ok:
            failures.append(f"{url} ({name}): {get.status_code}")
        elif get.status_code == 302 and get["Location"].startswith(login_url) and name != "logout":
            failures.append(f"{url} ({name}): owner sent to the login page")
        if leaks(get, b.secrets):
            failures.append(f"{url} ({name}) shows brand B's data to A's owner")

    for name, route, methods in api_routes:
        url = fill_route(route, values)
        for method in methods:
            response = isolated(lambda: _api_request(client, method, url, spec, _schema_key(route), a))
            if name == "api-root":
                ok = response.status_code == 404  # ninja's root only names the docs
            elif (method, _schema_key(route).removeprefix(api_prefix().rstrip("/"))) in API_STATE_REFUSALS:
                ok = response.status_code == API_STATE_REFUSALS[
                    (method, _schema_key(route).removeprefix(api_prefix().rstrip("/")))]
            else:
                ok = 200 <= response.status_code < 300
            if not ok:
                failures.append(f"{method.upper()} {url}: {response.status_code} {response.content[:300]!r} "
                                "(if the generated body is wrong, extend _api_known)")
    assert not failures, "\n".join(failures)
