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

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from statistics import fmean

from django.core.cache import cache
from django.db.models import Count, Max, Min, Sum
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


def _buckets(rows, tz) -> tuple[str, dict[tuple[int, int], list[float]]]:
    """(metric, scores by local (weekday, hour)) of ``(published_at, reach, likes, comments,
    shares, saves)`` rows: the engagement rate by reach, or engagements per post when the
    network gives no reach."""
    rated = [(at, kpis.engagement_rate_by_reach(reach=reach, likes=li, comments=co, shares=sh, saves=sa))
             for at, reach, li, co, sh, sa in rows]
    rated = [(at, v) for at, v in rated if v is not None]
    metric = ENGAGEMENT_RATE
    if not rated:
        metric = ENGAGEMENTS
        rated = [(at, kpis.engagements(li, co, sh, sa)) for at, _r, li, co, sh, sa in rows]
        rated = [(at, float(v)) for at, v in rated if v is not None]
    buckets: dict[tuple[int, int], list[float]] = defaultdict(list)
    for at, score in rated:
        local = at.astimezone(tz)
        buckets[(local.weekday(), local.hour)].append(score)
    return metric, buckets


def heatmap(account: SocialAccount, *, now: datetime | None = None, min_samples: int = MIN_SAMPLES,
            days: int = HISTORY_DAYS) -> BestTime:
    """The account's day × hour grid over the last ``days`` days."""
    now = now or timezone.now()
    tz = account.brand.tzinfo
    rows = list(PostMetricLatest.objects.filter(brand_id=account.brand_id, account_id=account.pk,
                                                published_at__gte=now - timedelta(days=days),
                                                published_at__lt=now)
                .values_list("published_at", "reach", "likes", "comments", "shares", "saves"))
    metric, buckets = _buckets(rows, tz)
    cells = []
    for weekday in range(7):
        for hour in range(24):
            values = buckets.get((weekday, hour), [])
            cells.append(Cell(weekday, hour, fmean(values) if len(values) >= max(1, min_samples) else None,
                              len(values)))
    return BestTime(account.pk, metric, min_samples, sum(map(len, buckets.values())), cells)


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


CACHE_SECONDS = 3600


def brand_suggestions(brand, *, n: int = 3, accounts=None, now: datetime | None = None) -> list[Suggestion]:
    """``suggest_slots`` for each connected account of the brand (or ``accounts``).

    The same figures as ``heatmap`` + ``best_cells`` per account, read with one query for all
    the accounts and without building the 168 cells of each grid (only the best are needed).
    Without ``now``, the best cells are cached under a version of their inputs: the count, ids,
    first and last publication times, newest sample time and metric sums of the rows in the
    window, read with one aggregate query. Rows enter or leave the window, or get a newer sample
    (``analytics.services._keep_latest`` is the only writer, and a new sample always has a later
    ``taken_at``), and the version changes, so a cached answer is never stale."""
    if accounts is None:
        accounts = SocialAccount.objects.filter(brand=brand).exclude(status=SocialAccount.Status.DISABLED)
    accounts = list(accounts)
    if not accounts:
        return []
    use_cache = now is None
    now = now or timezone.now()
    ids = sorted({a.pk for a in accounts})
    window = PostMetricLatest.objects.filter(brand_id=brand.pk, account_id__in=ids,
                                             published_at__gte=now - timedelta(days=HISTORY_DAYS),
                                             published_at__lt=now)
    best = None
    key = None
    if use_cache:
        version = window.aggregate(
            rows=Count("id"), ids=Sum("id"), first=Min("published_at"), last=Max("published_at"),
            taken=Max("taken_at"), reach=Sum("reach"), likes=Sum("likes"), comments=Sum("comments"),
            shares=Sum("shares"), saves=Sum("saves"))
        raw = repr((brand.pk, brand.timezone, n, MIN_SAMPLES, HISTORY_DAYS, ids, sorted(version.items())))
        key = "best_time:brand:" + hashlib.sha256(raw.encode()).hexdigest()
        best = cache.get(key)  # a Redis that is down is a miss (core/cache.py)
    if best is None:
        best = _best_by_account(window, ids, brand.tzinfo, n)
        if key is not None:
            cache.set(key, best, CACHE_SECONDS)
    out = []
    for account in accounts:
        account.brand = brand
        metric, cells = best[account.pk]
        for weekday, hour, score, samples in cells:
            out.append(Suggestion(account.pk, account.handle, account.network, weekday, hour, score, samples,
                                  metric))
    return out


def _best_by_account(window, ids, tz, n: int) -> dict[int, tuple[str, list[tuple[int, int, float, int]]]]:
    """For each account id: (metric, its ``n`` best cells), computed as ``heatmap`` and
    ``best_cells`` do, from the rows of ``window``."""
    rows_by_account: dict[int, list[tuple]] = {pk: [] for pk in ids}
    for row in window.values_list("account_id", "published_at", "reach", "likes", "comments", "shares", "saves"):
        rows_by_account[row[0]].append(row[1:])
    floor = max(1, MIN_SAMPLES)
    best = {}
    for pk, rows in rows_by_account.items():
        metric, buckets = _buckets(rows, tz)
        known = [(weekday, hour, fmean(values), len(values)) for (weekday, hour), values in buckets.items()
                 if len(values) >= floor]
        known.sort(key=lambda c: (-c[2], -c[3], c[0], c[1]))  # best_cells' order
        best[pk] = (metric, known[: max(0, n)])
    return best
