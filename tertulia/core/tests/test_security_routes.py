"""Security review, item 1: the isolation crawl covers every route, and a new route cannot be
forgotten.

``test_isolation.py`` discovers every route (the URL resolver and ninja's OpenAPI schema) and
requests each one as a member of brand A with brand B's ids. A route *with* a path parameter
gets the strict check (404, nothing of B, B unchanged). A route *without* one cannot be given
B's ids: the crawl only checks that nothing of B shows up. So every such route must be listed
here, with why it is safe: a new parameterless route fails this test until someone decides
what it shows and to whom. The exception lists of the crawl itself must name real routes (a
renamed route must not leave a stale exemption behind), and every route must have a name
(the lists are keyed by name).
"""

from __future__ import annotations

import functools

from tertulia.core.tests import test_isolation as iso
from tertulia.core.tests.web_helpers import route_params

_CHARTS = ("growth", "engagement_network", "pillars", "formats", "hours", "sentiment", "inbox", "traffic")

# Web pages without a path parameter, and why they cannot show another tenant's data.
PARAMLESS_WEB = {
    "home": "redirects to the signed-in user's own first brand (brands_for)",
    "login": "the sign-in form (public, throttled)",
    "logout": "ends the caller's own session",
    "set_language": "the caller's own language cookie and preference",
    "preferences": "the caller's own preferences",
    "token_list": "the caller's own API tokens",
    "org_create": "creates a workspace owned by the caller",
    "brand_list": "brands_for(user)",
    "brand_create": "creates a brand in a workspace the caller administers (checked by the service)",
    "calendar_all": "the calendar of brands_for(user)",
    "notifications": "Notification.objects.filter(recipient=user)",
    "notifications_read_all": "marks the caller's own notifications",
    "inbox": "the inbox of brands_for(user)",
    "inbox_bulk": "each conversation id in the POST is looked up within brands_for(user)",
    "analytics_overview": "the dashboard of brands_for(user)",
    # OAuth callbacks: the brand comes from the caller's own session (the state is checked in
    # constant time against what the session stored; tested per network).
    "mastodon_callback": "OAuth state from the caller's session", "meta_callback": "OAuth state from the session",
    "threads_callback": "OAuth state from the session", "linkedin_callback": "OAuth state from the session",
    "x_callback": "OAuth state from the session", "youtube_callback": "OAuth state from the session",
    # Webhooks: no session at all; the signature of the raw body is the credential
    # (test_security_webhooks.py).
    "meta_webhook": "signed by Meta (X-Hub-Signature-256)",
    "whatsapp_webhook": "signed by Meta (X-Hub-Signature-256)",
    # Operations: liveness and readiness say "ok" or which check failed, nothing about tenants;
    # the Prometheus metrics are aggregate counters, behind a bearer token or loopback only.
    "deleted_brands": "brand_lifecycle.restorable_for(user): deleted brands the caller may restore",
    "healthz": "no I/O, no data", "readyz": "database and queue status only",
    "metrics": "aggregate counters; METRICS_TOKEN or loopback without proxy headers",
    **{f"analytics_overview_chart_{c}": "a chart over brands_for(user)" for c in _CHARTS},
    **{f"analytics_overview_chart_{c}_csv": "a chart's data over brands_for(user)" for c in _CHARTS},
}

# API routes without a path parameter (paths as in the OpenAPI schema, after /api/v1).
PARAMLESS_API = {
    "/api/v1/openapi.json": "the schema (no data)",
    "/api/v1/docs": "the Swagger page (no data)",
    "/api/v1/": "ninja's root (404)",
    "/api/v1/me": "the caller",
    "/api/v1/brands": "brands_for(user); creating one checks the workspace in the service",
    "/api/v1/notifications": "the caller's own notifications",
    "/api/v1/notifications/read-all": "the caller's own notifications",
    "/api/v1/analytics/dashboard": "the dashboard of brands_for(user)",
    "/api/v1/deleted-brands": "brand_lifecycle.restorable_for(user): deleted brands the caller may restore",
}


@functools.cache
def _discover():
    return iso.discover()  # the OpenAPI schema costs a second or two: once per module


def _paramless():
    web, api_routes, _ = _discover()
    web_names = {name for name, route in web if not route_params(route)}
    api_paths = {"/" + route.lstrip("/") for _n, route, _m in api_routes if not route_params(route)}
    return web, api_routes, web_names, {iso._schema_key(p.lstrip("/")) for p in api_paths}


def test_every_route_has_a_name():
    web, api_routes, _ = _discover()
    unnamed = [route for name, route in web if not name] + [route for name, route, _m in api_routes if not name]
    assert not unnamed, f"unnamed routes cannot be listed in the crawl's exceptions: {unnamed}"


def test_every_parameterless_route_is_an_explicit_exception():
    _web, _api, web_names, api_paths = _paramless()
    new_web = sorted(web_names - set(PARAMLESS_WEB))
    new_api = sorted(api_paths - set(PARAMLESS_API))
    assert not new_web and not new_api, (
        "routes without a path parameter get no 404 check in the isolation crawl: "
        f"web {new_web}, api {new_api}. Give the route a brand/object parameter, or add it to "
        "PARAMLESS_WEB / PARAMLESS_API in tertulia/core/tests/test_security_routes.py with why it "
        "cannot show another tenant's data.")


def test_the_exception_lists_name_real_routes():
    web, api_routes, web_names, api_paths = _paramless()
    all_web = {name for name, _r in web}
    prefix = iso.api_prefix().rstrip("/")
    all_api = {iso._schema_key(route).removeprefix(prefix) for _n, route, _m in api_routes}
    stale = sorted(set(PARAMLESS_WEB) - web_names) + sorted(set(PARAMLESS_API) - api_paths)
    stale += sorted(iso.PUBLIC - all_web)
    stale += sorted(name for name, _method in iso.WEB_NOT_404 if name not in all_web)
    stale += sorted(set(iso.POSITIVE_NOT_OK) - all_web)
    stale += sorted(path for _m, path in iso.API_STATE_REFUSALS if path not in all_api)
    assert not stale, f"exceptions naming routes that do not exist (renamed or removed?): {stale}"


def test_every_path_parameter_gets_the_strict_check():
    """A route with a parameter is crawled with B's ids and must answer 404 (or its listed
    status): its parameters are all fillable (PARAMS), so none is skipped."""
    web, api_routes, _ = _discover()
    routes = [r for _n, r in web] + [r for _n, r, _m in api_routes]
    unfillable = {p for r in routes for p in route_params(r) if p not in iso.PARAMS}
    assert not unfillable
    # The public exceptions are the only parameterised pages not sent to sign-in.
    assert iso.PUBLIC <= {n for n, _r in web}
