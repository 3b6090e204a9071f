"""Connecting a Telegram channel (bot token) and a WordPress blog (application password)
through the account form: the secret is write-only, encrypted, never shown, never logged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html
from tertulia.networks import registry
from tertulia.networks.http import HttpConfig
from tertulia.networks.models import SocialAccount
from tertulia.networks.telegram import TelegramConnector
from tertulia.networks.wordpress import WordPressConnector

pytestmark = pytest.mark.django_db

TOKEN = "7000000001:AAHsecretsecretsecretsecretsecret12"
APP_PASSWORD = "abcd EFGH ijkl MNOP qrst UVWX"


def _raw_column(account_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM networks_socialaccount WHERE id = %s", [account_id])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("network, handle, base_url, secret, stored_handle", [
    ("telegram", "cafetertulia", "", TOKEN, "@cafetertulia"),
    ("wordpress", "cm_tertulia", "https://blog.example.com", APP_PASSWORD, "cm_tertulia"),
])
def test_connect_with_the_form(client, brand_a, network, handle, base_url, secret, stored_handle):
    brand, people = brand_a
    client.force_login(people["manager"])
    form = client.get(reverse("account_new", args=[brand.pk]))
    assert 'name="access_token"' in html(form) and 'type="password"' in html(form)
    response = client.post(reverse("account_new", args=[brand.pk]), {
        "network": network, "handle": handle, "base_url": base_url, "status": "connected", "access_token": secret})
    assert response.status_code == 302
    account = SocialAccount.objects.get(brand=brand, network=network)
    assert account.handle == stored_handle and account.access_token == secret
    assert secret not in _raw_column(account.pk)  # encrypted at rest
    page = html(client.get(reverse("account_edit", args=[brand.pk, account.pk])))
    assert secret not in page and secret.split(":")[-1] not in page  # never rendered back
    for event in AuditEvent.objects.filter(object_id=str(account.pk)):
        assert secret not in str(event.changes)
    connector = registry.connector_for(account, http_config=HttpConfig(allow_private_networks=True))
    with connector:
        expected = TelegramConnector if network == "telegram" else WordPressConnector
        assert isinstance(connector, expected)
        if network == "telegram":
            assert connector.channel == "@cafetertulia" and connector.account_key == f"account:{account.pk}"
        else:
            assert connector.username == "cm_tertulia" and connector.base_url == "https://blog.example.com"


def test_an_empty_secret_on_edit_keeps_the_stored_one_and_a_new_one_replaces_it(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    client.post(reverse("account_new", args=[brand.pk]), {
        "network": "telegram", "handle": "@cafetertulia", "status": "connected", "access_token": TOKEN})
    account = SocialAccount.objects.get(brand=brand)
    url = reverse("account_edit", args=[brand.pk, account.pk])
    client.post(url, {"handle": "@cafetertulia", "display_name": "Café", "status": "connected", "access_token": ""})
    account.refresh_from_db()
    assert account.access_token == TOKEN and account.display_name == "Café"
    SocialAccount.objects.filter(pk=account.pk).update(status="needs_reconnect")
    client.post(url, {"handle": "@cafetertulia", "status": "needs_reconnect", "access_token": "7000000001:NEWnewNEWnewNEWnewNEWnew"})
    account.refresh_from_db()
    assert account.access_token == "7000000001:NEWnewNEWnewNEWnewNEWnew"
    assert account.status == SocialAccount.Status.CONNECTED  # a new secret reconnects it
    event = AuditEvent.objects.filter(action="account.update").latest("pk")
    assert event.changes["credentials"] == ["kept", "replaced"] and "NEWnew" not in str(event.changes)


def test_a_new_site_address_with_a_new_password_keeps_the_new_password(brand_a):
    from tertulia.core.services import Ctx
    from tertulia.networks import services

    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")
    account = services.do_add_account(ctx, brand, network="wordpress", handle="cm", access_token="old pass",
                                      base_url="https://old.example.com")
    services.do_update_account(ctx, account, base_url="https://new.example.com")
    account.refresh_from_db()
    assert account.access_token == "" and account.status == SocialAccount.Status.NEEDS_RECONNECT
    services.do_update_account(ctx, account, base_url="https://newer.example.com", access_token="new pass")
    account.refresh_from_db()
    assert account.access_token == "new pass" and account.status == SocialAccount.Status.CONNECTED


@pytest.mark.parametrize("role", ["community_manager", "analyst", "client_reviewer"])
def test_other_roles_cannot_set_a_secret(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    response = client.post(reverse("account_new", args=[brand.pk]), {
        "network": "telegram", "handle": "@x_channel", "status": "connected", "access_token": TOKEN})
    assert response.status_code == 403 and not SocialAccount.objects.exists()


def test_another_brands_account_is_a_404(client, brand_a, brand_b):
    from tertulia.core.services import Ctx
    from tertulia.networks import services

    brand, people = brand_a
    other, other_people = brand_b
    theirs = services.do_add_account(Ctx(other_people["owner"], via="test"), other, network="telegram",
                                     handle="@their_channel", access_token=TOKEN)
    client.force_login(people["owner"])
    response = client.post(reverse("account_edit", args=[brand.pk, theirs.pk]),
                           {"handle": "@mine", "status": "connected", "access_token": "stolen:xxxxxxxxxxxxxxxxxxxxxxxx"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.access_token == TOKEN


def test_hostile_input_is_refused_or_escaped(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    url = reverse("account_new", args=[brand.pk])
    response = client.post(url, {"network": "telegram", "handle": "@c", "status": "connected",
                                 "access_token": "x" * 8001})
    assert response.status_code == 200 and not SocialAccount.objects.exists()  # too long: the form says so
    client.post(url, {"network": "wordpress", "handle": XSS, "display_name": XSS, "status": "connected",
                      "base_url": "https://blog.example.com", "access_token": "p"})
    account = SocialAccount.objects.get(brand=brand)
    assert_escaped(html(client.get(reverse("account_edit", args=[brand.pk, account.pk]))))


def test_the_form_sets_wordpress_drafts_and_categories(client, brand_a):
    brand, people = brand_a
    client.force_login(people["manager"])
    response = client.post(reverse("account_new", args=[brand.pk]), {
        "network": "wordpress", "handle": "cm_tertulia", "base_url": "https://blog.example.com",
        "status": "connected", "access_token": APP_PASSWORD, "wordpress_status": "draft",
        "wordpress_categories": f"Recetas, {XSS}"})
    assert response.status_code == 302
    account = SocialAccount.objects.get(brand=brand, network="wordpress")
    assert account.options == {"post_status": "draft", "categories": ["Recetas", XSS]}
    page = html(client.get(reverse("account_edit", args=[brand.pk, account.pk])))
    assert_escaped(page)
    assert 'value="draft" selected' in page
    # A Telegram account gets no options, whatever the form carried.
    client.post(reverse("account_new", args=[brand.pk]), {
        "network": "telegram", "handle": "canal", "status": "connected", "access_token": TOKEN,
        "wordpress_status": "draft"})
    assert SocialAccount.objects.get(brand=brand, network="telegram").options == {}
