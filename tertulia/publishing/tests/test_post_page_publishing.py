"""The post page shows each account's delivery and what can be done about it (issue 4): the
state, the network link, the plain-words error, the delivery log, "Retry now", "Delete from the
network" (with a confirm step), the first comment's status, and "Add to queue" for an approved
post (or one in review) without a time. Buttons only for roles with COMPOSE; all escaped."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import formats, timezone, translation

from tertulia.content import approvals
from tertulia.content.models import Post
from tertulia.content.services import do_create_post
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of
from tertulia.networks.services import do_add_account
from tertulia.publishing import services
from tertulia.publishing.models import PostTarget

S = PostTarget.State
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    owner = Ctx(people["owner"], via="test")
    masto = do_add_account(owner, brand, network="mastodon", handle="@alpha@masto.example",
                           base_url="https://masto.example")
    sky = do_add_account(owner, brand, network="bluesky", handle="alpha.bsky.social")
    return brand, people, owner, masto, sky


def _url(post):
    return reverse("post_detail", args=[post.brand_id, post.pk])


def _delivered(brand, owner, masto, sky):
    """A post published on Mastodon (its first comment failed) and failed on Bluesky."""
    post = do_create_post(owner, brand, text="Nuevo horario", accounts=[masto, sky], submit=True,
                          scheduled_at=timezone.now() + timedelta(days=1))
    approvals.do_mark_approved(owner, post)
    Post.objects.filter(pk=post.pk).update(first_comment="Más info en la web")
    published = post.targets.get(account=masto)
    failed = post.targets.get(account=sky)
    PostTarget.objects.filter(pk=published.pk).update(
        state=S.PUBLISHED, external_id="111", external_url="https://masto.example/@alpha/111",
        published_at=timezone.now(), comment_external_id="failed")
    PostTarget.objects.filter(pk=failed.pk).update(
        state=S.FAILED, last_error="refused", error_note=[{"msgid": f"Refused: {XSS}", "params": {}}])
    return post, published, failed


def test_each_target_shows_its_delivery_and_the_actions(client, setup):
    brand, people, owner, masto, sky = setup
    post, published, failed = _delivered(brand, owner, masto, sky)
    client.force_login(people["community_manager"])
    page = html(client.get(_url(post)))
    assert_escaped(page, f"Refused: {XSS}", "Refused: &lt;script&gt;alert(1)&lt;/script&gt;")
    assert 'href="https://masto.example/@alpha/111"' in page
    for target in (published, failed):
        assert f'href="{reverse("target_log", args=[brand.pk, target.pk])}"' in page
    retry = reverse("target_retry", args=[brand.pk, failed.pk])
    delete = reverse("target_delete", args=[brand.pk, published.pk])
    assert f'action="{retry}"' in page and f'action="{reverse("target_retry", args=[brand.pk, published.pk])}"' \
        not in page
    assert f'action="{delete}"' in page and f'action="{reverse("target_delete", args=[brand.pk, failed.pk])}"' \
        not in page
    # Deleting asks first: the button sits inside a closed disclosure with the warning.
    confirm = re.search(r'<details class="confirm-delete">(.*?)</details>', page, re.S).group(1)
    assert "cannot be undone" in confirm and f'action="{delete}"' in confirm
    row = re.search(rf'<tr data-target="{published.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "Could not be posted" in row  # the first comment's status
    assert "Add to queue" not in page  # it has a time


def test_only_roles_with_compose_get_buttons(client, setup):
    brand, people, owner, masto, sky = setup
    post, published, failed = _delivered(brand, owner, masto, sky)
    client.force_login(people["analyst"])
    page = html(client.get(_url(post)))
    assert f'href="{reverse("target_log", args=[brand.pk, failed.pk])}"' in page  # seeing is fine
    assert "Refused:" in page and "Published" in page
    assert reverse("target_retry", args=[brand.pk, failed.pk]) not in page
    assert reverse("target_delete", args=[brand.pk, published.pk]) not in page
    assert "confirm-delete" not in page
    # And the routes themselves refuse the role.
    assert client.post(reverse("target_retry", args=[brand.pk, failed.pk])).status_code == 403
    assert client.post(reverse("target_delete", args=[brand.pk, published.pk])).status_code == 403


def test_a_published_link_that_is_not_https_is_not_linked(client, setup):
    brand, people, owner, masto, sky = setup
    post, published, _failed = _delivered(brand, owner, masto, sky)
    PostTarget.objects.filter(pk=published.pk).update(external_url="javascript:alert(1)")
    client.force_login(people["owner"])
    page = html(client.get(_url(post)))
    assert "javascript:alert(1)" not in page


def _slots(owner, brand):
    services.do_add_slots(owner, brand, weekdays=list(range(7)), times=["09:00"])


def test_add_to_queue_from_the_post_page_shows_the_slot_in_the_brands_zone(client, setup):
    brand, people, owner, masto, _sky = setup
    _slots(owner, brand)
    post = do_create_post(owner, brand, text="Sin hora", accounts=[masto], submit=True)
    approvals.do_mark_approved(owner, post)
    post.refresh_from_db()
    assert post.state == Post.State.APPROVED and post.scheduled_at is None
    client.force_login(people["community_manager"])
    page = html(client.get(_url(post)))
    queue = reverse("post_add_to_queue", args=[brand.pk, post.pk])
    assert f'action="{queue}"' in page and "Europe/Madrid" in page
    response = client.post(queue, {"next": _url(post)}, follow=True)
    assert response.redirect_chain == [(_url(post), 302)]
    post.refresh_from_db()
    local = timezone.localtime(post.scheduled_at, brand.tzinfo)
    assert (local.hour, local.minute) == (9, 0) and post.state == Post.State.SCHEDULED
    # The slot it got, as the brand's wall-clock time with the zone, in the message.
    expected = f"{formats.date_format(local, 'DATETIME_FORMAT')} (Europe/Madrid)"
    assert any(expected in m for m in messages_of(response)), messages_of(response)
    assert "Add to queue" not in html(response)  # it has a time now
    assert post.targets.get().state == S.SCHEDULED


def test_add_to_queue_is_offered_only_when_it_makes_sense(client, setup):
    brand, people, owner, masto, _sky = setup
    _slots(owner, brand)
    draft = do_create_post(owner, brand, text="Borrador", accounts=[masto])
    in_review = do_create_post(owner, brand, text="En revisión", accounts=[masto], submit=True)
    with_time = do_create_post(owner, brand, text="Con hora", accounts=[masto], submit=True,
                               scheduled_at=timezone.now() + timedelta(days=3))
    client.force_login(people["community_manager"])
    assert "Add to queue" not in html(client.get(_url(draft)))
    in_review.refresh_from_db()
    assert in_review.state == Post.State.PENDING_APPROVAL
    assert "Add to queue" in html(client.get(_url(in_review)))
    assert "Add to queue" not in html(client.get(_url(with_time)))
    client.force_login(people["analyst"])
    assert "Add to queue" not in html(client.get(_url(in_review)))


def test_the_review_hooks_stay(client, setup):
    brand, people, owner, masto, _sky = setup
    post = do_create_post(Ctx(people["community_manager"]), brand, text="Para aprobar", accounts=[masto],
                          scheduled_at=timezone.now() + timedelta(days=2))
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), post)
    client.force_login(people["manager"])
    page = html(client.get(_url(post)))
    assert 'id="id_body"' in page and 'name="action" value="request_changes"' in page
    assert post.state == Post.State.PENDING_APPROVAL
    assert 'name="action" value="approve"' in page


def test_another_brands_post_is_a_404(client, setup, brand_b):
    brand, people, owner, masto, sky = setup
    post, _published, failed = _delivered(brand, owner, masto, sky)
    other, other_people = brand_b
    client.force_login(other_people["community_manager"])
    assert client.get(_url(post)).status_code == 404
    assert client.get(reverse("post_detail", args=[other.pk, post.pk])).status_code == 404
    assert client.post(reverse("post_add_to_queue", args=[other.pk, post.pk])).status_code == 404
    assert client.post(reverse("target_retry", args=[other.pk, failed.pk])).status_code == 404


def test_queueing_a_post_in_review_gives_it_a_time_and_keeps_it_in_review(client, setup):
    brand, people, owner, masto, _sky = setup
    _slots(owner, brand)
    post = do_create_post(owner, brand, text="En revisión", accounts=[masto], submit=True)
    client.force_login(people["community_manager"])
    # A foreign "next" is ignored: back to the queue, never off-site.
    response = client.post(reverse("post_add_to_queue", args=[brand.pk, post.pk]), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("publishing_queue", args=[brand.pk])
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL and post.scheduled_at is not None
    target = post.targets.get()
    assert target.state == S.PENDING_APPROVAL and target.due_at == post.scheduled_at
    page = html(client.get(_url(post)))
    assert "Add to queue" not in page
    assert timezone.localtime(post.scheduled_at, brand.tzinfo).strftime("%Y") in page


def test_no_free_slot_is_said_plainly(client, setup):
    brand, people, owner, masto, _sky = setup
    post = do_create_post(owner, brand, text="Sin huecos", accounts=[masto], submit=True)
    approvals.do_mark_approved(owner, post)
    client.force_login(people["community_manager"])
    response = client.post(reverse("post_add_to_queue", args=[brand.pk, post.pk]), {"next": _url(post)}, follow=True)
    assert any("no free slot" in m for m in messages_of(response))
    post.refresh_from_db()
    assert post.scheduled_at is None
