"""The accounts page offers a sign-in for every network that has one, to those who may
connect accounts, and the buttons lead to each network's start page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

CONNECT = ("meta_connect", "x_connect", "linkedin_connect", "threads_connect", "mastodon_connect")


def _page(user, brand):
    client = Client()
    client.force_login(user)
    return client, client.get(reverse("account_list", args=[brand.pk]))


def test_account_managers_see_a_connect_button_per_network(brand_a):
    brand, people = brand_a
    client, response = _page(people["owner"], brand)
    assert response.status_code == 200
    html = response.content.decode()
    for name in CONNECT:
        url = reverse(name, args=[brand.pk])
        assert f'href="{url}"' in html, name
        assert client.get(url).status_code == 200, name  # the start page, even with no app configured


def test_people_who_cannot_connect_accounts_see_no_button(brand_a):
    brand, people = brand_a
    _client, response = _page(people["community_manager"], brand)
    html = response.content.decode()
    assert response.status_code == 200
    assert not any(reverse(name, args=[brand.pk]) in html for name in CONNECT)
