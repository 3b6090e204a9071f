"""Best time to post: per account, from its own published posts.

A day × hour grid in the brand's time zone (Monday = 0; the local hour of publication, so a
post at 09:00 in winter and one at 09:00 in summer share a cell). Each cell holds the average
score of the posts published in it and how many posts that is. A cell counts only with at
least ``MIN_SAMPLES`` posts: below that the average is noise and the cell is "unknown".

The score is the engagement rate by reach of each post ((likes + comments + shares + saves) /
reach × 100, ``kpis.engagement_rate_by_reach``). For an account whose network never reports
reach (Bluesky, for example), the score is the engagements per post instead; ``metric`` says
which one a grid uses, and the page names it.

History: the last ``HISTORY_DAYS`` days of posts, read from the ``PostMetricLatest`` rollup
(one row per post; an account publishes at most a few thousand posts a year).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from statistics import fmean

from django.utils import timezone

from tertulia.networks.models import SocialAccount

from . import kpis
from .models import PostMetricLatest

MIN_SAMPLES = 3
HISTORY_DAYS = 365
ENGAGEMENT_RATE = "engagement_rate"
ENGAGEMENTS = "engagements"


@dataclass(frozen=True)
class Cell:
    weekday: int  # 0 = Monday
    hour: int  # 0..23, brand's wall clock
    score: float | None  # None: fewer than min_samples posts (or none)
    samples: int


@dataclass(frozen=True)
class BestTime:
    account_id: int
    metric: str  # ENGAGEMENT_RATE or ENGAGEMENTS
    min_samples: int
    posts: int  # posts with a score in the history
    cells: list[Cell]  # 7 × 24, Monday 00:00 first

    def cell(self, weekday: int, hour: int) -> Cell:
        return self.cells[weekday * 24 + hour]


def heatmap(account: SocialAccount, *, now: datetime | None = None, min_samples: int = MIN_SAMPLES,
            days: int = HISTORY_DAYS) -> BestTime:
    """The account's day × hour grid over the last ``days`` days."""
    now = now or timezone.now()
    tz = account.brand.tzinfo
    rows = list(PostMetricLatest.objects.filter(brand_id=account.brand_id, account_id=account.pk,
                                                published_at__gte=now - timedelta(days=days),
                                                published_at__lt=now)
                .values_list("published_at", "reach", "likes", "comments", "shares", "saves"))
    rated = [(at, kpis.engagement_rate_by_reach(reach=reach, likes=li, comments=co, shares=sh, saves=sa))
             for at, reach, li, co, sh, sa in rows]
    rated = [(at, v) for at, v in rated if v is not None]
    metric = ENGAGEMENT_RATE
    if not rated:  # the network gives no reach: fall back to engagements per post
        metric = ENGAGEMENTS
        rated = [(at, kpis.engagements(li, co, sh, sa)) for at, _r, li, co, sh, sa in rows]
        rated = [(at, float(v)) for at, v in rated if v is not None]
    buckets: dict[tuple[int, int], list[float]] = defaultdict(list)
    for at, score in rated:
        local = at.astimezone(tz)
        buckets[(local.weekday(), local.hour)].append(score)
    cells = []
    for weekday in range(7):
        for hour in range(24):
            values = buckets.get((weekday, hour), [])
            cells.append(Cell(weekday, hour, fmean(values) if len(values) >= max(1, min_samples) else None,
                              len(values)))
    return BestTime(account.pk, metric, min_samples, len(rated), cells)


def suggest_slots(account: SocialAccount, n: int = 3, *, now: datetime | None = None,
                  min_samples: int = MIN_SAMPLES) -> list[tuple[int, int, float, int]]:
    """The ``n`` best (weekday, hour, score, samples) of the account, best score first (ties:
    more samples first, then earlier in the week). Only cells with enough samples."""
    return best_cells(heatmap(account, now=now, min_samples=min_samples), n)


def best_cells(grid: BestTime, n: int = 3) -> list[tuple[int, int, float, int]]:
    known = [c for c in grid.cells if c.score is not None]
    known.sort(key=lambda c: (-c.score, -c.samples, c.weekday, c.hour))
    return [(c.weekday, c.hour, c.score, c.samples) for c in known[: max(0, n)]]


@dataclass(frozen=True)
class Suggestion:
    """A suggested posting time for the composer and the queue slots page."""

    account_id: int
    account: str  # the handle (untrusted text: templates escape it)
    network: str
    weekday: int
    hour: int
    score: float
    samples: int
    metric: str

    @property
    def wall_time(self) -> time:
        return time(self.hour, 0)

    @property
    def weekday_label(self) -> str:
        from django.utils.dates import WEEKDAYS

        return str(WEEKDAYS[self.weekday])


def brand_suggestions(brand, *, n: int = 3, accounts=None, now: datetime | None = None) -> list[Suggestion]:
    """``suggest_slots`` for each connected account of the brand (or ``accounts``)."""
    if accounts is None:
        accounts = SocialAccount.objects.filter(brand=brand).exclude(status=SocialAccount.Status.DISABLED)
    out = []
    for account in accounts:
        account.brand = brand
        grid = heatmap(account, now=now)
        for weekday, hour, score, samples in best_cells(grid, n):
            out.append(Suggestion(account.pk, account.handle, account.network, weekday, hour, score, samples,
                                  grid.metric))
    return out
