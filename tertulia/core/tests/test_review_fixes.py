"""Hardening found in review: bounded paging, NUL in filters, uncached token page, the real
client address behind a proxy, the last-owner lock, and the jobs-not-shared warning."""

import pytest
from django.core import checks
from django.test import RequestFactory, override_settings
from django.urls import reverse

from tertulia.core import services
from tertulia.core.checks import jobs_warnings
from tertulia.core.services import Ctx


def test_a_huge_api_offset_is_a_422_not_a_500(client, brand_a):
    _brand, people = brand_a
    client.force_login(people["owner"])
    huge = client.get("/api/v1/brands?offset=99999999999999999999999")
    assert huge.status_code == 422
    assert client.get("/api/v1/brands?offset=1000000000").status_code == 200


@pytest.mark.parametrize("url_name,param", [("knowledge_list", "q"), ("audit_log", "action")])
def test_nul_characters_in_filters_are_ignored(client, brand_a, url_name, param):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.get(reverse(url_name, args=[brand.pk]), {param: "ab\x00cd"})
    assert response.status_code == 200


def test_the_token_page_is_never_cached(client, brand_a):
    _brand, people = brand_a
    client.force_login(people["owner"])
    response = client.get(reverse("token_list"))
    assert "no-store" in response.headers["Cache-Control"]


def test_client_ip_trusts_forwarded_for_only_behind_a_proxy():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    with override_settings(BEHIND_PROXY=False):
        assert services.client_ip(request) == "10.0.0.2"
    with override_settings(BEHIND_PROXY=True):
        # The client may write anything at the start; the proxy appends the real address.
        assert services.client_ip(request) == "198.51.100.7"


def test_two_owners_can_not_both_leave(brand_a, make_user):
    brand, people = brand_a
    second = make_user("second_owner")
    services.do_add_member(Ctx(people["owner"]), brand, second, "owner")
    first_membership = brand.memberships.get(user=people["owner"])
    second_membership = brand.memberships.get(user=second)
    services.do_change_role(Ctx(second), first_membership, "manager")
    with pytest.raises(Exception, match="at least one owner"):
        services.do_change_role(Ctx(second), second_membership, "manager")


@pytest.mark.parametrize("engine,huey_class,warns", [
    ("django.db.backends.postgresql", "huey.SqliteHuey", True),
    ("django.db.backends.postgresql", "huey.RedisHuey", False),
    ("django.db.backends.sqlite3", "huey.SqliteHuey", False),
])
def test_jobs_not_shared_with_postgres_is_a_warning(engine, huey_class, warns):
    found = jobs_warnings(engine, {"huey_class": huey_class, "immediate": False})
    assert [w.id for w in found] == (["tertulia.W001"] if warns else [])
    assert all(isinstance(w, checks.Warning) for w in found)
