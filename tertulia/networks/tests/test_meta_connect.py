"""The Meta sign-in through the web pages, against the fake Graph API: the Login dialog URL,
code -> short -> long-lived user token -> Pages with their tokens and Instagram accounts,
the choice page, reconnecting in place, and hostile input at every step. Tokens never reach
a page, and wait in the (server-side) session only encrypted."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html
from tertulia.networks.meta import connect
from tertulia.networks.models import SocialAccount
from tests.fakes.facebook import IG_USER_ID, OTHER_PAGE_ID, PAGE_ID
from tests.fakes.facebook_plugin import fake_graph  # noqa: F401

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/networks/meta/callback/"


@pytest.fixture(autouse=True)
def meta_app(settings, fake_graph):
    settings.SITE_URL = "http://testserver"
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"connect_timeout": 2.0, "read_timeout": 5.0,
                                                           "write_timeout": 5.0, "allow_private_networks": True}}
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "meta": {
        "client_id": fake_graph.app_id, "client_secret": fake_graph.app_secret, "webhook_verify_token": "vt"}}
    settings.NETWORK_ENDPOINTS = {"facebook": {"auth": "https://www.facebook.com", "api": fake_graph.base_url}}
    return settings


@pytest.fixture
def alpha(brand_a):
    brand, people = brand_a
    client = Client()
    client.force_login(people["owner"])
    return brand, people, client


def start(client, brand):
    response = client.post(reverse("meta_connect", args=[brand.pk]))
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def signed_in(client, brand, fake, **extra):
    """Start, approve on the (simulated) dialog, come back to the callback."""
    location = start(client, brand)
    state = parse_qs(urlsplit(location).query)["state"][0]
    query = {"code": fake.authorize(CALLBACK), "state": state, **extra}
    return client.get(reverse("meta_callback"), query)


def test_the_login_dialog_asks_for_pages_and_instagram(alpha):
    brand, _people, client = alpha
    location = start(client, brand)
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://www.facebook.com/v26.0/dialog/oauth"
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert params["redirect_uri"] == CALLBACK and params["response_type"] == "code" and len(params["state"]) > 30
    assert params["scope"].split(",") == list(connect.SCOPES)
    for scope in ("pages_manage_posts", "pages_read_engagement", "instagram_content_publish", "read_insights"):
        assert scope in params["scope"]
    assert "client_secret" not in location


def test_without_an_app_the_page_names_the_variables_and_offers_no_button(alpha, settings):
    brand, _people, client = alpha
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "meta": {"client_id": "", "client_secret": ""}}
    page = html(client.get(reverse("meta_connect", args=[brand.pk])))
    assert "META_APP_ID" in page and "META_APP_SECRET" in page and CALLBACK in page
    assert "Continue to Facebook" not in page
    response = client.post(reverse("meta_connect", args=[brand.pk]))
    assert response.status_code == 200 and client.session.get("meta_connect") is None


def test_sign_in_then_choose_connects_the_page_and_its_instagram(alpha, fake_graph):
    brand, _people, client = alpha
    response = signed_in(client, brand, fake_graph)
    assert response.status_code == 302 and response["Location"] == reverse("meta_choose", args=[brand.pk])
    # The exchange: code -> short-lived -> long-lived user token, then /me/accounts with it.
    exchanges = fake_graph.requests_to("GET /oauth/access_token")
    assert [r.params.get("grant_type") for r in exchanges] == [None, "fb_exchange_token"]
    (accounts,) = fake_graph.requests_to("GET /me/accounts")
    assert accounts.token in fake_graph.long_tokens
    assert "instagram_business_account{" in accounts.params["fields"]
    # Waiting in the session: encrypted, never in the page.
    stored = client.session["meta_choices"]
    assert all(fake_graph.page_token not in str(row) for row in stored["pages"])
    raw = "".join(Session.objects.values_list("session_data", flat=True))
    assert fake_graph.page_token not in raw
    page = html(client.get(reverse("meta_choose", args=[brand.pk])))
    assert f"facebook:{PAGE_ID}" in page and f"instagram:{IG_USER_ID}" in page and "@cafetertulia" in page
    assert fake_graph.page_token not in page and fake_graph.other_page_token not in page

    response = client.post(reverse("meta_choose", args=[brand.pk]),
                           {"pick": [f"facebook:{PAGE_ID}", f"instagram:{IG_USER_ID}"]})
    assert response.status_code == 302 and response["Location"] == reverse("account_list", args=[brand.pk])
    fb = SocialAccount.objects.get(brand=brand, network="facebook")
    ig = SocialAccount.objects.get(brand=brand, network="instagram")
    assert (fb.external_id, fb.handle, fb.display_name) == (PAGE_ID, "facebookapp", "Facebook")
    assert fb.access_token == fake_graph.page_token and fb.token_expires_at is None
    assert fb.base_url == fake_graph.base_url
    assert (ig.external_id, ig.handle) == (IG_USER_ID, "@cafetertulia")
    # The Page it publishes through, and the ids Meta's sign-in vouched for (what webhooks trust).
    assert ig.options == {"page_id": PAGE_ID, "signed_in_id": IG_USER_ID}
    assert fb.options == {"signed_in_id": PAGE_ID}
    assert ig.access_token == fake_graph.page_token
    assert not SocialAccount.objects.filter(external_id=OTHER_PAGE_ID).exists()  # not ticked
    # The chosen Page is subscribed to the app's webhooks with its own token; the other is not.
    (subscribe,) = fake_graph.requests_to("POST /:id/subscribed_apps")
    assert subscribe.token == fake_graph.page_token and subscribe.path == f"{PAGE_ID}/subscribed_apps"
    assert fake_graph.pages[PAGE_ID]["subscribed_fields"] == ["feed"]
    assert "subscribed_fields" not in fake_graph.pages[OTHER_PAGE_ID]
    assert "meta_choices" not in client.session
    assert AuditEvent.objects.filter(action="account.connect").count() == 2
    assert AuditEvent.objects.filter(action="account.options").count() == 1
    for event in AuditEvent.objects.all():
        assert fake_graph.page_token not in str(event.changes)


def test_signing_in_again_reconnects_the_same_rows(alpha, fake_graph):
    brand, _people, client = alpha
    signed_in(client, brand, fake_graph)
    client.post(reverse("meta_choose", args=[brand.pk]), {"pick": [f"facebook:{PAGE_ID}"]})
    fb = SocialAccount.objects.get(brand=brand, network="facebook")
    SocialAccount.objects.filter(pk=fb.pk).update(status="needs_reconnect", handle="old-name")
    fake_graph.pages[PAGE_ID]["token"] = "EAANewPageToken"
    signed_in(client, brand, fake_graph)
    page = html(client.get(reverse("meta_choose", args=[brand.pk])))
    assert "already connected" in page
    client.post(reverse("meta_choose", args=[brand.pk]), {"pick": [f"facebook:{PAGE_ID}"]})
    (again,) = SocialAccount.objects.filter(brand=brand, network="facebook")
    assert again.pk == fb.pk and again.status == "connected" and again.access_token == "EAANewPageToken"


def test_a_page_name_with_markup_is_escaped(alpha, fake_graph):
    brand, _people, client = alpha
    fake_graph.pages[OTHER_PAGE_ID]["name"] = XSS
    signed_in(client, brand, fake_graph)
    assert_escaped(html(client.get(reverse("meta_choose", args=[brand.pk]))))


@pytest.mark.parametrize("picks", [["facebook:999999"], [f"instagram:{PAGE_ID}"], ["x:1"], [f"facebook:{PAGE_ID}"] * 500,
                                   []])
def test_a_choice_that_was_not_offered_connects_nothing(alpha, fake_graph, picks):
    brand, _people, client = alpha
    signed_in(client, brand, fake_graph)
    response = client.post(reverse("meta_choose", args=[brand.pk]), {"pick": picks})
    assert response.status_code == 400
    assert not SocialAccount.objects.filter(brand=brand).exists()


def test_state_mismatch_expired_and_refusals(alpha, fake_graph):
    brand, _people, client = alpha
    response = signed_in(client, brand, fake_graph, state="forged")
    assert response.status_code == 403
    # Expired.
    location = start(client, brand)
    session = client.session
    session["meta_connect"]["expires"] = time.time() - 1
    session.save()
    state = parse_qs(urlsplit(location).query)["state"][0]
    response = client.get(reverse("meta_callback"), {"code": fake_graph.authorize(CALLBACK), "state": state})
    assert response.status_code == 403 and b"expired" in response.content
    # The person said no.
    state = parse_qs(urlsplit(start(client, brand)).query)["state"][0]
    response = client.get(reverse("meta_callback"), {"error": "access_denied", "state": state})
    assert response.status_code == 302 and response["Location"] == reverse("account_list", args=[brand.pk])
    # An oversized code.
    state = parse_qs(urlsplit(start(client, brand)).query)["state"][0]
    response = client.get(reverse("meta_callback"), {"code": "A" * 5000, "state": state})
    assert response.status_code == 403
    # Meta refuses the code (already used / made up).
    state = parse_qs(urlsplit(start(client, brand)).query)["state"][0]
    response = client.get(reverse("meta_callback"), {"code": "AQmadeup", "state": state})
    assert response.status_code == 200 and b"authorization code has been used" in response.content
    assert not SocialAccount.objects.exists() and "meta_choices" not in client.session
    assert fake_graph.requests_to("GET /me/accounts") == []


def test_no_pages_says_what_to_do(alpha, fake_graph):
    brand, _people, client = alpha
    fake_graph.pages.clear()
    response = signed_in(client, brand, fake_graph)
    assert response.status_code == 200 and b"no Page to manage" in response.content


def test_other_brand_is_404_and_a_role_without_manage_accounts_is_403(alpha, brand_b, fake_graph):
    brand, people, client = alpha
    other, _ = brand_b
    for name in ("meta_connect", "meta_choose"):
        assert client.get(reverse(name, args=[other.pk])).status_code == 404
        assert client.post(reverse(name, args=[other.pk])).status_code == 404
    # The list waiting for brand A cannot be used from brand B's page.
    signed_in(client, brand, fake_graph)
    cm = Client()
    cm.force_login(people["community_manager"])
    for name in ("meta_connect", "meta_choose"):
        assert cm.get(reverse(name, args=[brand.pk])).status_code == 403
        assert cm.post(reverse(name, args=[brand.pk]), {"pick": [f"facebook:{PAGE_ID}"]}).status_code == 403
    assert not SocialAccount.objects.exists()


def test_choose_without_a_sign_in_goes_back_to_the_start(alpha):
    brand, _people, client = alpha
    response = client.get(reverse("meta_choose", args=[brand.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("meta_connect", args=[brand.pk])


def test_pages_list_is_read_across_graph_pages(alpha, fake_graph):
    brand, _people, client = alpha
    fake_graph.accounts_page_size = 1
    signed_in(client, brand, fake_graph)
    assert len(fake_graph.requests_to("GET /me/accounts")) == 2
    page = html(client.get(reverse("meta_choose", args=[brand.pk])))
    assert f"facebook:{PAGE_ID}" in page and f"facebook:{OTHER_PAGE_ID}" in page


def test_no_secret_reaches_the_log(alpha, fake_graph, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    brand, _people, client = alpha
    signed_in(client, brand, fake_graph)
    client.post(reverse("meta_choose", args=[brand.pk]), {"pick": [f"facebook:{PAGE_ID}"]})
    logged = caplog.text
    assert "fb_exchange_token=<redacted>" in logged
    for secret in (fake_graph.app_secret, fake_graph.page_token, *fake_graph.short_tokens, *fake_graph.long_tokens):
        assert secret not in logged


def test_an_expired_list_is_dropped_from_the_session(alpha, fake_graph):
    brand, _people, client = alpha
    signed_in(client, brand, fake_graph)
    session = client.session
    session["meta_choices"]["expires"] = time.time() - 1
    session.save()
    response = client.post(reverse("meta_choose", args=[brand.pk]), {"pick": [f"facebook:{PAGE_ID}"]})
    assert response.status_code == 302 and response["Location"] == reverse("meta_connect", args=[brand.pk])
    assert "meta_choices" not in client.session and not SocialAccount.objects.exists()


def test_a_page_meta_will_not_subscribe_is_connected_with_a_warning(alpha, fake_graph):
    from tests.fakes.facebook import Fault

    brand, _people, client = alpha
    signed_in(client, brand, fake_graph)
    fake_graph.inject("POST /:id/subscribed_apps", Fault.graph_error(
        200, "(#200) Requires pages_manage_metadata permission", status=403))
    response = client.post(reverse("meta_choose", args=[brand.pk]), {"pick": [f"facebook:{PAGE_ID}"]}, follow=True)
    assert SocialAccount.objects.filter(brand=brand, network="facebook").exists()
    assert "check for new comments regularly" in html(response)


def test_without_webhooks_no_page_is_subscribed(alpha, fake_graph, settings):
    brand, _people, client = alpha
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "meta": {**settings.NETWORK_APPS["meta"],
                                                                 "webhook_verify_token": ""}}
    signed_in(client, brand, fake_graph)
    client.post(reverse("meta_choose", args=[brand.pk]), {"pick": [f"facebook:{PAGE_ID}"]})
    assert SocialAccount.objects.filter(brand=brand, network="facebook").exists()
    assert fake_graph.requests_to("POST /:id/subscribed_apps") == []
