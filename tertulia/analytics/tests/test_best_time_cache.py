"""The composer's best-time suggestions are cached under a version of their inputs: the same
answer as the computation, and a new or newer metric sample shows at once."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from tertulia.analytics import best_time, services
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account

from .test_figures import _post

pytestmark = pytest.mark.django_db


def test_cached_suggestions_follow_their_inputs(brand_a):
    brand, people = brand_a
    owner = people["owner"]
    masto = do_add_account(Ctx(owner), brand, network="mastodon", handle="@alpha@masto.es")
    today = timezone.now().astimezone(brand.tzinfo).date()
    # 10:00 in the brand's zone, one, two and three weeks ago: one cell, whatever DST does.
    targets = [_post(owner, brand, masto, f"p{i}",
                     datetime.combine(today - timedelta(days=7 * i), time(10), tzinfo=brand.tzinfo),
                     reach=100, likes=i)
               for i in (1, 2, 3)]

    def fresh():  # with ``now``: computed, never cached
        return best_time.brand_suggestions(brand, now=timezone.now())

    first = best_time.brand_suggestions(brand)
    assert first == fresh() and len(first) == 1 and first[0].score == pytest.approx(2.0)
    assert best_time.brand_suggestions(brand) == first  # from the cache

    # A newer sample of one post changes its score: the version changes with it.
    services.record_post_metrics([services.PostMetrics(target=targets[0], taken_at=timezone.now(),
                                                       reach=100, likes=31)])
    second = best_time.brand_suggestions(brand)
    assert second == fresh() and second[0].score == pytest.approx(12.0)
