"""Pausing and resuming a brand (and an account): nothing goes out while paused; on resume the
due posts go out once (issue 4). Against the loopback fake Mastodon, with on_commit firing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from tertulia.core.models import AuditEvent, Brand
from tertulia.core.services import Ctx, do_add_member
from tertulia.publishing import engine, services, tasks
from tertulia.publishing.clock import db_now
from tertulia.publishing.models import DeliveryAttempt, PostTarget

from .conftest import now, timedelta

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def test_paused_brand_holds_a_due_target_and_resume_publishes_it_once(ctx, brand, make_target, fake_mastodon):
    services.do_set_brand_paused(ctx, brand, True)
    assert Brand.objects.get(pk=brand.pk).publishing_paused
    target = make_target()
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))  # its task runs on commit
    target.refresh_from_db()
    assert target.state == S.SCHEDULED and not fake_mastodon.own_statuses()
    assert not DeliveryAttempt.objects.filter(target=target).exists()
    # A task (or the sweeper's) that comes while paused does nothing either.
    assert tasks.publish_target.call_local(target.pk, target.version) == "paused"
    tasks.sweep_once(grace=0)
    target.refresh_from_db()
    assert target.state == S.SCHEDULED and not fake_mastodon.own_statuses()

    services.do_set_brand_paused(ctx, brand, False)  # re-queues the due target after commit
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    assert len(fake_mastodon.own_statuses()) == 1
    # Resuming again is a no-op, and duplicate tasks find nothing to do.
    services.do_set_brand_paused(ctx, brand, False)
    tasks.sweep_once(grace=0)
    assert len(fake_mastodon.own_statuses()) == 1
    assert list(AuditEvent.objects.filter(brand=brand, action__startswith="brand.publishing_")
                .order_by("pk").values_list("action", flat=True)) == [
        "brand.publishing_pause", "brand.publishing_resume"]


def test_the_claim_itself_refuses_a_paused_brand(ctx, brand, make_target, fake_mastodon):
    """Even a consumer that read the row before the pause cannot claim it: the conditional
    UPDATE checks the brand."""
    target = make_target(due_at=now() - timedelta(seconds=1))
    stale = PostTarget.objects.select_related("account", "post", "brand").get(pk=target.pk)
    assert not stale.brand.publishing_paused
    services.do_set_brand_paused(ctx, brand, True)
    assert engine.claim(stale, db_now()) is None
    assert PostTarget.objects.get(pk=target.pk).state == S.SCHEDULED
    # The stale reader still loses after the resume: the resume's own task claimed it.
    services.do_set_brand_paused(ctx, brand, False)
    assert engine.claim(stale, db_now()) is None
    assert PostTarget.objects.get(pk=target.pk).state == S.PUBLISHED
    assert len(fake_mastodon.own_statuses()) == 1


def test_future_targets_are_not_rushed_by_a_resume(ctx, brand, make_target, fake_mastodon):
    services.do_set_brand_paused(ctx, brand, True)
    later = make_target()
    services.do_schedule(ctx, later, due_at=now() + timedelta(hours=2))
    services.do_set_brand_paused(ctx, brand, False)
    later.refresh_from_db()
    assert later.state == S.SCHEDULED and not fake_mastodon.own_statuses()


def test_brand_and_account_pause_both_hold(ctx, brand, account, make_target, fake_mastodon):
    services.do_set_brand_paused(ctx, brand, True)
    services.do_set_account_paused(ctx, account, True)
    target = make_target()
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    services.do_set_brand_paused(ctx, brand, False)  # the account is still paused
    target.refresh_from_db()
    assert target.state == S.SCHEDULED and not fake_mastodon.own_statuses()
    services.do_set_account_paused(ctx, account, False)
    target.refresh_from_db()
    assert target.state == S.PUBLISHED and len(fake_mastodon.own_statuses()) == 1


@pytest.mark.parametrize("role,allowed", [("manager", True), ("community_manager", False), ("analyst", False),
                                          ("client_reviewer", False)])
def test_who_may_pause_a_brand(ctx, brand, make_user, role, allowed):
    user = make_user(f"p_{role}")
    do_add_member(ctx, brand, user, role)
    who = Ctx(user, via="test")
    if allowed:
        services.do_set_brand_paused(who, brand, True)
        assert Brand.objects.get(pk=brand.pk).publishing_paused
    else:
        with pytest.raises(PermissionDenied):
            services.do_set_brand_paused(who, brand, True)
        assert not Brand.objects.get(pk=brand.pk).publishing_paused


def test_a_stranger_cannot_pause_another_brand(brand, tenant):
    _other, people = tenant("Stranger")
    with pytest.raises(PermissionDenied):
        services.do_set_brand_paused(Ctx(people["owner"], via="test"), brand, True)
    assert not Brand.objects.get(pk=brand.pk).publishing_paused
