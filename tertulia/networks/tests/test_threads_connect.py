"""Connecting a Threads account through the web pages, against the loopback fake: the consent
page with state, code -> short token -> long-lived token -> profile, reconnecting keeps the
account, and every hostile answer stores nothing."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.tests.web_helpers import XSS, assert_escaped
from tertulia.networks.models import SocialAccount
from tertulia.networks.threads import connect as threads_connect
from tests.fakes.threads_plugin import fake_threads  # noqa: F401

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/networks/threads/callback/"


@pytest.fixture(autouse=True)
def threads_app(settings, fake_threads):
    settings.SITE_URL = "http://testserver"
    settings.PUBLISHING = {**settings.PUBLISHING,
                           "HTTP": {"connect_timeout": 2.0, "read_timeout": 5.0, "write_timeout": 5.0,
                                    "allow_private_networks": True}}
    settings.NETWORK_APPS = {**settings.NETWORK_APPS,
                             "threads": {"client_id": fake_threads.client_id,
                                         "client_secret": fake_threads.client_secret}}
    settings.NETWORK_ENDPOINTS = {**settings.NETWORK_ENDPOINTS,
                                  "threads": {"auth": fake_threads.base_url, "api": fake_threads.base_url}}
    return settings


@pytest.fixture
def alpha(brand_a):
    brand, people = brand_a
    client = Client()
    client.force_login(people["owner"])
    return brand, people, client


def start(client, brand):
    return client.post(reverse("threads_connect", args=[brand.pk]))


def consent(location: str) -> dict[str, str]:
    """The person's browser on the consent page (the fake approves or denies at once)."""
    answer = httpx.get(location, follow_redirects=False, timeout=5.0)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    assert back.fragment == "_"  # Meta appends "#_"; browsers never send it to us
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def connect(client, brand):
    response = start(client, brand)
    assert response.status_code == 302, response.content[:500]
    return client.get(reverse("threads_callback"), consent(response["Location"]))


def test_connect_creates_the_account_with_a_long_lived_token(alpha, fake_threads, caplog):
    brand, _people, client = alpha
    caplog.set_level(logging.DEBUG)
    page = client.get(reverse("threads_connect", args=[brand.pk])).content.decode()
    assert "Continue to Threads" in page
    response = start(client, brand)
    location = response["Location"]
    assert location.startswith(fake_threads.base_url + "/oauth/authorize?")
    params = parse_qs(urlsplit(location).query)
    assert params["client_id"] == [fake_threads.client_id] and params["response_type"] == ["code"]
    assert params["redirect_uri"] == [CALLBACK] and params["state"][0]
    scopes = params["scope"][0].split(",")
    assert {"threads_basic", "threads_content_publish", "threads_manage_replies", "threads_read_replies",
            "threads_manage_insights", "threads_delete"} <= set(scopes)
    assert fake_threads.client_secret not in location

    query = consent(location)
    caplog.clear()  # from here on, only what Tertulia itself logs
    done = client.get(reverse("threads_callback"), query)
    assert done.status_code == 302 and done["Location"] == reverse("account_list", args=[brand.pk])
    account = SocialAccount.objects.get(brand=brand)
    assert account.network == "threads" and account.handle == "@cafetertulia"
    assert account.external_id == fake_threads.user_id and account.display_name == "Café Tertulia"
    assert account.base_url == fake_threads.base_url
    info = fake_threads.tokens[account.access_token]
    assert info["kind"] == "long"  # the short-lived token was exchanged, never stored
    assert account.refresh_token == account.access_token  # the long-lived token renews itself
    assert account.token_expires_at is not None
    # The code went by POST with the app secret; the exchange by GET, as documented.
    (exchange,) = fake_threads.requests_to(r"^POST /oauth/access_token$")
    assert exchange.params["redirect_uri"] == CALLBACK and exchange.params["grant_type"] == "authorization_code"
    (long_lived,) = fake_threads.requests_to(r"^GET /access_token$")
    assert long_lived.params["grant_type"] == "th_exchange_token"
    event = AuditEvent.objects.get(action="account.connect")
    assert event.changes["credentials"] == ["none", "connected"]
    # Neither the tokens nor the app secret reach a log line or the audit log.
    text = caplog.text + str(event.changes)
    for secret in (account.access_token, fake_threads.client_secret, exchange.params["code"]):
        assert secret not in text


