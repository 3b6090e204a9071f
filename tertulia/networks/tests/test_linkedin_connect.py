"""Connecting a LinkedIn page with OAuth through the web pages, against the loopback fake:
consent, code exchange, the pages the member administers, the page choice, and hostile input
(state mismatch, expiry, refusal, oversized code, other brands, roles, XSS in page names)."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.tests.web_helpers import XSS, assert_escaped
from tertulia.networks.linkedin.connector import API_VERSION
from tertulia.networks.models import SocialAccount
from tests.fakes.linkedin import ORG_ID, OTHER_ORG_ID
from tests.fakes.linkedin_plugin import fake_linkedin  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def linkedin_app(settings, fake_linkedin):
    settings.SITE_URL = "http://testserver"
    settings.PUBLISHING = {**settings.PUBLISHING,
                           "HTTP": {"connect_timeout": 2.0, "read_timeout": 5.0, "write_timeout": 5.0,
                                    "allow_private_networks": True}}
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "linkedin": {"client_id": fake_linkedin.client_id,
                                                                   "client_secret": fake_linkedin.client_secret}}
    settings.NETWORK_ENDPOINTS = {"linkedin": {"auth": fake_linkedin.base_url, "api": fake_linkedin.base_url}}
    return settings


@pytest.fixture
def alpha(brand_a):
    brand, people = brand_a
    client = Client()
    client.force_login(people["owner"])
    return brand, people, client


def start(client, brand):
    return client.post(reverse("linkedin_connect", args=[brand.pk]))


def consent(location: str) -> dict[str, str]:
    answer = httpx.get(location, follow_redirects=False, timeout=5.0)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://testserver" + reverse("linkedin_callback")
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def sign_in(client, brand):
    response = start(client, brand)
    assert response.status_code == 302, response.content[:300]
    return client.get(reverse("linkedin_callback"), consent(response["Location"]))


def test_start_page_offers_the_button(alpha):
    brand, _people, client = alpha
    page = client.get(reverse("linkedin_connect", args=[brand.pk])).content.decode()
    assert "Continue to LinkedIn" in page and "LINKEDIN_CLIENT_ID" not in page


def test_without_an_app_the_page_says_which_variables_to_set(alpha, settings):
    brand, _people, client = alpha
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "linkedin": {"client_id": "", "client_secret": ""}}
    page = client.get(reverse("linkedin_connect", args=[brand.pk])).content.decode()
    assert "LINKEDIN_CLIENT_ID" in page and "LINKEDIN_CLIENT_SECRET" in page and "Continue to LinkedIn" not in page
    assert "http://testserver/networks/linkedin/callback/" in page
    response = start(client, brand)
    assert response.status_code == 200 and "LINKEDIN_CLIENT_ID" in response.content.decode()


def test_consent_url_has_state_scopes_and_callback(alpha, fake_linkedin):
    brand, _people, client = alpha
    location = start(client, brand)["Location"]
    assert location.startswith(fake_linkedin.base_url + "/oauth/v2/authorization?")
    params = parse_qs(urlsplit(location).query)
    assert params["response_type"] == ["code"] and params["client_id"] == [fake_linkedin.client_id]
    assert params["redirect_uri"] == ["http://testserver/networks/linkedin/callback/"]
    assert set(params["scope"][0].split()) == {"r_organization_social", "w_organization_social",
                                               "rw_organization_admin"}
    assert len(params["state"][0]) >= 32 and fake_linkedin.client_secret not in location


def test_two_pages_then_choose_one(alpha, fake_linkedin, caplog):
    brand, _people, client = alpha
    caplog.set_level(logging.DEBUG)
    response = sign_in(client, brand)
    assert response.status_code == 302 and response["Location"] == reverse("linkedin_choose", args=[brand.pk])
    assert SocialAccount.objects.filter(brand=brand).count() == 0
    page = client.get(response["Location"]).content.decode()
    assert "Café Tertulia" in page and "Librería Tertulia" in page
    (token_call,) = fake_linkedin.requests_to("token")
    assert b"grant_type=authorization_code" in token_call.body
    (acls,) = fake_linkedin.requests_to("acls")
    assert acls.query == {"q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"}
    assert acls.headers["linkedin-version"] == API_VERSION
    # No token in the page or the session cookie: it waits encrypted in the server-side session.
    session = client.session["linkedin_choose"]
    issued = [t for t in fake_linkedin.tokens if t != fake_linkedin.token]
    assert issued and all(t not in page and t not in str(session) for t in issued)

    done = client.post(response["Location"], {"organization": str(ORG_ID)}, follow=True)
    assert done.status_code == 200
    account = SocialAccount.objects.get(brand=brand)
    assert account.network == "linkedin" and account.external_id == str(ORG_ID)
    assert account.handle == "cafetertulia" and account.display_name == "Café Tertulia"
    assert account.base_url == fake_linkedin.base_url and account.access_token in issued
    assert account.refresh_token in fake_linkedin.refreshes
    assert account.options["organization_urn"] == f"urn:li:organization:{ORG_ID}"
    assert account.options["refresh_token_expires_at"]
    assert account.token_expires_at is not None
    assert "Connected cafetertulia" in done.content.decode()
    for text in (done.content.decode(), caplog.text):
        assert account.access_token not in text and account.refresh_token not in text
    assert "linkedin_choose" not in client.session
    assert AuditEvent.objects.filter(action="account.connect").exists()
    assert account.access_token not in str(list(AuditEvent.objects.values_list("changes", flat=True)))
    # The choice was used up.
    again = client.post(reverse("linkedin_choose", args=[brand.pk]), {"organization": str(OTHER_ORG_ID)})
    assert "no LinkedIn sign-in waiting" in again.content.decode()
    assert SocialAccount.objects.filter(brand=brand).count() == 1


def test_one_page_is_connected_at_once(alpha, fake_linkedin):
    brand, _people, client = alpha
    fake_linkedin.admin_of = {OTHER_ORG_ID}
    response = sign_in(client, brand)
    assert response.status_code == 302 and response["Location"] == reverse("account_list", args=[brand.pk])
    account = SocialAccount.objects.get(brand=brand)
    assert account.external_id == str(OTHER_ORG_ID) and account.handle == "libreria-tertulia"


def test_no_pages_administered(alpha, fake_linkedin):
    brand, _people, client = alpha
    fake_linkedin.admin_of = set()
    page = sign_in(client, brand).content.decode()
    assert "not an administrator of any LinkedIn page" in page
    assert not SocialAccount.objects.exists()


def test_without_refresh_tokens_nothing_is_invented(alpha, fake_linkedin):
    brand, _people, client = alpha
    fake_linkedin.refresh_tokens = False
    fake_linkedin.admin_of = {ORG_ID}
    sign_in(client, brand)
    account = SocialAccount.objects.get(brand=brand)
    assert account.refresh_token == "" and "refresh_token_expires_at" not in account.options


def test_reconnect_keeps_the_account(alpha, fake_linkedin):
    brand, _people, client = alpha
    fake_linkedin.admin_of = {ORG_ID}
    sign_in(client, brand)
    first = SocialAccount.objects.get(brand=brand)
    SocialAccount.objects.filter(pk=first.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT)
    response = sign_in(client, brand)
    assert response.status_code == 302
    again = SocialAccount.objects.get(brand=brand)
    assert again.pk == first.pk and again.status == SocialAccount.Status.CONNECTED
    assert again.access_token != first.access_token


def test_page_names_are_escaped(alpha, fake_linkedin):
    brand, _people, client = alpha
    fake_linkedin.organizations[OTHER_ORG_ID]["localizedName"] = XSS
    response = sign_in(client, brand)
    assert_escaped(client.get(response["Location"]).content.decode())
    done = client.post(response["Location"], {"organization": str(OTHER_ORG_ID)}, follow=True)
    assert SocialAccount.objects.get(brand=brand).display_name == XSS
    assert "<script>alert" not in done.content.decode()


def test_a_page_that_was_not_offered_is_refused(alpha, fake_linkedin):
    brand, _people, client = alpha
    response = sign_in(client, brand)
    for value in ("999", "x" * 5000, "<script>", f"{ORG_ID}'"):
        page = client.post(response["Location"], {"organization": value})
        assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert "This field is required" in client.post(response["Location"], {}).content.decode()
    assert not SocialAccount.objects.exists()
    assert "linkedin_choose" in client.session  # still waiting for a valid choice


def test_state_mismatch_expiry_refusal_and_oversized_code(alpha, fake_linkedin):
    brand, _people, client = alpha
    query = consent(start(client, brand)["Location"])
    bad = client.get(reverse("linkedin_callback"), {**query, "state": "forged"})
    assert bad.status_code == 403 and "does not match" in bad.content.decode()

    query = consent(start(client, brand)["Location"])
    session = client.session
    session["linkedin_connect"]["expires"] = time.time() - 1
    session.save()
    assert "took too long" in client.get(reverse("linkedin_callback"), query).content.decode()

    fake_linkedin.deny = True
    query = consent(start(client, brand)["Location"])
    assert "error" in query and "code" not in query
    refused = client.get(reverse("linkedin_callback"), query)
    assert refused.status_code == 302 and refused["Location"] == reverse("account_list", args=[brand.pk])
    fake_linkedin.deny = False

    query = consent(start(client, brand)["Location"])
    huge = client.get(reverse("linkedin_callback"), {**query, "code": "A" * 5000})
    assert "did not send a sign-in code" in huge.content.decode()
    assert fake_linkedin.requests_to("token") == []
    assert not SocialAccount.objects.exists()


def test_linkedin_refuses_the_code(alpha, fake_linkedin):
    brand, _people, client = alpha
    query = consent(start(client, brand)["Location"])
    fake_linkedin.codes.clear()  # used or expired on LinkedIn's side
    page = client.get(reverse("linkedin_callback"), query).content.decode()
    assert "refused to connect the account" in page and "authorization code not found" in page
    assert not SocialAccount.objects.exists()


def test_other_brands_and_roles(alpha, brand_b, fake_linkedin):
    brand, people, client = alpha
    other, _ = brand_b
    assert client.get(reverse("linkedin_connect", args=[other.pk])).status_code == 404
    assert client.post(reverse("linkedin_connect", args=[other.pk])).status_code == 404
    assert client.get(reverse("linkedin_choose", args=[other.pk])).status_code == 404
    cm = Client()
    cm.force_login(people["community_manager"])
    assert cm.get(reverse("linkedin_connect", args=[brand.pk])).status_code == 403
    assert cm.post(reverse("linkedin_connect", args=[brand.pk])).status_code == 403
    assert cm.get(reverse("linkedin_choose", args=[brand.pk])).status_code == 403
    # A choice waiting for brand A is not offered on another brand the person manages.
    response = sign_in(client, brand)
    assert response.status_code == 302
    from tertulia.core import services as core
    from tertulia.core.services import Ctx

    mine = core.do_create_brand(Ctx(people["owner"], via="test"), brand.organization, name="Gamma",
                                timezone="Europe/Madrid", language="es")
    page = client.post(reverse("linkedin_choose", args=[mine.pk]), {"organization": str(ORG_ID)})
    assert "no LinkedIn sign-in waiting" in page.content.decode()
    assert not SocialAccount.objects.exists()


def test_anonymous_is_sent_to_sign_in(brand_a):
    brand, _ = brand_a
    response = Client().get(reverse("linkedin_callback"), {"code": "x", "state": "y"})
    assert response.status_code == 302 and "/login" in response["Location"] or "next=" in response["Location"]
    assert Client().get(reverse("linkedin_choose", args=[brand.pk])).status_code == 302
