"""Security review, item 7: no open redirects.

Short links (``/l/<slug>``) are public redirects, so their target is checked when the link is
made (only absolute http/https addresses that every URL parser reads the same way) and again
when it is followed (a row stored before the check, or by hand, is a 404, never a redirect).
The ``next`` parameter of sign-in, sign-out and the language switch only ever leads to a path
on this site (the language switch has its own tests in test_security.py).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tertulia.content.composer import clean_link
from tertulia.content.models import ShortLink
from tertulia.content.services import do_create_short_link, safe_redirect_target
from tertulia.core.services import Ctx

HOSTILE_TARGETS = [
    "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    "//evil.example/", "///evil.example/", "/\\evil.example", "\\\\evil.example", "https:\\\\evil.example",
    "https://good.example\\@evil.example/", "https://good.example\\.evil.example/",
    "https://good.example@evil.example/", "https://user:pass@evil.example/", "https://good.example%40evil.example/",
    "http:evil.example", "http:/evil.example", "https://evil.example\n/x", "https://evil.example\t/x",
    " https://evil.example/", "https://evil.example/ ", "https://evil.example/\x00", "ftp://evil.example/",
    "file:///etc/passwd", "/relative/path", "evil.example", "", "https://" + "a" * 2000 + ".example/",
]
GOOD_TARGETS = ["https://example.org/offer", "http://example.org/a?b=c#d", "https://sub.example.org:8443/x/y"]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hostile_targets_are_not_redirect_targets(target):
    assert safe_redirect_target(target) is False
    if target.strip() != target and safe_redirect_target(target.strip()):
        assert clean_link(target) == target.strip()  # the composer trims what was typed, then checks
        return
    with pytest.raises(ValidationError):
        clean_link(target)  # what the composer checks before it makes tracked links


@pytest.mark.parametrize("target", GOOD_TARGETS)
def test_ordinary_targets_are(target):
    assert safe_redirect_target(target) is True
    assert clean_link(target) == target


@pytest.mark.django_db
def test_the_service_refuses_hostile_targets_and_nothing_is_stored(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")
    for target in ("javascript:alert(1)", "//evil.example/", "https://good.example@evil.example/",
                   "https://good.example\\@evil.example/"):
        with pytest.raises(ValidationError):
            do_create_short_link(ctx, brand, target_url=target)
    assert not ShortLink.objects.filter(brand=brand).exists()


@pytest.mark.django_db
def test_a_stored_hostile_target_is_never_followed(brand_a, client):
    """A row that bypassed the service (an old row, a hand-made one): 404, no Location."""
    brand, _people = brand_a
    for n, target in enumerate(["javascript:alert(1)", "//evil.example/", "https://a.example@evil.example/",
                                "https://a.example\\@evil.example/", "data:text/html,x"]):
        link = ShortLink.objects.create(brand=brand, slug=f"bad{n}", target_url=target)
        response = client.get(f"/l/{link.slug}", HTTP_USER_AGENT="Mozilla/5.0")
        assert response.status_code == 404 and "Location" not in response.headers, target
    ShortLink.objects.create(brand=brand, slug="good1", target_url="https://example.org/offer?x=1",
                                    utm_source="mastodon", utm_medium="")
    response = client.get("/l/good1", HTTP_USER_AGENT="Mozilla/5.0")
    assert response.status_code == 302
    assert response["Location"] == "https://example.org/offer?x=1&utm_source=mastodon"


NEXT_ATTACKS = ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
                "javascript:alert(1)", "http://testserver@evil.example/", "https:evil.example", "/\t/evil.example",
                "http://evil.example\\@testserver/"]


@pytest.mark.django_db
@pytest.mark.parametrize("target", NEXT_ATTACKS)
def test_sign_in_and_sign_out_never_leave_the_site(make_user, target):
    make_user("someone")
    client = Client()
    response = client.post(reverse("login") + "?next=" + target,
                           {"username": "someone", "password": "correct horse battery", "next": target})
    assert response.status_code == 302 and response["Location"] == reverse("home"), response["Location"]
    response = client.post(reverse("logout"), {"next": target})
    assert response.status_code == 302 and response["Location"] == reverse("login"), response["Location"]


@pytest.mark.django_db
def test_same_site_next_is_kept(make_user):
    make_user("someone")
    client = Client()
    response = client.post(reverse("login"), {"username": "someone", "password": "correct horse battery",
                                              "next": "/brands/?page=2"})
    assert response["Location"] == "/brands/?page=2"
    response = client.post(reverse("logout"), {"next": "/login/?bye=1"})
    assert response["Location"] == "/login/?bye=1"