def test_reconnect_keeps_the_account_and_its_history(alpha, fake_threads):
    brand, _people, client = alpha
    connect(client, brand)
    first = SocialAccount.objects.get(brand=brand)
    old_token = first.access_token
    done = connect(client, brand)
    assert done.status_code == 302
    again = SocialAccount.objects.get(brand=brand)
    assert again.pk == first.pk and again.access_token != old_token
    assert AuditEvent.objects.filter(action="account.connect").count() == 2


def test_state_mismatch_replay_and_expiry_store_nothing(alpha, fake_threads):
    brand, _people, client = alpha
    query = consent(start(client, brand)["Location"])
    forged = client.get(reverse("threads_callback"), {**query, "state": "attacker"})
    assert forged.status_code == 403 and "does not match" in forged.content.decode()
    # Used up: the genuine answer cannot be replayed after that.
    assert "not one Tertulia started" in client.get(reverse("threads_callback"), query).content.decode()
    query = consent(start(client, brand)["Location"])
    session = client.session
    session["threads_connect"]["expires"] = 0
    session.save()
    late = client.get(reverse("threads_callback"), query)
    assert late.status_code == 403 and "expired" in late.content.decode()
    assert not SocialAccount.objects.exists()
    assert not fake_threads.requests_to(r"^POST /oauth/access_token$")


def test_denied_access_is_a_plain_message(alpha, fake_threads):
    brand, _people, client = alpha
    fake_threads.deny = True
    query = consent(start(client, brand)["Location"])
    assert query["error"] == "access_denied"
    done = client.get(reverse("threads_callback"), query, follow=True)
    assert done.redirect_chain[-1][0] == reverse("account_list", args=[brand.pk])
    assert "access was not granted" in done.content.decode()
    assert not SocialAccount.objects.exists()


def test_oversized_and_refused_codes(alpha, fake_threads):
    brand, _people, client = alpha
    query = consent(start(client, brand)["Location"])
    huge = client.get(reverse("threads_callback"), {**query, "code": "A" * 5000})
    assert huge.status_code == 403 and "did not send a sign-in code" in huge.content.decode()
    assert not fake_threads.requests_to(r"^POST /oauth/access_token$")
    # Threads refuses a code it never issued: the page says why, nothing is kept.
    query = consent(start(client, brand)["Location"])
    refused = client.get(reverse("threads_callback"), {**query, "code": "AQ-forged"})
    assert refused.status_code == 200
    body = refused.content.decode()
    assert "refused to connect" in body and "Invalid verification code format" in body
    assert not SocialAccount.objects.exists()


def test_unconfigured_server_says_what_to_set(alpha, settings, fake_threads):
    brand, _people, client = alpha
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "threads": {"client_id": "", "client_secret": ""}}
    page = client.get(reverse("threads_connect", args=[brand.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and "THREADS_APP_ID" in body and "THREADS_APP_SECRET" in body
    assert CALLBACK in body and "Continue to Threads" not in body
    posted = start(client, brand)
    assert posted.status_code == 200 and "threads_connect" not in client.session
    assert not fake_threads.requests


def test_wrong_tenant_and_wrong_role(alpha, brand_b, fake_threads):
    brand, people, client = alpha
    b_brand, _ = brand_b
    assert client.get(reverse("threads_connect", args=[b_brand.pk])).status_code == 404
    assert start(client, b_brand).status_code == 404
    for role in ("community_manager", "analyst", "client_reviewer"):
        other = Client()
        other.force_login(people[role])
        assert other.get(reverse("threads_connect", args=[brand.pk])).status_code == 403
        assert start(other, brand).status_code == 403
    # A pending sign-in for a brand the person cannot manage: 403, no exchange, nothing stored.
    cm = Client()
    cm.force_login(people["community_manager"])
    session = cm.session
    session["threads_connect"] = {"state": "s", "code_verifier": "", "brand_id": brand.pk, "expires": 9e12}
    session.save()
    assert cm.get(reverse("threads_callback"), {"state": "s", "code": "c"}).status_code == 403
    assert not SocialAccount.objects.exists()
    assert not fake_threads.requests_to(r"oauth/access_token")


def test_profile_name_is_escaped(alpha, fake_threads):
    brand, _people, client = alpha
    fake_threads.user["name"] = XSS
    fake_threads.user["threads_biography"] = XSS
    connect(client, brand)
    assert SocialAccount.objects.get(brand=brand).display_name == XSS
    assert_escaped(client.get(reverse("account_list", args=[brand.pk])).content.decode())


def test_authorization_url_never_carries_the_secret(settings, fake_threads):
    auth = threads_connect.authorization_request(CALLBACK)
    assert fake_threads.client_secret not in auth.url and auth.state in auth.url
    assert auth.code_verifier == ""  # Threads documents no PKCE
