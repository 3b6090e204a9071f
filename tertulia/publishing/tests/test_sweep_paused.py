"""The sweeper leaves a paused brand alone: it does not queue a task per held target every
minute (the claim would refuse them anyway), and resuming sends them, once."""

from __future__ import annotations

import pytest

from tertulia.content.models import Post
from tertulia.core.models import Brand
from tertulia.publishing import engine, services, tasks
from tertulia.publishing.clock import db_now
from tertulia.publishing.models import DeliveryAttempt, PostTarget

from .conftest import drain, now, timedelta

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def _pause(brand, paused=True):
    Brand.objects.filter(pk=brand.pk).update(publishing_paused=paused)
    brand.refresh_from_db()


def test_due_targets_of_a_paused_brand_are_not_swept(ctx, brand, make_target, fake_mastodon):
    target = make_target()
    _pause(brand)
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=5))  # its own task: "paused"
    target.refresh_from_db()
    assert target.state == S.SCHEDULED
    assert tasks.due_targets(db_now()) == []
    assert tasks.sweep_once(grace=0) == {"due": 0, "reconcile": 0}
    assert tasks.sweep_once(grace=0) == {"due": 0, "reconcile": 0}
    assert DeliveryAttempt.objects.filter(target=target).count() == 0
    assert fake_mastodon.own_statuses() == []

    # The same target is swept as soon as the brand is not paused (here without the resume
    # service, to see the sweeper pick it up by itself).
    _pause(brand, False)
    assert tasks.due_targets(db_now()) == [(target.pk, target.version)]
    assert tasks.sweep_once(grace=0)["due"] == 1
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    assert len(fake_mastodon.own_statuses()) == 1


def test_only_the_paused_brand_is_held(ctx, brand, make_target, fake_mastodon, tenant):
    from tertulia.core.models import Membership
    from tertulia.core.services import Ctx
    from tertulia.networks.services import do_add_account

    other, _people = tenant("Otra")
    other_ctx = Ctx(Membership.objects.get(brand=other, role="owner").user, via="test")
    other_account = do_add_account(other_ctx, other, network="mastodon", handle="@otra",
                                   access_token=fake_mastodon.token, base_url=fake_mastodon.base_url)
    held = make_target()
    _pause(brand)
    services.do_schedule(ctx, held, due_at=now() - timedelta(seconds=5))
    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.services import do_create_post

    post = do_create_post(other_ctx, other, text="De la otra marca", accounts=[other_account], submit=True)
    do_mark_approved(other_ctx, post)
    free = post.targets.get()
    # Due, scheduled, without its task (as if the consumer lost it).
    PostTarget.objects.filter(pk=free.pk).update(state=S.SCHEDULED, due_at=db_now() - timedelta(seconds=5))
    free.refresh_from_db()
    assert tasks.due_targets(db_now()) == [(free.pk, free.version)]
    assert tasks.sweep_once(grace=0)["due"] == 1
    free.refresh_from_db()
    held.refresh_from_db()
    assert free.state == S.PUBLISHED and held.state == S.SCHEDULED


def test_a_paused_brand_holds_first_comments_too(ctx, brand, make_target, fake_mastodon):
    target = make_target()
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    target = drain(target)
    assert target.state == S.PUBLISHED
    Post.objects.filter(pk=target.post_id).update(first_comment="Comentario tras la pausa")
    _pause(brand)
    target.refresh_from_db()
    assert engine.comment_status(target) == "queued"
    assert engine.comments_due(db_now()) == ([], [])
    assert engine.publish_comment(target.pk) == "paused"
    assert len(fake_mastodon.own_statuses()) == 1
    _pause(brand, False)
    assert tasks.sweep_once(grace=0)["comments"] == 1
    target.refresh_from_db()
    assert engine.comment_status(target) == "posted"
    assert len(fake_mastodon.own_statuses()) == 2


def test_the_demo_workspace_never_contacts_a_network(fake_mastodon, client):
    """`tertulia run --demo` starts the consumer: the demo's made-up accounts (some on real
    servers) must never be contacted. Its brands start paused, the queue page says so, and a
    resumed demo brand fails its due posts with the reason, without a request."""
    from tertulia.core import demo
    from tertulia.core.models import User
    from tertulia.core.services import Ctx
    from tertulia.networks.models import SocialAccount

    demo.generate(demo.DemoOptions(brands=3, interactions=0, months=1, posts_per_week=4))
    brands = list(demo.demo_brands().order_by("pk"))
    assert len(brands) == 3 and all(b.publishing_paused for b in brands)
    ahead = PostTarget.objects.filter(brand__in=brands, state=S.SCHEDULED)
    assert ahead.exists()  # the calendar ahead is scheduled
    # Every demo Mastodon account now points at the loopback fake: a request would show there.
    mastodon = SocialAccount.objects.filter(brand__in=brands, network="mastodon")
    assert mastodon.exists()
    mastodon.update(base_url=fake_mastodon.base_url, access_token=fake_mastodon.token)
    ids = list(ahead.filter(account__network="mastodon").values_list("pk", flat=True))
    assert ids
    PostTarget.objects.filter(pk__in=ids).update(due_at=db_now() - timedelta(seconds=5))
    assert tasks.sweep_once(grace=0)["due"] == 0

    owner = User.objects.get(username=demo.DEMO_USERNAME)
    client.force_login(owner)
    page = client.get(f"/brands/{brands[0].pk}/publishing/").content.decode()
    from django.utils.html import escape
    from django.utils.translation import gettext, override

    with override(owner.language or "en"):
        notice = gettext("This is the demo workspace: its accounts are made up, so Tertulia never sends its posts "
                         "to a network. Publishing stays paused, and a post that is tried anyway fails with this "
                         "reason without contacting anyone.")
    assert 'class="notice demo-offline"' in page and escape(notice) in page

    # Someone resumes them anyway: each due post fails with the plain reason; nothing is sent.
    for brand in brands:
        services.do_set_brand_paused(Ctx(owner, via="test"), brand, False)
    tasks.sweep_once(grace=0)
    states = set(PostTarget.objects.filter(pk__in=ids).values_list("state", flat=True))
    assert states == {S.FAILED}
    failed = PostTarget.objects.filter(pk__in=ids).first()
    assert "demo workspace" in failed.last_error
    assert fake_mastodon.requests == []
