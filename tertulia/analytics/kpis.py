"""The KPI formulas, in one place, documented. Every function is pure.

A figure that cannot be computed (a missing metric, a zero denominator) is ``None``, never 0:
"we don't know" must not read as "nothing happened". Rates are percentages (3.2 means 3.2 %).

| KPI | formula |
|---|---|
| engagement rate by reach | (likes + comments + shares + saves) / reach × 100 |
| engagement rate by followers | (likes + comments + shares + saves) / followers × 100 |
| community growth rate | (followers at end − followers at start) / followers at start × 100 |
| click-through rate (CTR) | clicks / impressions × 100 |
| response rate | conversations answered / conversations received × 100 |
| response time | median of (first reply − first inbound message), in hours |
| share of voice | brand mentions / (brand + competitor mentions) × 100 |
| return on investment (ROI) | (value − cost) / cost × 100 |

Engagement counts the interactions a network exposes; one it does not expose (``None``) is
left out of the sum, and if none is known the engagement is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from statistics import median

Number = int | float | Decimal


def _ratio(numerator: Number | None, denominator: Number | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator) * 100.0


def engagements(likes=None, comments=None, shares=None, saves=None) -> int | None:
    known = [v for v in (likes, comments, shares, saves) if v is not None]
    return sum(known) if known else None


def engagement_rate_by_reach(*, reach, likes=None, comments=None, shares=None, saves=None) -> float | None:
    return _ratio(engagements(likes, comments, shares, saves), reach)


def engagement_rate_by_followers(*, followers, likes=None, comments=None, shares=None, saves=None) -> float | None:
    return _ratio(engagements(likes, comments, shares, saves), followers)


def growth_rate(start: Number | None, end: Number | None) -> float | None:
    if start is None or end is None:
        return None
    return _ratio(float(end) - float(start), start)


def ctr(*, clicks, impressions) -> float | None:
    return _ratio(clicks, impressions)


def response_rate(*, answered: int, received: int) -> float | None:
    return _ratio(answered, received)


def median_response_hours(delays: Iterable[timedelta | None]) -> float | None:
    """Median first-response delay in hours, over the conversations that were answered."""
    hours = [d.total_seconds() / 3600.0 for d in delays if d is not None]
    return median(hours) if hours else None


def share_of_voice(*, brand_mentions: int, competitor_mentions: Iterable[int]) -> float | None:
    return _ratio(brand_mentions, brand_mentions + sum(competitor_mentions))


def roi(*, value: Number | None, cost: Number | None) -> float | None:
    if value is None or cost is None:
        return None
    return _ratio(Decimal(str(value)) - Decimal(str(cost)), cost)


def on_target(actual: float | None, target: Number, *, lower_is_better: bool = False) -> bool | None:
    """Whether a KPI meets its target; unknown when the actual figure is unknown."""
    if actual is None:
        return None
    return actual <= float(target) if lower_is_better else actual >= float(target)
