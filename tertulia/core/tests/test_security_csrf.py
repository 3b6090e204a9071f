"""Security review, item 3: CSRF on every state-changing request.

Every URL pattern (found by the isolation crawl's discovery, so a new route is covered without
touching this file) is POSTed by a signed-in owner of brand A, with A's own ids (so the request
would succeed with a token), through ``Client(enforce_csrf_checks=True)`` and no token: every
one is refused by the CSRF check, except the routes listed below with why. Every API write
(POST, PUT, PATCH, DELETE) with the browser session and no token is refused too, while the same
write with a personal access token needs no CSRF token (a bearer token is not sent by the
browser on its own). Nothing of A changes.
"""

from __future__ import annotations

import functools

import pytest
from django.http import HttpResponseForbidden
from django.test import Client

from tertulia.api.api import api
from tertulia.core.tests import test_isolation as iso
from tertulia.core.tests.web_helpers import fill_route, populate

pytestmark = pytest.mark.django_db

# Routes that take POSTs without Django's CSRF token, and what authenticates them instead.
CSRF_EXEMPT = {
    "meta_webhook": "Meta's X-Hub-Signature-256 over the raw body (test_security_webhooks.py)",
    "whatsapp_webhook": "Meta's X-Hub-Signature-256 over the raw body (test_security_webhooks.py)",
}
CSRF_REFUSED = "csrf-refused"


def csrf_refused(request, reason=""):
    """The CSRF failure view for these tests: its marker tells a CSRF refusal from any other 403."""
    return HttpResponseForbidden(f"{CSRF_REFUSED}: {reason}")


@functools.cache
def _discover():
    return iso.discover()


@pytest.fixture
def world(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CSRF_FAILURE_VIEW = f"{__name__}.csrf_refused"
    return populate(*brand_a, marker="Alpha")


def test_the_exemptions_are_real_and_still_exempt():
    from django.urls import resolve, reverse

    for name in CSRF_EXEMPT:
        view = resolve(reverse(name)).func
        assert getattr(view, "csrf_exempt", False), f"{name} is listed as exempt but is not"


def test_every_page_and_api_write_refuses_a_session_request_without_the_csrf_token(world):
    web, api_routes, _ = _discover()
    values = iso._values(world)
    payload = iso._form_payload(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.people["owner"])
    before = iso._state_of(world)
    failures = []
    for name, route in web:
        if name in CSRF_EXEMPT:
            continue
        url = fill_route(route, values)
        response = client.post(url, payload)
        if response.status_code != 403 or CSRF_REFUSED not in response.content.decode(errors="replace"):
            failures.append(f"POST {url} ({name}): {response.status_code}, not refused for CSRF")
    assert not failures, "\n".join(failures)
    # Still signed in: the refusals did not go through the logout either.
    assert client.get("/me/").status_code == 200

    # The API, with the same session (one world for both halves: building it is the cost).
    spec = api.get_openapi_schema()
    failures, checked = [], 0
    for _name, route, methods in api_routes:
        url = fill_route(route, values)
        for method in methods:
            if method == "get":
                continue
            checked += 1
            response = iso._api_request(client, method, url, spec, iso._schema_key(route), world)
            if response.status_code != 403 or b"CSRF" not in response.content:
                failures.append(f"{method.upper()} {url}: {response.status_code} {response.content[:120]!r}")
    assert checked > 50
    assert not failures, "\n".join(failures)
    assert iso._state_of(world) == before, "a request without a CSRF token changed the brand's data"


def test_a_bearer_token_needs_no_csrf_token(brand_a):
    """The documented exception: the API token is the credential (a browser never sends it by
    itself), so a token-authenticated write is not refused for CSRF."""
    from tertulia.core import services
    from tertulia.core.services import Ctx

    brand, people = brand_a
    _token, raw = services.do_create_token(Ctx(people["owner"], via="test"), "csrf-test", {brand.pk: "write"})
    client = Client(enforce_csrf_checks=True)
    response = client.patch(f"/api/v1/brands/{brand.pk}", data={"tone": "friendly"},
                            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200, response.content
    brand.refresh_from_db()
    assert brand.tone == "friendly"
