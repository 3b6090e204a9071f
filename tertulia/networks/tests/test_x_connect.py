"""Connecting an X account with OAuth 2.0 (PKCE) through the web pages, against the loopback
fake: the operator's app from settings, state and PKCE checked, the profile read, the tokens
(with the refresh token) kept encrypted, and hostile input refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.tests.web_helpers import XSS, assert_escaped
from tertulia.networks.models import SocialAccount
from tests.fakes.x_plugin import fake_x, x_http_config  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def x_app(settings, fake_x):
    settings.SITE_URL = "http://testserver"
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"connect_timeout": 2.0, "read_timeout": 5.0,
                                                           "write_timeout": 5.0, "allow_private_networks": True}}
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "x": {"client_id": fake_x.client_id,
                                                            "client_secret": fake_x.client_secret}}
    settings.NETWORK_ENDPOINTS = {"x": {"auth": fake_x.base_url, "api": fake_x.base_url}}
    return settings


@pytest.fixture
def alpha(brand_a):
    brand, people = brand_a
    client = Client()
    client.force_login(people["owner"])
    return brand, people, client


def start(client, brand):
    return client.post(reverse("x_connect", args=[brand.pk]))


def consent(location: str) -> dict[str, str]:
    answer = httpx.get(location, follow_redirects=False, timeout=5.0)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://testserver" + reverse("x_callback")
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def connect(client, brand):
    response = start(client, brand)
    assert response.status_code == 302, response.content[:500]
    return client.get(reverse("x_callback"), consent(response["Location"]))


def test_start_page_and_full_connection(alpha, fake_x):
    brand, _people, client = alpha
    page = client.get(reverse("x_connect", args=[brand.pk])).content.decode()
    assert "Continue to X" in page and "X_CLIENT_ID" not in page

    response = start(client, brand)
    location = response["Location"]
    assert location.startswith(fake_x.base_url + "/i/oauth2/authorize?")
    params = parse_qs(urlsplit(location).query)
    assert params["client_id"] == [fake_x.client_id] and params["response_type"] == ["code"]
    assert params["code_challenge_method"] == ["S256"] and params["state"][0] and params["code_challenge"][0]
    assert params["redirect_uri"] == ["http://testserver/networks/x/callback/"]
    assert set(params["scope"][0].split()) == {"tweet.read", "tweet.write", "users.read", "media.write",
                                               "offline.access", "tweet.moderate.write"}
    assert fake_x.client_secret not in location

    done = client.get(reverse("x_callback"), consent(location), follow=True)
    assert done.status_code == 200
    account = SocialAccount.objects.get(brand=brand)
    assert account.network == "x" and account.handle == "@TweepyDev" and account.display_name == "Tweepy Testing"
    assert account.external_id == fake_x.own["id"] and account.base_url == fake_x.base_url
    assert account.access_token in fake_x.tokens and account.refresh_token in fake_x.refresh_tokens
    assert account.token_expires_at is not None
    token_call = fake_x.requests_to("POST /2/oauth2/token")[0]
    assert token_call.form["grant_type"] == "authorization_code" and token_call.form["code_verifier"]
    assert token_call.headers["authorization"].startswith("Basic ")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM networks_socialaccount WHERE id = %s", [account.pk])
        raw_access, raw_refresh = cursor.fetchone()
    assert account.access_token not in raw_access and account.refresh_token not in raw_refresh
    listing = client.get(reverse("account_list", args=[brand.pk])).content.decode()
    for text in (done.content.decode(), listing, str(AuditEvent.objects.get(action="account.connect").changes)):
        assert account.access_token not in text and account.refresh_token not in text
        assert fake_x.client_secret not in text
    # The pending sign-in is used up.
    assert "not one Tertulia started" in client.get(reverse("x_callback"), {"state": "s", "code": "c"}).content.decode()


def test_connected_account_publishes_through_the_registry(alpha, fake_x):
    from tertulia.networks import registry
    from tertulia.networks.base import PostPayload
    from tertulia.networks.http import HttpConfig

    brand, _people, client = alpha
    connect(client, brand)
    account = SocialAccount.objects.get(brand=brand)
    with registry.connector_for(account, http_config=HttpConfig(allow_private_networks=True)) as connector:
        ref = connector.publish(PostPayload(text="Desde Tertulia"))
    assert ref.url == f"https://x.com/TweepyDev/status/{ref.external_id}"


def test_unconfigured_app_says_which_variables_to_set(alpha, settings, fake_x):
    brand, _people, client = alpha
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "x": {"client_id": "", "client_secret": ""}}
    page = client.get(reverse("x_connect", args=[brand.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "X_CLIENT_ID" in text and "X_CLIENT_SECRET" in text
    assert "http://testserver/networks/x/callback/" in text and "Continue to X" not in text
    assert start(client, brand).status_code == 200  # a POST starts nothing
    assert "x_connect" not in client.session


def test_state_mismatch_expired_and_denied_store_nothing(alpha, fake_x):
    brand, _people, client = alpha
    query = consent(start(client, brand)["Location"])
    forged = client.get(reverse("x_callback"), {**query, "state": "attacker"})
    assert forged.status_code == 403 and "does not match" in forged.content.decode()

    query = consent(start(client, brand)["Location"])
    session = client.session
    session["x_connect"]["expires"] = 0
    session.save()
    late = client.get(reverse("x_callback"), query)
    assert late.status_code == 403 and "expired" in late.content.decode()

    fake_x.consent = "deny"
    query = consent(start(client, brand)["Location"])
    assert query["error"] == "access_denied"
    done = client.get(reverse("x_callback"), query, follow=True)
    assert "access was not granted" in done.content.decode()
    assert not SocialAccount.objects.exists() and not fake_x.requests_to("POST /2/oauth2/token")


def test_oversized_or_refused_code(alpha, fake_x):
    brand, _people, client = alpha
    query = consent(start(client, brand)["Location"])
    big = client.get(reverse("x_callback"), {**query, "code": "c" * 5000})
    assert "did not send a sign-in code" in big.content.decode()

    query = consent(start(client, brand)["Location"])
    refused = client.get(reverse("x_callback"), {**query, "code": "not-the-code"})
    assert refused.status_code == 200 and "did not accept the sign-in code" in refused.content.decode()
    assert not SocialAccount.objects.exists()


def test_wrong_tenant_and_wrong_role(alpha, brand_b, fake_x):
    brand, people, client = alpha
    b_brand, _ = brand_b
    assert client.get(reverse("x_connect", args=[b_brand.pk])).status_code == 404
    assert start(client, b_brand).status_code == 404
    for role in ("community_manager", "analyst", "client_reviewer"):
        other = Client()
        other.force_login(people[role])
        assert other.get(reverse("x_connect", args=[brand.pk])).status_code == 403
        assert start(other, brand).status_code == 403
    assert Client().get(reverse("x_connect", args=[brand.pk])).status_code == 302  # to sign in
    cm = Client()
    cm.force_login(people["community_manager"])
    session = cm.session
    session["x_connect"] = {"state": "s", "code_verifier": "v", "brand_id": brand.pk, "expires": 9e12}
    session.save()
    assert cm.get(reverse("x_callback"), {"state": "s", "code": "c"}).status_code == 403
    assert not SocialAccount.objects.exists()


def test_display_name_is_escaped(alpha, fake_x):
    brand, _people, client = alpha
    fake_x.own["name"] = XSS
    connect(client, brand)
    assert SocialAccount.objects.get(brand=brand).display_name == XSS
    assert_escaped(client.get(reverse("account_list", args=[brand.pk])).content.decode())


def test_reconnect_keeps_the_row(alpha, fake_x):
    brand, _people, client = alpha
    connect(client, brand)
    first = SocialAccount.objects.get(brand=brand)
    connect(client, brand)
    again = SocialAccount.objects.get(brand=brand)
    assert again.pk == first.pk and again.access_token != first.access_token
    assert AuditEvent.objects.filter(action="account.connect").count() == 2
