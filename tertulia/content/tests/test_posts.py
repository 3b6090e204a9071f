"""content.services (posts, approval, short links) and publishing.services (outcomes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tertulia.content import approvals, services
from tertulia.content.models import LinkClick, Post, PostVariant
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
from tertulia.publishing import services as publishing
from tertulia.publishing.models import PostTarget

WHEN = datetime(2025, 5, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    owner = Ctx(people["owner"])
    accounts = [do_add_account(owner, brand, network="x", handle="alpha"),
                do_add_account(owner, brand, network="mastodon", handle="@alpha@masto.es")]
    return brand, people, accounts


def test_a_post_goes_from_draft_to_published(setup):
    brand, people, accounts = setup
    cm, manager = Ctx(people["community_manager"]), Ctx(people["manager"])
    post = services.do_create_post(cm, brand, text="Hola", accounts=accounts, scheduled_at=WHEN, submit=True,
                                   variants={"x": "Hola X"})
    assert post.state == Post.State.PENDING_APPROVAL
    assert set(post.targets.values_list("state", flat=True)) == {PostTarget.State.PENDING_APPROVAL}
    assert dict(PostVariant.objects.filter(post=post).values_list("network", "is_custom")) == {
        "x": True, "mastodon": False}

    with pytest.raises(PermissionDenied):  # community managers do not approve
        approvals.do_mark_approved(cm, post)
    post = approvals.do_mark_approved(manager, post)
    assert post.state == Post.State.SCHEDULED
    targets = list(post.targets.order_by("pk"))
    assert {t.state for t in targets} == {PostTarget.State.SCHEDULED}
    assert {t.due_at for t in targets} == {WHEN}

    assert publishing.mark_published(targets[0], external_id="111", published_at=WHEN)
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED  # one target still to go
    assert publishing.mark_published(targets[1], external_id="222", published_at=WHEN)
    post.refresh_from_db()
    assert post.state == Post.State.PUBLISHED
    # A duplicate task arriving late changes nothing.
    assert not publishing.mark_published(targets[0], external_id="999")
    assert PostTarget.objects.get(pk=targets[0].pk).external_id == "111"


def test_an_approval_of_a_stale_version_is_refused(setup):
    brand, people, accounts = setup
    post = services.do_create_post(Ctx(people["community_manager"]), brand, text="v1", accounts=accounts[:1],
                                   submit=True)
    Post.objects.filter(pk=post.pk).update(version=2)  # someone edited it meanwhile
    with pytest.raises(ValidationError):
        approvals.do_mark_approved(Ctx(people["manager"]), post)


def test_a_rejected_token_needs_attention_and_the_post_is_not_published(setup):
    brand, people, accounts = setup
    post = services.do_create_post(Ctx(people["owner"]), brand, text="Hola", accounts=accounts[:1])
    approvals.do_mark_approved(Ctx(people["owner"]), post)
    target = post.targets.get()
    assert publishing.mark_needs_attention(target, "token expired")
    target.refresh_from_db()
    assert (target.state, target.last_error) == (PostTarget.State.NEEDS_ATTENTION, "token expired")
    post.refresh_from_db()
    assert post.state == Post.State.APPROVED


def test_posts_only_reach_the_brands_own_accounts(setup, brand_b):
    brand, people, accounts = setup
    other_brand, other_people = brand_b
    with pytest.raises(PermissionDenied):
        services.do_create_post(Ctx(other_people["owner"]), other_brand, text="x", accounts=accounts)
    with pytest.raises(PermissionDenied):  # analysts cannot write
        services.do_create_post(Ctx(people["analyst"]), brand, text="x", accounts=accounts)
    with pytest.raises(ValidationError):
        services.do_create_post(Ctx(people["owner"]), brand, text="  ", accounts=accounts)
    with pytest.raises(ValidationError):  # a variant for a network the post does not go to
        services.do_create_post(Ctx(people["owner"]), brand, text="x", accounts=accounts[:1],
                                variants={"mastodon": "y"})


def test_short_links_carry_utm_and_record_clicks(setup):
    brand, people, _accounts = setup
    cm = Ctx(people["community_manager"])
    campaign = services.do_create_campaign(cm, brand, name="Navidad en Candela", starts_on=WHEN.date(),
                                           ends_on=WHEN.date() + timedelta(days=30))
    link = services.do_create_short_link(cm, brand, target_url="https://example.com/carta?ref=home&utm_source=old",
                                         campaign=campaign, utm_source="x")
    assert len(link.slug) == 7
    query = parse_qs(urlsplit(services.tracked_url(link)).query)
    assert query == {"ref": ["home"], "utm_source": ["x"], "utm_medium": ["social"],
                     "utm_campaign": ["navidad-en-candela"]}
    assert services.short_url(link).endswith("/l/" + link.slug)
    n = services.record_link_clicks(link, [services.Click(WHEN, "t.co", "es"), services.Click(WHEN, "", "")])
    assert n == 2 and LinkClick.objects.filter(link=link, country="ES").count() == 1
    with pytest.raises(ValidationError):
        services.do_create_short_link(cm, brand, target_url="https://example.com", slug=link.slug)
    with pytest.raises(ValidationError):
        services.do_create_short_link(cm, brand, target_url="javascript:alert(1)")
