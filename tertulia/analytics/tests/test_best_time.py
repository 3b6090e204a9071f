"""Best time to post: the day × hour grid in the brand's zone (across a DST change), the
minimum sample, the fallback score, the suggestions, and where they show up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import translation

from tertulia.analytics import best_time
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account

from .test_figures import _post

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def accounts(brand_a):
    brand, people = brand_a
    owner = people["owner"]
    masto = do_add_account(Ctx(owner), brand, network="mastodon", handle="@alpha@masto.es")
    # Mondays at 09:00 / 09:30 in Madrid, before and after the change to summer time (29 March).
    for at, likes in ((_utc(2026, 3, 23, 8), 20), (_utc(2026, 3, 30, 7), 40), (_utc(2026, 4, 6, 7, 30), 60)):
        _post(owner, brand, masto, "lunes", at, reach=1000, likes=likes)  # 2 %, 4 %, 6 %
    for at, likes in ((_utc(2026, 4, 7, 16), 100), (_utc(2026, 4, 14, 16), 200)):  # Tuesdays 18:00: only 2
        _post(owner, brand, masto, "martes", at, reach=1000, likes=likes)
    for day in (1, 8, 15):  # Wednesdays 12:00 CEST
        _post(owner, brand, masto, "miércoles", _utc(2026, 4, day, 10), reach=100, likes=1)
    _post(owner, brand, masto, "sin alcance", _utc(2026, 4, 1, 10), likes=50)  # no reach: not in the rate
    _post(owner, brand, masto, "hace dos años", _utc(2024, 4, 1, 10), reach=10, likes=10)  # outside the history
    bsky = do_add_account(Ctx(owner), brand, network="bluesky", handle="alpha.bsky.social")
    for day, likes in ((2, 3), (9, 5), (16, 10)):  # Thursdays 20:00 CEST, no reach on Bluesky
        _post(owner, brand, bsky, "jueves", _utc(2026, 4, day, 18), likes=likes, comments=2)
    return brand, people, masto, bsky


def test_grid_in_the_brand_zone_with_minimum_sample(accounts):
    _brand, _people, masto, _bsky = accounts
    grid = best_time.heatmap(masto, now=NOW)
    assert grid.metric == best_time.ENGAGEMENT_RATE and len(grid.cells) == 7 * 24
    monday9 = grid.cell(0, 9)
    assert (monday9.samples, monday9.score) == (3, pytest.approx(4.0))  # the DST week lands on 09:00 too
    assert grid.cell(0, 8).samples == 0 and grid.cell(0, 10).samples == 0
    tuesday = grid.cell(1, 18)
    assert (tuesday.samples, tuesday.score) == (2, None)  # below the minimum: unknown
    assert grid.cell(2, 12).score == pytest.approx(1.0) and grid.cell(2, 12).samples == 3
    assert grid.posts == 8
    assert best_time.heatmap(masto, now=NOW, min_samples=2).cell(1, 18).score == pytest.approx(15.0)


def test_suggestions_best_first(accounts):
    _brand, _people, masto, _bsky = accounts
    assert best_time.suggest_slots(masto, n=3, now=NOW) == [(0, 9, pytest.approx(4.0), 3),
                                                             (2, 12, pytest.approx(1.0), 3)]
    assert best_time.suggest_slots(masto, n=1, now=NOW)[0][:2] == (0, 9)
    assert best_time.suggest_slots(masto, n=0, now=NOW) == []


def test_networks_without_reach_use_engagements_per_post(accounts):
    _brand, _people, _masto, bsky = accounts
    grid = best_time.heatmap(bsky, now=NOW)
    assert grid.metric == best_time.ENGAGEMENTS
    assert grid.cell(3, 20).score == pytest.approx((5 + 7 + 12) / 3)


def test_suggestions_show_in_the_composer_and_the_slots_page(accounts, client):
    brand, people, _masto, _bsky = accounts
    client.force_login(people["community_manager"])
    with translation.override("en"):
        page = client.get(reverse("section_compose", args=[brand.pk])).content.decode()
    assert "Best times from each account&#x27;s history" in page or "Best times from each account's history" in page
    assert "@alpha@masto.es" in page
    slots = client.get(reverse("queue_slots", args=[brand.pk])).content.decode()
    assert 'class="best-times"' in slots
