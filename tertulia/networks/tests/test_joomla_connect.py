"""Connecting a Joomla site from the accounts page: the address, token and category are
checked against the site before anything is stored; hostile and wrong input is refused with
words; the SSRF guard refuses private addresses in production settings; only people who may
manage accounts, and only for their own brands."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.tests.web_helpers import XSS, assert_escaped
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import clean_options

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """The fake is on 127.0.0.1: allowed explicitly here, refused in the production test."""
    settings.PUBLISHING = {**settings.PUBLISHING,
                           "HTTP": {"connect_timeout": 2.0, "read_timeout": 2.0, "allow_private_networks": True}}
    settings.LANGUAGE_CODE = "en"


def _client(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def _post(client, brand, **data):
    fields = {"site": "", "token": "", "category": "", "state": "published"}
    fields.update(data)
    return client.post(reverse("joomla_connect", args=[brand.pk]), fields)


def test_the_accounts_page_offers_joomla_to_those_who_may_connect(brand_a):
    brand, people = brand_a
    url = reverse("joomla_connect", args=[brand.pk])
    page = _client(people["owner"]).get(reverse("account_list", args=[brand.pk])).content.decode()
    assert f'href="{url}"' in page
    assert _client(people["owner"]).get(url).status_code == 200
    cm = _client(people["community_manager"])
    assert url not in cm.get(reverse("account_list", args=[brand.pk])).content.decode()
    assert cm.get(url).status_code == 403 and _post(cm, brand).status_code == 403


def test_connect_checks_the_site_and_stores_the_token_encrypted(brand_a, fake_joomla):
    brand, people = brand_a
    response = _post(_client(people["owner"]), brand, site=fake_joomla.base_url + "/administrator/",
                     token=fake_joomla.token, category="blog", state="unpublished", featured="on")
    assert response.status_code == 302, response.content.decode()[:2000]
    account = SocialAccount.objects.get(brand=brand, network="joomla")
    assert account.base_url == fake_joomla.base_url and account.handle == fake_joomla.base_url.split("://")[1]
    assert account.display_name == "Café & Tertulia <Joomla>"
    assert account.external_id == str(fake_joomla.user["id"])
    assert account.options == {"category": "blog", "state": "unpublished", "featured": True}
    assert account.access_token == fake_joomla.token
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM networks_socialaccount WHERE id = %s", [account.pk])
        assert fake_joomla.token not in cursor.fetchone()[0]  # encrypted at rest
    event = AuditEvent.objects.get(action="account.connect", object_id=str(account.pk))
    assert fake_joomla.token not in str(event.changes)
    # The list shows the site name escaped.
    page = _client(people["owner"]).get(reverse("account_list", args=[brand.pk])).content.decode()
    assert "Café &amp; Tertulia &lt;Joomla&gt;" in page
    assert "Category: blog; articles arrive unpublished; marked as featured" in page

    # Connecting the same site again reconnects the same row with the new token.
    new_token = fake_joomla.issue_token(fake_joomla.user["id"])
    response = _post(_client(people["owner"]), brand, site=fake_joomla.base_url, token=new_token)
    assert response.status_code == 302
    account.refresh_from_db()
    assert SocialAccount.objects.filter(brand=brand, network="joomla").count() == 1
    assert account.access_token == new_token and account.options["state"] == "published"


def test_a_refused_token_stores_nothing(brand_a, fake_joomla):
    brand, people = brand_a
    stale = fake_joomla.issue_token(fake_joomla.user["id"])
    fake_joomla.expire_token(stale)
    response = _post(_client(people["owner"]), brand, site=fake_joomla.base_url, token=stale)
    assert response.status_code == 200
    assert "The site did not accept this token" in response.content.decode()
    assert stale not in response.content.decode()
    assert not SocialAccount.objects.filter(brand=brand).exists()


def test_an_unknown_category_is_named_escaped_and_nothing_stored(brand_a, fake_joomla):
    brand, people = brand_a
    response = _post(_client(people["owner"]), brand, site=fake_joomla.base_url, token=fake_joomla.token,
                     category=XSS)
    assert response.status_code == 200
    assert_escaped(response.content.decode())
    assert "does not exist on the Joomla site" in response.content.decode()
    assert not SocialAccount.objects.filter(brand=brand).exists()


@pytest.mark.parametrize("site", ["not a url", "javascript:alert(1)", "ftp://files.example", "https://",
                                  "https://" + "a" * 250 + ".example"])
def test_malformed_and_oversized_addresses_are_refused(brand_a, site):
    brand, people = brand_a
    response = _post(_client(people["owner"]), brand, site=site, token="c2hhMjU2OjQyOmFiY2RlZjAxMjM0NTY3ODk=")
    assert response.status_code == 200 and response.context["form"].errors
    assert not SocialAccount.objects.filter(brand=brand).exists()


@pytest.mark.parametrize("token", ["short", "has spaces but <script>", "x" * 1001, "a$b%c^d&e*f(g)h" * 2])
def test_malformed_tokens_are_refused_without_a_request(brand_a, fake_joomla, token):
    brand, people = brand_a
    response = _post(_client(people["owner"]), brand, site=fake_joomla.base_url, token=token)
    assert response.status_code == 200 and "token" in response.context["form"].errors
    assert fake_joomla.requests == []
    assert "<script>" not in response.content.decode()


def test_private_addresses_are_refused_in_production_settings(brand_a, settings):
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"connect_timeout": 1.0, "read_timeout": 1.0,
                                                           "allow_private_networks": False}}
    brand, people = brand_a
    client = _client(people["owner"])
    token = "c2hhMjU2OjQyOmFiY2RlZjAxMjM0NTY3ODk="
    response = _post(client, brand, site="http://joomla.example", token=token)
    assert "starting with https://" in response.content.decode()
    for site in ("https://127.0.0.1:9", "https://10.0.0.7", "https://[::1]"):
        response = _post(client, brand, site=site, token=token)
        assert response.status_code == 200
        assert "points to a private network" in response.content.decode(), site
    assert not SocialAccount.objects.filter(brand=brand).exists()


def test_another_brands_connect_page_is_a_404(brand_a, brand_b, fake_joomla):
    _brand, people = brand_a
    other, _ = brand_b
    client = _client(people["owner"])
    assert client.get(reverse("joomla_connect", args=[other.pk])).status_code == 404
    response = _post(client, other, site=fake_joomla.base_url, token=fake_joomla.token)
    assert response.status_code == 404
    assert not SocialAccount.objects.filter(brand=other).exists() and fake_joomla.requests == []


@pytest.mark.parametrize(("options", "expected"), [
    ({"category": "  Noticias   y eventos ", "state": "unpublished", "featured": True},
     {"category": "Noticias y eventos", "state": "unpublished", "featured": True}),
    ({"category": 12}, {"category": "12", "state": "published", "featured": False}),
    ({}, {}),
])
def test_joomla_options_are_cleaned(options, expected):
    assert clean_options("joomla", options) == expected


@pytest.mark.parametrize("options", [
    {"post_status": "draft"}, {"state": "draft"}, {"featured": "yes"}, {"category": "x" * 101},
    {"category": ["a"]}, {"category": True},
])
def test_bad_joomla_options_are_refused(options):
    with pytest.raises(ValidationError):
        clean_options("joomla", options)


def test_the_account_form_edits_the_joomla_options(brand_a, fake_joomla):
    brand, people = brand_a
    client = _client(people["owner"])
    assert _post(client, brand, site=fake_joomla.base_url, token=fake_joomla.token, category="Blog").status_code == 302
    account = SocialAccount.objects.get(brand=brand, network="joomla")
    url = reverse("account_edit", args=[brand.pk, account.pk])
    page = client.get(url).content.decode()
    assert 'name="joomla_category" value="Blog"' in page and fake_joomla.token not in page
    fields = {"handle": account.handle, "display_name": XSS, "base_url": account.base_url, "status": "connected",
              "joomla_category": "Noticias & eventos", "joomla_state": "unpublished", "joomla_featured": "on"}
    assert client.post(url, fields).status_code == 302
    account.refresh_from_db()
    assert account.options == {"category": "Noticias & eventos", "state": "unpublished", "featured": True}
    assert account.access_token == fake_joomla.token  # an empty token field keeps the stored one
    page = client.get(reverse("account_list", args=[brand.pk])).content.decode()
    assert_escaped(page)
    assert "Category: Noticias &amp; eventos; articles arrive unpublished" in page
    response = client.post(url, {**fields, "joomla_state": "draft", "joomla_category": "x" * 101})
    assert response.status_code == 200 and {"joomla_state", "joomla_category"} <= set(response.context["form"].errors)
    account.refresh_from_db()
    assert account.options["state"] == "unpublished"



def test_the_composer_offers_a_joomla_account_with_its_preview(brand_a, fake_joomla):
    from tertulia.content import previews

    brand, people = brand_a
    client = _client(people["owner"])
    assert _post(client, brand, site=fake_joomla.base_url, token=fake_joomla.token).status_code == 302
    account = SocialAccount.objects.get(brand=brand, network="joomla")
    page = client.get(reverse("section_compose", args=[brand.pk]))
    assert page.status_code == 200 and f'value="{account.pk}"' in page.content.decode()
    card = previews.build("joomla", f"Título {XSS}\n\n" + "palabra " * 60, brand=brand)
    assert card.truncated and "".join(s.text for s in card.segments).startswith(f"Título {XSS}")
