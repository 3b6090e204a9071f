"""In-app notifications: the list (own only, paged), mark read, the bell's unread count, and
the e-mail in each recipient's language."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy

from tertulia.core.models import Notification
from tertulia.core.notes import note
from tertulia.core.notifications import notify

from .web_helpers import XSS, assert_escaped, html

pytestmark = pytest.mark.django_db

MSG = gettext_lazy("%(user)s asks you to approve a post for %(brand)s: “%(post)s”")


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def _notify(user, brand, n=1, link="/brands/1/posts/1/", **params):
    params = {"user": "ana", "brand": brand.name, "post": "Hola", **params}
    return [notify([user], kind="post.submitted", brand=brand, link=link, message=note(MSG, **params),
                   email=False)[0] for _ in range(n)]


def test_the_list_shows_my_notifications_in_my_language(client, brand_a):
    brand, people = brand_a
    _notify(people["manager"], brand, post=f"Promo {XSS}")
    _notify(people["owner"], brand, post="Owner only")
    client.force_login(people["manager"])
    page = html(client.get(reverse("notifications")))
    assert "asks you to approve a post for Alpha Brand" in page
    assert "Owner only" not in page
    assert_escaped(page)
    people["manager"].language = "es"
    people["manager"].save()
    client.force_login(people["manager"])
    page = html(client.get(reverse("notifications"), HTTP_ACCEPT_LANGUAGE="es"))
    with translation.override("es"):
        expected = str(translation.gettext("Notifications"))
    assert "te pide que apruebes" in page and expected in page


def test_the_bell_counts_unread(client, brand_a):
    brand, people = brand_a
    _notify(people["manager"], brand, n=3)
    client.force_login(people["manager"])
    page = html(client.get(reverse("brand_list")))
    assert 'class="bell" data-unread="3"' in page and ">3</span>" in page
    client.force_login(people["owner"])
    assert 'data-unread="0"' in html(client.get(reverse("brand_list")))


def test_mark_one_read_and_go_to_its_target(client, brand_a):
    brand, people = brand_a
    mine = _notify(people["manager"], brand, link=f"/brands/{brand.pk}/")[0]
    theirs = _notify(people["owner"], brand)[0]
    client.force_login(people["manager"])
    url = reverse("notification_read", args=[mine.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, {"go": "1"})
    assert response.status_code == 302 and response["Location"] == f"/brands/{brand.pk}/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    # Someone else's notification does not exist for me, whatever the method.
    for method in ("get", "post"):
        assert getattr(client, method)(reverse("notification_read", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("link", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_foreign_links_are_never_followed(client, brand_a, link):
    brand, people = brand_a
    n = _notify(people["manager"], brand, link=link)[0]
    client.force_login(people["manager"])
    page = html(client.get(reverse("notifications")))
    assert link not in page
    response = client.post(reverse("notification_read", args=[n.pk]), {"go": "1"})
    assert response["Location"] == reverse("notifications")


def test_mark_all_read_and_the_unread_filter(client, brand_a):
    brand, people = brand_a
    _notify(people["manager"], brand, n=2)
    theirs = _notify(people["owner"], brand)[0]
    client.force_login(people["manager"])
    assert client.get(reverse("notifications_read_all")).status_code == 405
    assert client.post(reverse("notifications_read_all")).status_code == 302
    assert not Notification.objects.filter(recipient=people["manager"], read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    page = html(client.get(reverse("notifications") + "?unread=1"))
    assert "No notifications." in page


def test_the_list_pages_by_30(client, brand_a):
    brand, people = brand_a
    _notify(people["manager"], brand, n=35)
    client.force_login(people["manager"])
    first = html(client.get(reverse("notifications")))
    assert first.count("data-notification=") == 30 and "Page 1 of 2" in first
    second = html(client.get(reverse("notifications") + "?page=2"))
    assert second.count("data-notification=") == 5
    assert client.get(reverse("notifications") + "?page=x%00").status_code == 200


def test_needs_sign_in(client):
    response = client.get(reverse("notifications"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
