"""A 429 storm against the fake: many targets on one account while the network keeps saying
"slow down" -> no duplicates, all published once the window resets, every attempt logged."""

from __future__ import annotations

import time

import pytest
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount
from tertulia.publishing import services
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tertulia.publishing.states import FINISHED
from tests.fakes.mastodon import Fault

from .conftest import now, timedelta

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def _drain_all(targets, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        states = {t.pk: t.state for t in PostTarget.objects.filter(pk__in=[t.pk for t in targets])}
        if all(state in FINISHED for state in states.values()):
            return states
        assert time.monotonic() < deadline, f"not finished: {states}"
        for task in HUEY.read_schedule():
            HUEY.execute(task)
        time.sleep(0.05)


def test_a_429_storm_publishes_everything_once_after_the_reset(ctx, make_target, fake_mastodon):
    # The server's own window: 4 posts per 2 seconds for this token, with x-ratelimit-* headers,
    # plus 429s with Retry-After thrown in on top.
    fake_mastodon.rate_limits["api"] = (4, 2.0)
    fake_mastodon.inject("POST /api/v1/statuses", Fault.rate_limited(reset_in=1, retry_after=1), times=3)
    targets = [make_target(text=f"Tormenta {i}") for i in range(10)]
    for target in targets:
        services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    states = _drain_all(targets)
    assert set(states.values()) == {S.PUBLISHED}
    statuses = fake_mastodon.own_statuses()
    assert sorted(s["text"] for s in statuses) == sorted(f"Tormenta {i}" for i in range(10))  # once each
    ids = {t.external_id for t in PostTarget.objects.filter(pk__in=[t.pk for t in targets])}
    assert ids == {s["id"] for s in statuses}
    limited = DeliveryAttempt.objects.filter(error_kind="rate_limited")
    assert limited.count() >= 3  # every 429 (and every deferral) is in the delivery log
    assert all(a.outcome == "retry" and a.retry_at is not None for a in limited)
    assert all("slow down" in a.user_message for a in limited)
    # The account was blocked (the signal every consumer shares) and the block has passed.
    account = SocialAccount.objects.get(pk=targets[0].account_id)
    assert account.blocked_until is not None and account.blocked_until <= now()
    # Nothing was sent while the account was blocked: the requests that got a 429 are the three
    # injected ones plus at most what the server's own window refused.
    refused = [r for r in fake_mastodon.requests_to("POST", "/api/v1/statuses") if r.status == 429]
    assert 3 <= len(refused) <= 6
