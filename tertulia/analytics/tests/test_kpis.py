"""The documented KPI formulas, including what happens when data is missing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tertulia.analytics import kpis


def test_engagement_rates():
    assert kpis.engagement_rate_by_reach(reach=2000, likes=40, comments=10, shares=6, saves=4) == pytest.approx(3.0)
    assert kpis.engagement_rate_by_followers(followers=5000, likes=40, comments=10) == pytest.approx(1.0)
    # Mastodon exposes no saves: left out of the sum, not counted as zero nor poisoning it.
    assert kpis.engagement_rate_by_reach(reach=100, likes=3, comments=1, shares=1, saves=None) == pytest.approx(5.0)


def test_unknown_is_none_never_zero():
    assert kpis.engagement_rate_by_reach(reach=None, likes=5) is None  # reach not exposed
    assert kpis.engagement_rate_by_reach(reach=100) is None  # no interaction metric known
    assert kpis.engagement_rate_by_followers(followers=0, likes=3) is None
    assert kpis.ctr(clicks=10, impressions=0) is None
    assert kpis.growth_rate(None, 120) is None and kpis.growth_rate(0, 10) is None
    assert kpis.response_rate(answered=0, received=0) is None
    assert kpis.median_response_hours([None, None]) is None
    assert kpis.share_of_voice(brand_mentions=0, competitor_mentions=[]) is None
    assert kpis.roi(value=None, cost=100) is None and kpis.roi(value=100, cost=0) is None
    assert kpis.on_target(None, 3) is None


def test_growth_ctr_response_sov_roi():
    assert kpis.growth_rate(1000, 1150) == pytest.approx(15.0)  # "+15 % per quarter"
    assert kpis.growth_rate(1000, 900) == pytest.approx(-10.0)
    assert kpis.ctr(clicks=30, impressions=1500) == pytest.approx(2.0)
    assert kpis.response_rate(answered=45, received=50) == pytest.approx(90.0)
    delays = [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=5), None]
    assert kpis.median_response_hours(delays) == pytest.approx(1.0)  # unanswered ones are left out
    assert kpis.share_of_voice(brand_mentions=30, competitor_mentions=[50, 20]) == pytest.approx(30.0)
    assert kpis.roi(value=Decimal("1500.00"), cost=Decimal("1000.00")) == pytest.approx(50.0)
    assert kpis.roi(value=500, cost=1000) == pytest.approx(-50.0)


def test_targets_in_both_directions():
    assert kpis.on_target(3.2, 3) is True and kpis.on_target(2.9, 3) is False
    assert kpis.on_target(1.5, 2, lower_is_better=True) is True  # response time under 2 h
    assert kpis.on_target(2.5, Decimal("2"), lower_is_better=True) is False


@given(st.one_of(st.none(), st.integers(0, 10**9)), st.one_of(st.none(), st.integers(0, 10**9)))
def test_rates_never_crash_and_are_none_or_finite(num, den):
    value = kpis.ctr(clicks=num, impressions=den)
    assert value is None or (value >= 0 and value == value)
