"""analytics.services: metric samples are idempotent and a missing metric stays NULL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from tertulia.analytics import services
from tertulia.analytics.models import PostMetricSnapshot, ProfileSnapshot
from tertulia.content.approvals import do_mark_approved
from tertulia.content.services import do_create_post
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
from tertulia.publishing.services import mark_published

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def account(brand_a):
    brand, people = brand_a
    return do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="@alpha@masto.es")


@pytest.fixture
def target(account, brand_a):
    brand, people = brand_a
    post = do_create_post(Ctx(people["owner"]), brand, text="Hola", accounts=[account])
    do_mark_approved(Ctx(people["owner"]), post)
    t = post.targets.get()
    mark_published(t, external_id="1", published_at=T0)
    return t


def test_profile_snapshots_are_idempotent_and_keep_nulls(account):
    samples = [services.ProfileSample(T0 + timedelta(days=d), followers=100 + d, following=None, posts=None)
               for d in range(3)]
    assert services.record_profile_snapshots(account, samples) == 3
    assert services.record_profile_snapshots(account, samples) == 0
    assert ProfileSnapshot.objects.filter(account=account).count() == 3
    assert set(ProfileSnapshot.objects.values_list("following", "posts")) == {(None, None)}


def test_post_metrics_store_null_not_zero(target):
    sample = services.PostMetrics(target=target, taken_at=T0 + timedelta(hours=1), likes=0, shares=3, comments=1)
    assert services.record_post_metrics([sample, sample]) == 1
    row = PostMetricSnapshot.objects.get()
    assert (row.likes, row.shares, row.comments) == (0, 3, 1)  # a real zero is kept
    assert (row.impressions, row.reach, row.saves, row.clicks, row.video_views) == (None,) * 5
    assert services.record_post_metrics([sample]) == 0


@pytest.mark.parametrize("bad", [dict(likes=-1), dict(likes=1.5), dict(likes=True)])
def test_post_metrics_must_be_counts(target, bad):
    with pytest.raises(ValidationError):
        services.record_post_metrics([services.PostMetrics(target=target, taken_at=T0, **bad)])


def test_only_published_targets_have_metrics(account, brand_a):
    brand, people = brand_a
    draft = do_create_post(Ctx(people["owner"]), brand, text="draft", accounts=[account]).targets.get()
    with pytest.raises(ValidationError):
        services.record_post_metrics([services.PostMetrics(target=draft, taken_at=T0, likes=1)])
