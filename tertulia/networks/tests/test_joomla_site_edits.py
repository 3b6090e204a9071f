"""Updating and unpublishing a published Joomla article from Tertulia (issue 11): the services
(permission, audit log, the site asked first), the post page's buttons, the API routes, and
hostile input (another brand's ids, a read-only role, a wrong state, a network without it)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.networks.base import PostPayload
from tertulia.networks.http import HttpConfig
from tertulia.publishing.models import PostTarget
from tertulia.publishing.site_edits import do_unpublish_published, do_update_published, supports

pytestmark = pytest.mark.django_db
S = PostTarget.State
HTTP = {"connect_timeout": 2.0, "read_timeout": 3.0, "write_timeout": 2.0, "allow_private_networks": True}


@pytest.fixture(autouse=True)
def loopback(settings):
    from django.utils import translation

    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": HTTP}
    with translation.override("en"):
        yield


def _published(brand, people, fake_joomla, *, text="Carta de otoño\n\nCalabaza."):
    """A post whose Joomla target is published as an article on the fake site."""
    from tertulia.content.services import do_create_post
    from tertulia.networks.joomla import JoomlaConnector
    from tertulia.networks.services import do_add_account

    ctx = Ctx(people["owner"], via="test")
    account = do_add_account(ctx, brand, network="joomla", handle="cafe.example", access_token=fake_joomla.token,
                             base_url=fake_joomla.base_url, options={"category": "Blog"})
    post = do_create_post(ctx, brand, text=text, accounts=[account])
    target = post.targets.get()
    with JoomlaConnector.for_account(account, category="Blog", http_config=HttpConfig(**HTTP)) as connector:
        ref = connector.publish(PostPayload(text=text, marker=target.marker))
    PostTarget.objects.filter(pk=target.pk).update(state=S.PUBLISHED, external_id=ref.external_id,
                                                   external_url=ref.url)
    target.refresh_from_db()
    return ctx, target


def test_update_sends_the_current_text_and_unpublish_hides_it(brand_a, fake_joomla):
    from tertulia.content.models import Post

    brand, people = brand_a
    ctx, target = _published(brand, people, fake_joomla)
    Post.objects.filter(pk=target.post_id).update(text="Carta de invierno\n\nSopa <b>de ajo</b>.")
    do_update_published(ctx, target)
    article = fake_joomla.articles[int(target.external_id)]
    assert article["title"] == "Carta de invierno" and "Sopa" in article["introtext"]
    assert AuditEvent.objects.filter(action="post.update_on_network", brand=brand).count() == 1

    do_unpublish_published(ctx, target)
    assert fake_joomla.articles[int(target.external_id)]["state"] == 0
    target.refresh_from_db()
    assert target.state == S.PUBLISHED and "Unpublished on the site" in target.error_display()
    assert AuditEvent.objects.filter(action="post.unpublish_on_network", brand=brand).count() == 1
    from django.utils import translation

    with translation.override("es"):
        assert "Despublicada en el sitio" in target.error_display()


def test_refusals_leave_the_site_untouched(brand_a, fake_joomla):
    brand, people = brand_a
    ctx, target = _published(brand, people, fake_joomla)
    with pytest.raises(PermissionDenied):
        do_unpublish_published(Ctx(people["analyst"], via="test"), target)
    fake_joomla.articles.pop(int(target.external_id))  # deleted by hand on the site
    with pytest.raises(ValidationError) as caught:
        do_unpublish_published(ctx, target)
    assert "no longer on the network" in " ".join(caught.value.messages)
    PostTarget.objects.filter(pk=target.pk).update(state=S.FAILED)
    target.refresh_from_db()
    with pytest.raises(ValidationError):
        do_update_published(ctx, target)
    assert not AuditEvent.objects.filter(action__in=["post.update_on_network", "post.unpublish_on_network"]).exists()
    assert supports("joomla", "unpublish") and supports("joomla", "update")
    assert not supports("mastodon", "unpublish") and not supports("joomla", "delete")


def test_post_page_buttons_and_routes(brand_a, brand_b, fake_joomla):
    brand, people = brand_a
    _ctx, target = _published(brand, people, fake_joomla)
    cm = Client(HTTP_ACCEPT_LANGUAGE="en")
    cm.force_login(people["community_manager"])
    page = cm.get(f"/brands/{brand.pk}/posts/{target.post_id}/").content.decode()
    unpublish = reverse("target_unpublish", args=[brand.pk, target.pk])
    assert unpublish in page and reverse("target_update_on_network", args=[brand.pk, target.pk]) in page
    analyst = Client(HTTP_ACCEPT_LANGUAGE="en")
    analyst.force_login(people["analyst"])
    assert unpublish not in analyst.get(f"/brands/{brand.pk}/posts/{target.post_id}/").content.decode()
    assert analyst.post(unpublish).status_code in (403, 404)
    # Another brand's member: its ids are a 404, on the page route and the API.
    _brand_b, people_b = brand_b
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(people_b["community_manager"])
    assert other.post(unpublish).status_code == 404
    api = f"/api/v1/brands/{brand.pk}/targets/{target.pk}/unpublish"
    assert other.post(api).status_code == 404
    assert fake_joomla.articles[int(target.external_id)]["state"] == 1
    response = cm.post(api)
    assert response.status_code == 200, response.content
    assert fake_joomla.articles[int(target.external_id)]["state"] == 0
    response = cm.post(reverse("target_update_on_network", args=[brand.pk, target.pk]))
    assert response.status_code == 302
    # A target that is not published: the API refuses in words (422).
    PostTarget.objects.filter(pk=target.pk).update(state=S.CANCELED)
    refused = cm.post(f"/api/v1/brands/{brand.pk}/targets/{target.pk}/update-on-network")
    assert refused.status_code == 422
