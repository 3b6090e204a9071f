"""Connecting a Mastodon account with OAuth through the web pages, against the loopback fake:
one app registration per instance, state and PKCE checked, the profile and the instance's
limits read, reconnecting keeps the account, and the token never leaves the database."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped
from tertulia.networks import services as account_services
from tertulia.networks.mastodon import connect as mastodon_connect
from tertulia.networks.mastodon.limits import parse_instance, strictest, text_options
from tertulia.networks.models import OAuthApp, SocialAccount

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.SITE_URL = "http://testserver"
    settings.PUBLISHING = {**settings.PUBLISHING,
                           "HTTP": {"connect_timeout": 2.0, "read_timeout": 5.0, "write_timeout": 5.0,
                                    "allow_private_networks": True}}
    return settings


@pytest.fixture
def alpha(brand_a):
    brand, people = brand_a
    client = Client()
    client.force_login(people["owner"])
    return brand, people, client


def start(client, brand, server):
    return client.post(reverse("mastodon_connect", args=[brand.pk]), {"server": server})


def consent(location: str) -> dict[str, str]:
    """What the person's browser does on the instance: open the consent page, which (the fake
    approves or denies at once) sends it back to our callback with code/state or error."""
    answer = httpx.get(location, follow_redirects=False, timeout=5.0)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://testserver" + reverse("mastodon_callback")
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def connect(client, brand, fake):
    response = start(client, brand, fake.base_url)
    assert response.status_code == 302, response.content[:500]
    query = consent(response["Location"])
    return client.get(reverse("mastodon_callback"), query)


def test_connect_registers_once_and_creates_the_account(alpha, fake_mastodon, caplog):
    brand, people, client = alpha
    fake_mastodon.max_characters = 1000
    caplog.set_level(logging.DEBUG)

    response = start(client, brand, fake_mastodon.base_url)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(fake_mastodon.base_url + "/oauth/authorize?")
    params = parse_qs(urlsplit(location).query)
    assert params["code_challenge_method"] == ["S256"] and params["state"][0]
    assert params["redirect_uri"] == ["http://testserver/networks/mastodon/callback/"]
    assert len(fake_mastodon.requests_to("POST", r"^/api/v1/apps")) == 1
    app = OAuthApp.objects.get()
    assert app.base_url == fake_mastodon.base_url and app.client_id == params["client_id"][0]

    query = consent(location)
    done = client.get(reverse("mastodon_callback"), query, follow=True)
    assert done.status_code == 200
    account = SocialAccount.objects.get(brand=brand)
    own = fake_mastodon.own
    assert account.network == "mastodon"
    assert account.handle == f"@{own['username']}@{fake_mastodon.netloc}"
    assert account.external_id == own["id"]
    assert account.base_url == fake_mastodon.base_url
    assert account.status == SocialAccount.Status.CONNECTED
    assert account.server_limits["max_characters"] == 1000
    assert account.server_limits["characters_reserved_per_url"] == 23
    assert account.server_limits["max_media_attachments"] == 4
    assert "image/png" in account.server_limits["supported_mime_types"]
    assert account.access_token in fake_mastodon.tokens and fake_mastodon.tokens[account.access_token] == own["id"]
    # PKCE: the token request carried the verifier the fake checked against the challenge.
    token_call = fake_mastodon.requests_to("POST", r"^/oauth/token")[-1]
    assert token_call.params()["code_verifier"]

    # The secret: encrypted in the row, absent from pages, the audit log and the logs.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM networks_socialaccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
        cursor.execute("SELECT client_secret FROM networks_oauthapp WHERE id = %s", [app.pk])
        raw_secret = cursor.fetchone()[0]
    assert account.access_token not in raw and raw
    assert app.client_secret not in raw_secret
    page = client.get(reverse("account_list", args=[brand.pk])).content.decode()
    assert account.handle in page and "1000" in page
    for text in (done.content.decode(), page, caplog.text, done.redirect_chain[-1][0]):
        assert account.access_token not in text
        assert app.client_secret not in text
    event = AuditEvent.objects.get(action="account.connect")
    assert account.access_token not in str(event.changes)
    # The pending sign-in was used up: the same link again is refused, nothing changes.
    again = client.get(reverse("mastodon_callback"), query)
    assert "not one Tertulia started" in again.content.decode()
    assert SocialAccount.objects.filter(brand=brand).count() == 1


def test_second_account_on_same_instance_reuses_the_app(alpha, fake_mastodon):
    brand, _people, client = alpha
    assert connect(client, brand, fake_mastodon).status_code == 302
    other = fake_mastodon.add_account("second_cm", display_name="Second")
    fake_mastodon.authorize_as = other["id"]
    # Typed as a bare host:port with a trailing slash: normalised to the same instance.
    response = start(client, brand, fake_mastodon.base_url + "/")
    query = consent(response["Location"])
    client.get(reverse("mastodon_callback"), query)
    assert len(fake_mastodon.requests_to("POST", r"^/api/v1/apps")) == 1
    assert OAuthApp.objects.count() == 1
    handles = set(SocialAccount.objects.filter(brand=brand).values_list("handle", flat=True))
    assert f"@second_cm@{fake_mastodon.netloc}" in handles and len(handles) == 2


def test_reconnect_keeps_account_posts_and_refresh_token(alpha, fake_mastodon):
    from tertulia.content import composer

    brand, people, client = alpha
    ctx = Ctx(people["owner"], via="test")
    handle = f"@{fake_mastodon.own['username']}@{fake_mastodon.netloc}"
    account = account_services.do_add_account(ctx, brand, network="mastodon", handle=handle,
                                              base_url=fake_mastodon.base_url, access_token="old-token",
                                              refresh_token="keep-this-refresh")
    account_services.mark_needs_reconnect(account, "revoked")
    post = composer.do_create_draft(ctx, brand, text="Hola", accounts=[account])

    assert connect(client, brand, fake_mastodon).status_code == 302
    rows = SocialAccount.objects.filter(brand=brand)
    assert rows.count() == 1
    again = rows.get()
    assert again.pk == account.pk
    assert again.status == SocialAccount.Status.CONNECTED and again.status_reason == ""
    assert again.access_token != "old-token" and again.access_token in fake_mastodon.tokens
    assert again.refresh_token == "keep-this-refresh"
    assert again.external_id == fake_mastodon.own["id"]
    assert again.server_limits["max_characters"] == 500
    assert post.targets.get().account_id == account.pk
    event = AuditEvent.objects.filter(action="account.connect").get()
    assert event.changes["credentials"] == ["kept", "replaced"]


def test_state_mismatch_missing_and_expired_store_nothing(alpha, fake_mastodon):
    brand, _people, client = alpha
    response = start(client, brand, fake_mastodon.base_url)
    query = consent(response["Location"])
    forged = client.get(reverse("mastodon_callback"), {**query, "state": "attacker"})
    assert forged.status_code == 403
    assert "does not match" in forged.content.decode()
    # The pending sign-in is gone after one try: the genuine answer cannot be used after it.
    assert "not one Tertulia started" in client.get(reverse("mastodon_callback"), query).content.decode()
    # A callback without any pending sign-in (another browser, a bookmarked link).
    assert Client().get(reverse("mastodon_callback"), query).status_code == 302  # to sign in
    stranger = Client()
    stranger.force_login(_people["manager"])
    assert "not one Tertulia started" in stranger.get(reverse("mastodon_callback"), query).content.decode()
    # Expired.
    response = start(client, brand, fake_mastodon.base_url)
    query = consent(response["Location"])
    session = client.session
    session["mastodon_connect"]["expires"] = 0
    session.save()
    late = client.get(reverse("mastodon_callback"), query)
    assert late.status_code == 403 and "expired" in late.content.decode()
    assert not SocialAccount.objects.filter(brand=brand).exists()
    assert not AuditEvent.objects.filter(action="account.connect").exists()


def test_denial_is_a_plain_message(alpha, fake_mastodon):
    brand, _people, client = alpha
    fake_mastodon.deny_authorization = True
    response = start(client, brand, fake_mastodon.base_url)
    query = consent(response["Location"])
    assert query["error"] == "access_denied"
    done = client.get(reverse("mastodon_callback"), query, follow=True)
    assert done.status_code == 200
    assert done.redirect_chain[-1][0] == reverse("account_list", args=[brand.pk])
    assert "access was not granted" in done.content.decode()
    assert not SocialAccount.objects.filter(brand=brand).exists()
    assert not fake_mastodon.requests_to("POST", r"^/oauth/token")


def test_private_address_refused(alpha, settings):
    brand, _people, client = alpha
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"connect_timeout": 1.0}}  # the production guard
    for server in ("http://10.0.0.5", "127.0.0.1", "http://[::1]:8080", "169.254.169.254"):
        response = start(client, brand, server)
        assert response.status_code == 200, server
        assert "non-public" in response.content.decode() or "private" in response.content.decode().lower()
        assert "mastodon_connect" not in client.session
    assert not OAuthApp.objects.exists()


@pytest.mark.parametrize("server", ["", "x" * 300, "ftp://mastodon.social", "https://user:pw@mastodon.social",
                                    "https://mastodon.social/path?q=1", "mastodon .social", "<script>", "@@@"])
def test_malformed_server_is_a_form_error(alpha, server):
    brand, _people, client = alpha
    response = start(client, brand, server)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert not OAuthApp.objects.exists()


def test_clean_server_normalises():
    assert mastodon_connect.clean_server("Mastodon.Social") == "https://mastodon.social"
    assert mastodon_connect.clean_server("https://mastodon.social/") == "https://mastodon.social"
    assert mastodon_connect.clean_server("@me@mas.to") == "https://mas.to"
    assert mastodon_connect.clean_server("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_wrong_tenant_and_wrong_role(alpha, brand_b, fake_mastodon):
    brand, people, client = alpha
    b_brand, _ = brand_b
    assert client.get(reverse("mastodon_connect", args=[b_brand.pk])).status_code == 404
    assert start(client, b_brand, fake_mastodon.base_url).status_code == 404
    for role in ("community_manager", "analyst", "client_reviewer"):
        other = Client()
        other.force_login(people[role])
        assert other.get(reverse("mastodon_connect", args=[brand.pk])).status_code == 403
        assert start(other, brand, fake_mastodon.base_url).status_code == 403
        page = other.get(reverse("account_list", args=[brand.pk])).content.decode()
        assert reverse("mastodon_connect", args=[brand.pk]) not in page
    assert not fake_mastodon.requests_to("POST", r"^/api/v1/apps")
    # A session whose pending sign-in names a brand the user cannot manage: 403, nothing stored.
    cm = Client()
    cm.force_login(people["community_manager"])
    session = cm.session
    session["mastodon_connect"] = {"state": "s", "code_verifier": "v", "brand_id": brand.pk,
                                   "base_url": fake_mastodon.base_url, "expires": 9e12}
    session.save()
    assert cm.get(reverse("mastodon_callback"), {"state": "s", "code": "c"}).status_code == 403
    assert not SocialAccount.objects.exists()


def test_display_name_is_escaped(alpha, fake_mastodon):
    brand, _people, client = alpha
    evil = fake_mastodon.add_account("evil", display_name=XSS)
    fake_mastodon.authorize_as = evil["id"]
    connect(client, brand, fake_mastodon)
    assert SocialAccount.objects.get(brand=brand).display_name == XSS
    assert_escaped(client.get(reverse("account_list", args=[brand.pk])).content.decode())


def test_refresh_server_limits(alpha, brand_b, fake_mastodon):
    brand, people, client = alpha
    connect(client, brand, fake_mastodon)
    account = SocialAccount.objects.get(brand=brand)
    fake_mastodon.max_characters = 5000
    url = reverse("account_refresh_limits", args=[brand.pk, account.pk])
    assert client.get(url).status_code == 405
    cm = Client()
    cm.force_login(people["community_manager"])
    assert cm.post(url).status_code == 403
    b_brand, _ = brand_b
    assert client.post(reverse("account_refresh_limits", args=[b_brand.pk, account.pk])).status_code == 404
    account.refresh_from_db()
    assert account.server_limits["max_characters"] == 500
    response = client.post(url, follow=True)
    assert "5000" in response.content.decode()
    account.refresh_from_db()
    assert account.server_limits["max_characters"] == 5000
    assert AuditEvent.objects.filter(action="account.server_limits", brand=brand).exists()


def test_refresh_limits_falls_back_to_v1_instance(alpha, fake_mastodon):
    brand, people, client = alpha
    fake_mastodon.v2_instance = False
    fake_mastodon.max_characters = 777
    connect(client, brand, fake_mastodon)
    assert SocialAccount.objects.get(brand=brand).server_limits["max_characters"] == 777


def test_parse_instance_ignores_absurd_values():
    doc = {"configuration": {"statuses": {"max_characters": "-5", "characters_reserved_per_url": True,
                                          "max_media_attachments": 10**9},
                             "media_attachments": {"image_matrix_limit": 16777216, "supported_mime_types": [1, "x"]}}}
    assert parse_instance(doc) == {"image_matrix_limit": 16777216, "supported_mime_types": []}
    assert parse_instance({"max_toot_chars": 5000}) == {"max_characters": 5000}
    assert parse_instance("nope") == {}

    class A:
        network = "mastodon"

        def __init__(self, handle, limits):
            self.handle, self.server_limits = handle, limits

    assert text_options(A("a", {"max_characters": "oops"})) == {"limit": 500, "url_length": 23}
    big, small = A("big", {"max_characters": 1000}), A("small", {"max_characters": 400})
    options, account, differ = strictest([big, small])
    assert options["limit"] == 400 and account is small and differ
    assert strictest([big])[2] is False


def test_same_handle_of_another_person_is_not_overwritten(alpha, fake_mastodon):
    """A row with this handle but another network id (a different person, e.g. a re-used
    username): its token and history are not handed over; nothing changes."""
    brand, people, client = alpha
    ctx = Ctx(people["owner"], via="test")
    handle = f"@{fake_mastodon.own['username']}@{fake_mastodon.netloc}"
    account = account_services.do_add_account(ctx, brand, network="mastodon", handle=handle,
                                              base_url=fake_mastodon.base_url, external_id="999",
                                              access_token="theirs")
    done = connect(client, brand, fake_mastodon)
    assert done.status_code == 200 and "another account" in done.content.decode()
    account.refresh_from_db()
    assert account.access_token == "theirs" and account.external_id == "999"
    assert not AuditEvent.objects.filter(action="account.connect").exists()
