"""Social account pages: every member sees the list; owners and managers add, edit, remove."""

import pytest
from django.db import connection
from django.urls import reverse

from tertulia.core import roles
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.networks import services as account_services
from tertulia.networks.models import SocialAccount

from .web_helpers import ALL_ROLES, XSS, assert_escaped, html

pytestmark = pytest.mark.django_db

MANAGERS = {r for r in ALL_ROLES if roles.MANAGE_ACCOUNTS in roles.ROLE_PERMISSIONS[r]}
VALID = {"network": "mastodon", "handle": "@cafe@mastodon.social", "display_name": "Café",
         "base_url": "https://mastodon.social", "status": "connected"}


def _account(brand, people, **fields):
    data = {"network": "bluesky", "handle": "cafe.bsky.social", **fields}
    return account_services.do_add_account(Ctx(people["owner"], via="test"), brand, **data)


def test_role_table_is_what_these_tests_assume():
    assert MANAGERS == {"owner", "manager"}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_list_for_everyone_edit_links_for_managers(client, brand_a, role):
    brand, people = brand_a
    account = _account(brand, people)
    client.force_login(people[role])
    response = client.get(reverse("account_list", args=[brand.pk]))
    assert response.status_code == 200
    page = html(response)
    assert "cafe.bsky.social" in page
    assert (reverse("account_edit", args=[brand.pk, account.pk]) in page) == (role in MANAGERS)
    assert (reverse("account_new", args=[brand.pk]) in page) == (role in MANAGERS)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_adding_needs_manage_accounts_and_is_audited(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    url = reverse("account_new", args=[brand.pk])
    assert client.get(url).status_code == (200 if role in MANAGERS else 403)
    response = client.post(url, VALID)
    if role not in MANAGERS:
        assert response.status_code == 403 and not SocialAccount.objects.exists()
        return
    assert response.status_code == 302 and response["Location"] == reverse("account_list", args=[brand.pk])
    account = SocialAccount.objects.get(brand=brand)
    assert (account.network, account.handle, account.base_url) == ("mastodon", "@cafe@mastodon.social", "https://mastodon.social")
    event = AuditEvent.objects.get(action="account.add")
    assert event.actor == people[role] and event.brand == brand
    assert event.changes["handle"] == [None, "@cafe@mastodon.social"]
    assert event.changes["network"] == [None, "mastodon"]


def test_handles_get_an_at_sign_where_the_network_uses_one(client, brand_a):
    brand, people = brand_a
    client.force_login(people["manager"])
    client.post(reverse("account_new", args=[brand.pk]), {**VALID, "network": "x", "handle": "cafe", "base_url": ""})
    assert SocialAccount.objects.get(network="x").handle == "@cafe"


@pytest.mark.parametrize("field, value", [
    ("network", "myspace"),
    ("network", ""),
    ("handle", ""),
    ("handle", "h" * 201),
    ("display_name", "d" * 201),
    ("base_url", "not a url"),
    ("base_url", "javascript:alert(1)"),
    ("base_url", "https://" + "a" * 200 + ".example"),
    ("status", "hacked"),
])
def test_hostile_values_are_form_errors(client, brand_a, field, value):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.post(reverse("account_new", args=[brand.pk]), {**VALID, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not SocialAccount.objects.exists()


def test_the_same_account_twice_is_a_form_error(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    url = reverse("account_new", args=[brand.pk])
    assert client.post(url, VALID).status_code == 302
    response = client.post(url, VALID)
    assert response.status_code == 200 and response.context["form"].errors
    assert SocialAccount.objects.count() == 1


@pytest.mark.parametrize("role", ALL_ROLES)
def test_editing_records_changes_and_cannot_change_the_network(client, brand_a, role):
    brand, people = brand_a
    account = _account(brand, people)
    client.force_login(people[role])
    url = reverse("account_edit", args=[brand.pk, account.pk])
    response = client.post(url, {"network": "x", "handle": "cafe2.bsky.social", "display_name": "Café 2",
                                 "base_url": "", "status": "disabled"})
    account.refresh_from_db()
    if role not in MANAGERS:
        assert response.status_code == 403 and account.handle == "cafe.bsky.social"
        return
    assert response.status_code == 302
    assert (account.network, account.handle, account.status) == ("bluesky", "cafe2.bsky.social", "disabled")
    event = AuditEvent.objects.get(action="account.update")
    assert event.changes == {"handle": ["cafe.bsky.social", "cafe2.bsky.social"], "display_name": ["", "Café 2"],
                             "status": ["connected", "disabled"]}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_removing_needs_manage_accounts(client, brand_a, role):
    brand, people = brand_a
    account = _account(brand, people)
    client.force_login(people[role])
    response = client.post(reverse("account_delete", args=[brand.pk, account.pk]))
    exists = SocialAccount.objects.filter(pk=account.pk).exists()
    if role in MANAGERS:
        assert response.status_code == 302 and not exists
        assert AuditEvent.objects.get(action="account.remove").object_repr == "Bluesky cafe.bsky.social"
    else:
        assert response.status_code == 403 and exists


def test_markup_in_handle_and_name_is_stored_verbatim_and_escaped(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    client.post(reverse("account_new", args=[brand.pk]), {**VALID, "handle": XSS, "display_name": XSS})
    account = SocialAccount.objects.get(brand=brand)
    assert account.handle == XSS and account.display_name == XSS
    assert_escaped(html(client.get(reverse("account_list", args=[brand.pk]))))
    assert_escaped(html(client.get(reverse("account_edit", args=[brand.pk, account.pk]))))
    assert_escaped(html(client.get(reverse("audit_log", args=[brand.pk]))))


def test_network_secrets_never_reach_a_page(client, brand_a):
    brand, people = brand_a
    account = _account(brand, people, access_token="sekrit-access-123", refresh_token="sekrit-refresh-456")
    client.force_login(people["owner"])
    for url in (reverse("account_list", args=[brand.pk]), reverse("account_edit", args=[brand.pk, account.pk]),
                reverse("audit_log", args=[brand.pk])):
        page = html(client.get(url))
        assert "sekrit" not in page
    # Editing the visible fields keeps the stored secrets.
    client.post(reverse("account_edit", args=[brand.pk, account.pk]),
                {"handle": "new.bsky.social", "display_name": "", "base_url": "", "status": "connected"})
    account.refresh_from_db()
    assert account.handle == "new.bsky.social"
    assert account.access_token == "sekrit-access-123" and account.refresh_token == "sekrit-refresh-456"
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM networks_socialaccount WHERE id = %s", [account.pk])
        assert "sekrit" not in cursor.fetchone()[0]
