"""The figures behind the dashboards and the reports: pure reads, no writes, no caching.

Every function takes ``brand_ids`` (one brand or many, for the cross-brand dashboard; the
caller has already checked access through ``tertulia.core.scoping``) and a ``Period``. A figure
that cannot be known is ``None`` (shown as "—" with a note), never 0.

Where the numbers come from
- posts: the ``PostMetricLatest`` rollup (one row per published target, its newest sample),
  selected by publication time in the period and aggregated in SQL (index brand, published_at);
- followers: ``ProfileSnapshot`` (the last sample at or before an instant, per account);
- inbox, web traffic, ROI: ``inbox_metrics.summary``, ``traffic.social_visits``, ``roi.campaigns``;
- share of voice: ``tertulia.listening.trends.share_of_voice``;
- the formulas: ``tertulia.analytics.kpis`` (documented there).

Engagement rate (``ENGAGEMENT_RATE_DEFINITION``): by reach, over the posts whose reach is known
and non-zero and that have at least one known interaction count:
Σ(likes + comments + shares + saves) / Σ reach × 100. A count the network does not expose is left
out of the sum (kpis.engagements).

Traffic light of a KPI (``kpi_light``): "ok" (green) when the actual figure meets the target
(≥, or ≤ when lower is better); "warn" (amber) when it misses by at most 10 % of the target;
"fail" (red) when it misses by more; "unknown" (grey) when the actual figure is unknown.
The trend compares the period with the previous one of the same length: "up", "down" or "flat"
(a change under 0.5 % of the previous value), ``None`` when either is unknown.
"""

from __future__ import annotations

import calendar
import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Max, Q, Sum
from django.utils.translation import gettext_lazy as _

from tertulia.core.models import Brand
from tertulia.networks.models import Network, SocialAccount

from . import kpis
from .models import PostMetricLatest, ProfileSnapshot

ENGAGEMENT_RATE_DEFINITION = _(
    "Engagement rate by reach = (likes + comments + shares + saves) ÷ reach × 100, over the posts "
    "published in the period whose reach is known. Interactions a network does not report are left out."
)
LIGHT_RULE = _(
    "Green: on target. Amber: misses the target by 10 % of it or less. Red: misses it by more. "
    "Grey: the figure is unknown."
)
METRIC_FIELDS = ("impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "video_views")
ENGAGEMENT_FIELDS = ("likes", "comments", "shares", "saves")
MAX_PERIOD_DAYS = 400
PERIOD_KINDS = ("7d", "30d", "90d", "month", "quarter", "year", "custom")


# --- Periods -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """Whole days ``first_day``..``last_day`` (both included) in the time zone ``tz`` (the
    brand's). ``start``/``end`` are the aware UTC instants (end exclusive) that every query
    uses; a day with a DST change is 23 or 25 hours long, as on the wall clock."""

    first_day: date
    last_day: date
    tz: ZoneInfo
    kind: str = "custom"
    # The current month, quarter or year runs to its end, but only its days up to ``through``
    # (today) have happened: the comparison period then covers as many days, not a whole one.
    through: date | None = None

    def __post_init__(self):
        if self.last_day < self.first_day:
            raise ValueError("last_day before first_day")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def previous(self) -> Period:
        """The comparison period: the previous month/quarter/year for those kinds (to the same
        day of it when this one is to date: 1–26 October for 1–26 November), else the same
        number of days just before."""
        if self.kind == "month":
            previous = Period.month(self.tz, *_shift_month(self.first_day.year, self.first_day.month, -1))
        elif self.kind == "quarter":
            y, m = _shift_month(self.first_day.year, self.first_day.month, -3)
            previous = Period.quarter(self.tz, y, (m - 1) // 3 + 1)
        elif self.kind == "year":
            previous = Period.year(self.tz, self.first_day.year - 1)
        else:
            last = self.first_day - timedelta(days=1)
            return Period(last - timedelta(days=self.days - 1), last, self.tz, self.kind)
        if self.through is None or self.through >= self.last_day:
            return previous
        elapsed = timedelta(days=max(0, (self.through - self.first_day).days))
        return Period(previous.first_day, min(previous.last_day, previous.first_day + elapsed), self.tz, self.kind)

    # Constructors ------------------------------------------------------------------------
    @classmethod
    def last_days(cls, tz: ZoneInfo, days: int, *, last_day: date | None = None) -> Period:
        """``days`` days ending on ``last_day`` (default: today in ``tz``), e.g. the weekly
        report's ``Period.last_days(brand.tzinfo, 7, last_day=period_end)``."""
        last = last_day or datetime.now(tz).date()
        return cls(last - timedelta(days=days - 1), last, tz, f"{days}d" if days in (7, 30, 90) else "custom")

    @classmethod
    def month(cls, tz: ZoneInfo, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), tz, "month")

    @classmethod
    def quarter(cls, tz: ZoneInfo, year: int, quarter: int) -> Period:
        first_month = 3 * (quarter - 1) + 1
        last_month = first_month + 2
        return cls(date(year, first_month, 1), date(year, last_month, calendar.monthrange(year, last_month)[1]),
                   tz, "quarter")

    @classmethod
    def year(cls, tz: ZoneInfo, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31), tz, "year")

    @classmethod
    def containing(cls, kind: str, tz: ZoneInfo, day: date) -> Period:
        """The month, quarter or year that contains ``day``."""
        if kind == "month":
            return cls.month(tz, day.year, day.month)
        if kind == "quarter":
            return cls.quarter(tz, day.year, (day.month - 1) // 3 + 1)
        if kind == "year":
            return cls.year(tz, day.year)
        raise ValueError(kind)

    @classmethod
    def custom(cls, tz: ZoneInfo, first_day: date, last_day: date) -> Period:
        """A period the user chose; ValueError if reversed or longer than MAX_PERIOD_DAYS."""
        if last_day < first_day:
            raise ValueError("reversed")
        if (last_day - first_day).days + 1 > MAX_PERIOD_DAYS:
            raise ValueError("too long")
        return cls(first_day, last_day, tz, "custom")

    @classmethod
    def of_kind(cls, kind: str, tz: ZoneInfo, *, today: date | None = None) -> Period:
        """The picker's choices: the last 7/30/90 days up to today, or the current month,
        quarter or year (to date: the period runs to its end, the future simply has no data)."""
        today = today or datetime.now(tz).date()
        if kind in ("7d", "30d", "90d"):
            return cls.last_days(tz, int(kind[:-1]), last_day=today)
        return dataclasses.replace(cls.containing(kind, tz, today), through=today)


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


# --- SQL helpers -------------------------------------------------------------------------------

def _posts(brand_ids: Sequence[int], period: Period):
    return PostMetricLatest.objects.filter(brand_id__in=list(brand_ids), published_at__gte=period.start,
                                           published_at__lt=period.end)


_KNOWN_ENGAGEMENT = Q(likes__isnull=False) | Q(comments__isnull=False) | Q(shares__isnull=False) | Q(saves__isnull=False)


_ENG_KNOWN_SQL = "(likes IS NOT NULL OR comments IS NOT NULL OR shares IS NOT NULL OR saves IS NOT NULL)"
_ER_SQL = f"({_ENG_KNOWN_SQL} AND reach > 0)"
_CTR_SQL = "(clicks IS NOT NULL AND impressions > 0)"
_AGG_COLUMNS = (
    [("posts", "COUNT(*)")]
    + [(f"s_{f}", f"SUM({f})") for f in METRIC_FIELDS]
    + [(f"er_{f}", f"SUM(CASE WHEN {_ER_SQL} THEN {f} END)") for f in ENGAGEMENT_FIELDS]
    + [(f"fl_{f}", f"SUM(CASE WHEN {_ENG_KNOWN_SQL} THEN {f} END)") for f in ENGAGEMENT_FIELDS]
    + [("er_reach", f"SUM(CASE WHEN {_ER_SQL} THEN reach END)"),
       ("er_posts", f"SUM(CASE WHEN {_ER_SQL} THEN 1 ELSE 0 END)"),
       ("ctr_clicks", f"SUM(CASE WHEN {_CTR_SQL} THEN clicks END)"),
       ("ctr_impressions", f"SUM(CASE WHEN {_CTR_SQL} THEN impressions END)")]
)


def _hour_sql() -> str:
    """The publication time cut to its UTC hour, natively (stored as UTC text on SQLite)."""
    if connection.vendor == "sqlite":
        return "substr(published_at, 1, 13)"
    return "date_trunc('hour', published_at AT TIME ZONE 'UTC')"


def _aggregate(brand_ids: Sequence[int], period: Period, group: str | tuple[str, ...] | None = None) -> list[dict]:
    """The sums of ``_AGG_COLUMNS`` over the period's posts (``PostMetricLatest``, index brand,
    published_at), one dict per group (``group``: SQL expressions, keys ``_g0``, ``_g1``…), or
    one dict for all posts. Plain SQL: the same on SQLite and PostgreSQL, and no ORM
    expression building on every request (dozens of filtered aggregates are costly to compile)."""
    return _aggregate_many(brand_ids, [("", period, group)])[""]


# How ``_aggregate_many`` reads a group key back (every key travels as text in the UNION).
_GROUP_TYPES = {"brand_id": int, "pillar_id": int}


def _aggregate_many(brand_ids: Sequence[int], branches) -> dict[str, list[dict]]:
    """Several ``_aggregate`` calls in one round trip: ``branches`` is a list of
    ``(name, period, group)``; returns ``{name: rows}``, each as ``_aggregate`` would. The
    branches are a UNION ALL, every group key cast to text (and read back: ``_GROUP_TYPES``),
    so their columns line up on both databases."""
    brand_ids = [int(b) for b in brand_ids]
    if not brand_ids:
        brand_ids = [-1]
    table = PostMetricLatest._meta.db_table
    marks = ", ".join(["%s"] * len(brand_ids))
    adapt = connection.ops.adapt_datetimefield_value
    specs = [(name, period, (group,) if isinstance(group, str) else tuple(group or ())) for name, period, group in branches]
    width = max(len(groups) for _n, _p, groups in specs)
    aggs = ", ".join(f"{sql} AS {col}" for col, sql in _AGG_COLUMNS)
    parts, params = [], []
    for i, (_name, period, groups) in enumerate(specs):
        keys = [f"CAST({g} AS TEXT) AS _g{k}" for k, g in enumerate(groups)]
        keys += [f"CAST(NULL AS TEXT) AS _g{k}" for k in range(len(groups), width)]
        sql = (f"SELECT {i} AS _branch, {', '.join(keys + [aggs])} FROM {table} "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
               f"WHERE brand_id IN ({marks}) AND published_at >= %s AND published_at < %s")
        if groups:
            sql += " GROUP BY " + ", ".join(groups)
        parts.append(sql)
        params += [*brand_ids, adapt(period.start), adapt(period.end)]
    out: dict[str, list[dict]] = {name: [] for name, _p, _g in specs}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        names = [c[0] for c in cursor.description][1:]
        for row in cursor.fetchall():
            name, _period, groups = specs[row[0]]
            values = dict(zip(names, row[1:]))
            for k in range(width):
                if k >= len(groups):
                    del values[f"_g{k}"]
                elif values[f"_g{k}"] is not None and groups[k] in _GROUP_TYPES:
                    values[f"_g{k}"] = _GROUP_TYPES[groups[k]](values[f"_g{k}"])
            out[name].append(values)
    return out


@dataclass(frozen=True)
class PostGroup:
    """Totals of the posts of one group (all posts, a pillar, a format, a network, an hour)."""

    key: str | int | None
    label: str
    posts: int
    impressions: int | None
    reach: int | None
    engagements: int | None  # likes + comments + shares + saves that are known
    clicks: int | None
    video_views: int | None
    engagement_rate: float | None  # by reach, see ENGAGEMENT_RATE_DEFINITION
    ctr: float | None  # clicks / impressions × 100 over posts where both are known
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None


def _group(key, label, row: dict) -> PostGroup:
    return PostGroup(
        key=key, label=str(label), posts=row["posts"] or 0,
        impressions=row["s_impressions"], reach=row["s_reach"],
        engagements=kpis.engagements(*(row[f"fl_{n}"] for n in ENGAGEMENT_FIELDS)),
        clicks=row["s_clicks"], video_views=row["s_video_views"],
        engagement_rate=kpis.engagement_rate_by_reach(reach=row["er_reach"], **{
            n: row[f"er_{n}"] for n in ENGAGEMENT_FIELDS}),
        ctr=kpis.ctr(clicks=row["ctr_clicks"], impressions=row["ctr_impressions"]),
        likes=row["s_likes"], comments=row["s_comments"], shares=row["s_shares"], saves=row["s_saves"],
    )


def _merge_rows(rows: list[dict]) -> dict:
    """Adds grouped SQL rows (e.g. UTC hours folded into local hours), keeping NULL = unknown."""
    out: dict = {}
    for row in rows:
        for k, v in row.items():
            if k.startswith("_"):
                continue
            if v is None:
                out.setdefault(k, None)
            else:
                out[k] = (out.get(k) or 0) + v
    return out


# --- Posts -------------------------------------------------------------------------------------

def post_totals(brand_ids: Sequence[int], period: Period) -> PostGroup:
    """All posts published in the period."""
    return _group("all", _("All posts"), _aggregate(brand_ids, period)[0])


def by_network(brand_ids: Sequence[int], period: Period) -> list[PostGroup]:
    return _networks(_aggregate(brand_ids, period, "network"))


def _networks(rows: list[dict]) -> list[PostGroup]:
    labels = dict(Network.choices)
    rows = sorted(rows, key=lambda r: r["_g0"])
    return [_group(r["_g0"], labels.get(r["_g0"], r["_g0"]), r) for r in rows]


def by_format(brand_ids: Sequence[int], period: Period) -> list[PostGroup]:
    return _formats(_aggregate(brand_ids, period, "format"))


def _formats(rows: list[dict]) -> list[PostGroup]:
    from tertulia.content.models import Post

    labels = dict(Post.Format.choices)
    rows = sorted(rows, key=lambda r: r["_g0"])
    return [_group(r["_g0"], labels.get(r["_g0"], r["_g0"] or _("Unknown")), r) for r in rows]


def by_pillar(brand_ids: Sequence[int], period: Period) -> list[PostGroup]:
    """Per content pillar (the pillar's name; posts without one, or of a deleted pillar,
    together as "No pillar"), largest reach first."""
    return _pillars(_aggregate(brand_ids, period, _pillar_group(brand_ids)))


def _pillar_group(brand_ids: Sequence[int]) -> tuple[str, str]:
    """Group by pillar, with the pillar's name when it is one of these brands' (read in the
    same query)."""
    from tertulia.strategy.models import ContentPillar

    ids = ", ".join(str(int(b)) for b in brand_ids) or "-1"
    return ("pillar_id", f"(SELECT cp.name FROM {ContentPillar._meta.db_table} cp "  # nosec B608 # identifiers from model metadata, integer ids
                         f"WHERE cp.id = pillar_id AND cp.brand_id IN ({ids}))")


def _pillars(rows: list[dict]) -> list[PostGroup]:
    names = {r["_g0"]: r["_g1"] for r in rows if r["_g0"] is not None and r["_g1"] is not None}
    merged: dict = {}
    for r in rows:
        key = r["_g0"] if r["_g0"] in names else None
        merged.setdefault(key, []).append(r)
    groups = [_group(k, names[k] if k is not None else _("No pillar"), _merge_rows(rs)) for k, rs in merged.items()]
    return sorted(groups, key=lambda g: (g.key is None, -(g.reach or 0), g.label.casefold()))


def _as_utc_hour(value) -> datetime:
    if isinstance(value, str):
        return datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]), tzinfo=UTC)
    if value.tzinfo is None:  # date_trunc of a UTC wall time
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _brand_zones(brand_ids: Sequence[int]) -> dict[int, ZoneInfo]:
    return {pk: ZoneInfo(tz) for pk, tz in Brand.objects.filter(pk__in=list(brand_ids)).values_list("pk", "timezone")}


def by_hour(brand_ids: Sequence[int], period: Period) -> list[PostGroup]:
    """Per hour of the day of publication, 0..23, in each brand's own time zone (so a
    cross-brand view compares local hours), every hour present (``posts`` 0 when none).
    Grouped in SQL by brand and UTC hour, then each bucket moved to local time: the offset of
    that very hour is used, so DST weeks land right."""
    return _hours(_aggregate(brand_ids, period, _hour_group()), _brand_zones(brand_ids), period.tz)


def _hour_group() -> tuple[str, str]:
    return ("brand_id", _hour_sql())


def _hours(rows: list[dict], zones: dict[int, ZoneInfo], default_tz: ZoneInfo) -> list[PostGroup]:
    per_hour: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        tz = zones.get(r["_g0"], default_tz)
        per_hour[_as_utc_hour(r["_g1"]).astimezone(tz).hour].append(r)
    empty = {name: None for name, _sql in _AGG_COLUMNS} | {"posts": 0, "er_posts": 0}
    return [_group(h, f"{h:02d}:00", _merge_rows(per_hour[h]) if h in per_hour else empty) for h in range(24)]


@dataclass(frozen=True)
class PostRow:
    """One post in the top/bottom lists. ``text`` is the post's plain text (untrusted: templates
    escape it), cut to 280 characters."""

    target_id: int
    post_id: int
    brand_id: int
    network: str
    network_label: str
    account: str
    text: str
    published_at: datetime  # aware UTC; show in the brand's zone
    pillar: str | None
    format: str
    reach: int | None
    impressions: int | None
    engagements: int | None
    engagement_rate: float | None
    url: str


def top_posts(brand_ids: Sequence[int], period: Period, n: int = 5, *, bottom: bool = False) -> list[PostRow]:
    """The ``n`` posts with the highest (or, ``bottom``, lowest) engagement rate by reach among
    those whose rate is known; ties by reach (larger first), then by publication time."""
    return _ranked_posts(brand_ids, period, n, ("bottom",) if bottom else ("top",))["bottom" if bottom else "top"]


def _aware(value) -> datetime:
    """A datetime read with a plain cursor (UTC text on SQLite) as the ORM reads it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _ranked_posts(brand_ids: Sequence[int], period: Period, n: int, sides=("top", "bottom")) -> dict[str, list[PostRow]]:
    """``top_posts`` of each side ("top", "bottom") in one query: each side ranked and cut to
    ``n`` in its own subquery, then joined to the post, target, account and pillar."""
    n = max(0, min(n, 50))
    ids = [int(b) for b in brand_ids] or [-1]
    marks = ", ".join(["%s"] * len(ids))
    rate = "(COALESCE(likes, 0) + COALESCE(comments, 0) + COALESCE(shares, 0) + COALESCE(saves, 0)) * 1.0 / reach"
    orders = {"top": f"{rate} DESC, reach DESC, published_at DESC, id",
              "bottom": f"{rate} ASC, reach DESC, published_at ASC, id"}
    table = PostMetricLatest._meta.db_table
    columns = ("id, target_id, account_id, brand_id, network, pillar_id, format, published_at, reach, impressions, "
               "likes, comments, shares, saves")
    adapt = connection.ops.adapt_datetimefield_value
    parts, params = [], []
    for i, side in enumerate(sides):
        parts.append(f"SELECT * FROM (SELECT {i} AS _side, ROW_NUMBER() OVER (ORDER BY {orders[side]}) AS _rank, "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
                      f"{columns} FROM {table} WHERE brand_id IN ({marks}) AND published_at >= %s "
                      f"AND published_at < %s AND {_ER_SQL} ORDER BY {orders[side]} LIMIT %s) _s{i}")
        params += [*ids, adapt(period.start), adapt(period.end), n]
    from tertulia.content.models import Post
    from tertulia.publishing.models import PostTarget
    from tertulia.strategy.models import ContentPillar

    sql = (f"SELECT r._side, r.target_id, t.post_id, r.brand_id, r.network, a.handle, p.text, r.published_at, "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
           f"(SELECT cp.name FROM {ContentPillar._meta.db_table} cp WHERE cp.id = r.pillar_id "
           f"AND cp.brand_id IN ({marks})), r.format, r.reach, r.impressions, r.likes, r.comments, r.shares, "
           f"r.saves, t.external_url FROM ({' UNION ALL '.join(parts)}) r "
           f"INNER JOIN {PostTarget._meta.db_table} t ON t.id = r.target_id "
           f"INNER JOIN {Post._meta.db_table} p ON p.id = t.post_id "
           f"INNER JOIN {SocialAccount._meta.db_table} a ON a.id = r.account_id ORDER BY r._side, r._rank")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, *params])
        rows = cursor.fetchall()
    labels = dict(Network.choices)
    out: dict[str, list[PostRow]] = {side: [] for side in sides}
    for (side, target_id, post_id, brand_id, network, handle, text, published_at, pillar, fmt, reach, impressions,
         likes, comments, shares, saves, url) in rows:
        out[sides[side]].append(PostRow(
            target_id=target_id, post_id=post_id, brand_id=brand_id, network=network,
            network_label=labels.get(network, network), account=handle,
            text=text if len(text) <= 280 else text[:279] + "…",
            published_at=_aware(published_at), pillar=pillar, format=fmt, reach=reach, impressions=impressions,
            engagements=kpis.engagements(likes, comments, shares, saves),
            engagement_rate=kpis.engagement_rate_by_reach(reach=reach, likes=likes, comments=comments,
                                                          shares=shares, saves=saves),
            url=url,
        ))
    return out


# --- Community ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountGrowth:
    account_id: int
    brand_id: int
    network: str
    handle: str
    start: int | None  # followers at the start of the period (last sample before it, else the first in it)
    end: int | None  # followers at the end (last sample before the end)
    net: int | None
    rate: float | None  # kpis.growth_rate


@dataclass(frozen=True)
class Growth:
    accounts: list[AccountGrowth]
    start: int | None  # sums over the accounts whose start and end are both known
    end: int | None
    net: int | None
    rate: float | None
    followers_end: int | None  # the sum of every known end figure
    series: list[tuple[date, int, str, int]]  # (day, account_id, "handle · Network", followers at the day's end)


def followers_at(account_ids: Sequence[int], *instants: datetime) -> list[dict[int, int]]:
    """For each of ``instants``, the last known follower count of each account strictly before
    it: one query, a scalar subquery per account and instant, each an index seek on
    (account, taken_at) whatever the length of the history."""
    ids = [int(a) for a in account_ids]
    if not ids or not instants:
        return [{} for _ in instants]
    table = ProfileSnapshot._meta.db_table
    subqueries = ", ".join(
        f"(SELECT s.followers FROM {table} s WHERE s.account_id = a.id AND s.taken_at < %s "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
        f"AND s.followers IS NOT NULL ORDER BY s.taken_at DESC LIMIT 1)" for _ in instants)
    sql = (f"SELECT a.id, {subqueries} FROM {SocialAccount._meta.db_table} a "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
           f"WHERE a.id IN ({', '.join(['%s'] * len(ids))})")
    params = [connection.ops.adapt_datetimefield_value(i) for i in instants] + ids
    out: list[dict[int, int]] = [{} for _ in instants]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            for k, value in enumerate(row[1:]):
                if value is not None:
                    out[k][row[0]] = value
    return out


def _accounts_followers(brand_ids: Sequence[int], *instants: datetime, missing: bool = False):
    """The brands' accounts, as (id, brand, network, handle) by brand, network and handle, and
    ``followers_at(their ids, *instants)``, in one query; with ``missing``, also the metrics each
    account's network stopped giving (``collect.missing_metrics``). Returns (accounts, found,
    deprecated or None)."""
    ids = [int(b) for b in brand_ids] or [-1]
    table = ProfileSnapshot._meta.db_table
    subqueries = "".join(
        f", (SELECT s.followers FROM {table} s WHERE s.account_id = a.id AND s.taken_at < %s "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
        f"AND s.followers IS NOT NULL ORDER BY s.taken_at DESC LIMIT 1)" for _ in instants)
    join = ""
    if missing:
        from .models import MetricsSync

        subqueries += ", m.missing_metrics"
        join = f" LEFT OUTER JOIN {MetricsSync._meta.db_table} m ON m.account_id = a.id"
    sql = (f"SELECT a.id, a.brand_id, a.network, a.handle{subqueries} FROM {SocialAccount._meta.db_table} a{join} "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
           f"WHERE a.brand_id IN ({', '.join(['%s'] * len(ids))}) ORDER BY a.brand_id, a.network, a.handle")
    params = [connection.ops.adapt_datetimefield_value(i) for i in instants] + ids
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    accounts = [tuple(r[:4]) for r in rows]
    found: list[dict[int, int]] = [{} for _ in instants]
    for row in rows:
        for k in range(len(instants)):
            if row[4 + k] is not None:
                found[k][row[0]] = row[4 + k]
    deprecated = None
    if missing:
        from .collect import merge_missing

        deprecated = merge_missing((r[2], r[-1]) for r in rows)
    return accounts, found, deprecated


def _snapshots(account_ids: list[int], period: Period) -> list[tuple[int, datetime, int]]:
    """(account, taken_at, followers) of the accounts' samples in the period that have a count."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT account_id, taken_at, followers FROM {ProfileSnapshot._meta.db_table} "  # nosec B608 # identifiers from model metadata, values bound as parameters
                       f"WHERE account_id IN ({', '.join(['%s'] * len(account_ids))}) AND taken_at >= %s "
                       "AND taken_at < %s AND followers IS NOT NULL",
                       [*account_ids, adapt(period.start), adapt(period.end)])
        return [(a, _aware(t), f) for a, t, f in cursor.fetchall()]


def community_growth(brand_ids: Sequence[int], period: Period, *, series: bool = True, _deprecated_out=None) -> Growth:
    """Followers per account over the period: start, end, net change and growth rate, and a
    series: the last sample of each day in the period's time zone (of each week, Monday to
    Sunday, for periods over 92 days, dated on the week's last day)."""
    weekly = period.days > 92
    accounts, (before, end_of), deprecated = _accounts_followers(brand_ids, period.start, period.end,
                                                                 missing=_deprecated_out is not None)
    if _deprecated_out is not None:
        _deprecated_out.update(deprecated)
    ids = [a[0] for a in accounts]
    daily: dict[tuple[date, int], tuple[datetime, int]] = {}
    first_in: dict[int, tuple[datetime, int]] = {}
    if ids and (series or len(before) < len(ids)):
        if weekly:  # a long period streams (a server-side cursor on PostgreSQL)
            samples = (ProfileSnapshot.objects.filter(account_id__in=ids, taken_at__gte=period.start,
                                                      taken_at__lt=period.end, followers__isnull=False)
                       .values_list("account_id", "taken_at", "followers").iterator(chunk_size=2000))
        else:  # a short one is a few rows: plain SQL (the order does not matter: one sample per instant)
            samples = _snapshots(ids, period)
        for account_id, taken_at, followers in samples:
            if account_id not in first_in or taken_at < first_in[account_id][0]:
                first_in[account_id] = (taken_at, followers)
            if series:
                day = taken_at.astimezone(period.tz).date()
                if weekly:  # long periods: one point a week (its last day, or the period's)
                    day = min(day + timedelta(days=6 - day.weekday()), period.last_day)
                key = (day, account_id)
                if key not in daily or taken_at > daily[key][0]:
                    daily[key] = (taken_at, followers)
    rows = []
    for pk, brand_id, network, handle in accounts:
        start = before.get(pk, first_in.get(pk, (None, None))[1])
        end = end_of.get(pk)
        net = end - start if start is not None and end is not None else None
        rows.append(AccountGrowth(pk, brand_id, network, handle, start, end, net, kpis.growth_rate(start, end)))
    both = [r for r in rows if r.start is not None and r.end is not None]
    start_sum = sum(r.start for r in both) if both else None
    end_sum = sum(r.end for r in both) if both else None
    known_end = [r.end for r in rows if r.end is not None]
    labels = dict(Network.choices)
    handles = {a[0]: f"{a[3]} · {labels.get(a[2], a[2])}" for a in accounts}
    return Growth(
        accounts=rows, start=start_sum, end=end_sum,
        net=end_sum - start_sum if both else None, rate=kpis.growth_rate(start_sum, end_sum),
        followers_end=sum(known_end) if known_end else None,
        series=sorted((d, a, handles[a], v[1]) for (d, a), v in daily.items()),
    )


# --- Inbox, sentiment, web traffic, ROI, listening -------------------------------------------

@dataclass(frozen=True)
class SentimentMix:
    """Inbound inbox messages of the period by sentiment. ``unclassified`` have no sentiment
    yet; the shares are of the classified ones (None when there are none)."""

    negative: int
    neutral: int
    positive: int
    unclassified: int

    @property
    def classified(self) -> int:
        return self.negative + self.neutral + self.positive

    def share(self, name: str) -> float | None:
        return getattr(self, name) / self.classified * 100.0 if self.classified else None


def sentiment_mix(brand_ids: Sequence[int], period: Period) -> SentimentMix:
    from . import inbox_metrics

    # Whole UTC days from the inbox's per-day cache, the edges live from the covering index
    # inbox_inter_sentiment (brand, created_at, direction, sentiment): never the table itself.
    return _sentiment(inbox_metrics.sentiment_counts(brand_ids, period.start, period.end))


def _sentiment(counts: dict[str, int]) -> SentimentMix:
    negative, neutral, positive = (counts.get(name, 0) for name in ("negative", "neutral", "positive"))
    return SentimentMix(negative, neutral, positive, sum(counts.values()) - negative - neutral - positive)


def inbox(brand_ids: Sequence[int], period: Period):
    """``inbox_metrics.summary`` for the period (InboxFigures)."""
    from . import inbox_metrics

    return inbox_metrics.summary(list(brand_ids), period.start, period.end, period.tz)


def web_traffic(brand_ids: Sequence[int], period: Period):
    """``traffic.social_visits`` for the period (TrafficFigures)."""
    from . import traffic

    return traffic.social_visits(list(brand_ids), period.start, period.end, period.tz)


def web_sessions(brand_ids: Sequence[int], period: Period) -> int | None:
    """``web_traffic(...).sessions`` alone (one query)."""
    from . import traffic

    return traffic.social_sessions(list(brand_ids), period.start, period.end, period.tz)


def campaigns_roi(brand_ids: Sequence[int], period: Period | None = None):
    """``roi.campaigns`` (list of CampaignROI), for the period when given."""
    from . import roi

    if period is None:
        return roi.campaigns(list(brand_ids))
    return roi.campaigns(list(brand_ids), period.start, period.end, period.tz)


def total_roi(campaigns) -> float | None:
    """ROI of the campaigns together: Σ value − Σ cost over Σ cost, over the campaigns whose
    cost and value are both known."""
    known = [c for c in campaigns if c.cost is not None and c.value is not None]
    if not known:
        return None
    return kpis.roi(value=sum(c.value for c in known), cost=sum(c.cost for c in known))


def share_of_voice(brand_ids: Sequence[int], period: Period) -> float | None:
    """The brands' own mentions over their own and their competitors' (listening queries), %.
    Unknown when a brand has no listening mentions at all in the period."""
    return _shares_of_voice(brand_ids, [period])[0]


def _shares_of_voice(brand_ids: Sequence[int], periods: list[Period], brands=None) -> list[float | None]:
    """``share_of_voice`` of each of ``periods`` (two queries per brand whatever their number);
    ``brands``: the Brand rows of ``brand_ids`` when already read."""
    from tertulia.listening.trends import share_of_voice_ranges

    own, others = [0] * len(periods), [0] * len(periods)
    for brand in (brands if brands is not None else Brand.objects.filter(pk__in=list(brand_ids))):
        for i, voices in enumerate(share_of_voice_ranges(brand, [(p.start, p.end) for p in periods])):
            own[i] += voices[0]["mentions"]
            others[i] += sum(v["mentions"] for v in voices[1:])
    return [kpis.share_of_voice(brand_mentions=o, competitor_mentions=[x]) if o + x else None
            for o, x in zip(own, others)]


# --- Missing metrics ---------------------------------------------------------------------------

@dataclass(frozen=True)
class MissingMetric:
    network: str
    network_label: str
    metric: str
    reason: str  # "not_reported": none of the network's posts in the period has it; "stopped": deprecated
    since: date | None = None

    @property
    def explanation(self) -> str:
        label = METRIC_LABELS.get(self.metric, self.metric)
        if self.reason == "stopped" and self.since:
            return str(_("%(network)s stopped reporting %(metric)s on %(date)s.")) % {
                "network": self.network_label, "metric": label, "date": self.since.isoformat()}
        return str(_("%(network)s does not report %(metric)s for these posts.")) % {
            "network": self.network_label, "metric": label}


METRIC_LABELS = {
    "impressions": _("impressions"), "reach": _("reach"), "likes": _("likes"), "comments": _("comments"),
    "shares": _("shares"), "saves": _("saves"), "clicks": _("clicks"), "video_views": _("video views"),
}


def missing_notes(missing: list[MissingMetric]) -> list[str]:
    """The explanations, one sentence per network for the metrics it does not report, and one
    per metric a network stopped reporting."""
    out = []
    not_reported: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for m in missing:
        if m.reason == "stopped":
            out.append(m.explanation)
        else:
            not_reported.setdefault(m.network, []).append(str(METRIC_LABELS.get(m.metric, m.metric)))
            labels[m.network] = m.network_label
    for network, metrics in not_reported.items():
        out.append(str(_("%(network)s does not report %(metric)s for these posts.")) % {
            "network": labels[network], "metric": ", ".join(metrics)})
    return out


def _deprecated(brand_ids: Sequence[int]) -> dict[str, dict[str, date]]:
    try:
        from .collect import missing_metrics
    except ImportError:  # the collector is not installed yet: nothing is known to be deprecated
        return {}
    return missing_metrics(list(brand_ids))


def missing_metrics(brand_ids: Sequence[int], networks: list[PostGroup], *,
                    deprecated: dict | None = None) -> list[MissingMetric]:
    """Why figures are missing: metrics a network stopped giving (recorded by the collector;
    ``deprecated``: already read, as ``collect.missing_metrics`` gives it) and metrics none of
    a network's posts in the period has (``networks`` = by_network())."""
    labels = dict(Network.choices)
    out: dict[tuple[str, str], MissingMetric] = {}
    for network, metrics in (_deprecated(brand_ids) if deprecated is None else deprecated).items():
        for metric, since in metrics.items():
            if isinstance(since, str):
                since = date.fromisoformat(since[:10])
            out[(network, metric)] = MissingMetric(network, labels.get(network, network), metric, "stopped", since)
    for g in networks:
        for metric in METRIC_FIELDS:
            if getattr(g, metric) is None and (g.key, metric) not in out:
                out[(g.key, metric)] = MissingMetric(g.key, g.label, metric, "not_reported")
    return sorted(out.values(), key=lambda m: (m.network, METRIC_FIELDS.index(m.metric)
                                               if m.metric in METRIC_FIELDS else 99, m.metric))


# --- KPIs ----------------------------------------------------------------------------------------

def kpi_light(actual: float | None, target: float, lower_is_better: bool = False) -> str:
    """The traffic light (see the module doc): "ok", "warn", "fail" or "unknown"."""
    if actual is None:
        return "unknown"
    target = float(target)
    if kpis.on_target(actual, target, lower_is_better=lower_is_better):
        return "ok"
    return "warn" if abs(actual - target) <= abs(target) * 0.10 + 1e-9 else "fail"


def trend(actual: float | None, previous: float | None) -> str | None:
    if actual is None or previous is None:
        return None
    if abs(actual - previous) <= abs(previous) * 0.005:
        return "flat"
    return "up" if actual > previous else "down"


class _Lazy:
    """Computes each source once per call of ``kpi_actuals`` (several KPIs share them)."""

    def __init__(self, brand_ids, period):
        self.brand_ids, self.period, self._cache = list(brand_ids), period, {}

    def get(self, name, fn):
        if name not in self._cache:
            self._cache[name] = fn(self.brand_ids, self.period)
        return self._cache[name]


def _engagement_rate_by_followers(brand_ids, period) -> float | None:
    """Σ engagements of the period's posts / Σ over those posts of their account's followers
    at the end of the period × 100 (the average per-post rate by followers)."""
    rows = list(_posts(brand_ids, period).filter(_KNOWN_ENGAGEMENT).values("account_id").annotate(
        posts=Count("id"), **{f"s_{n}": Sum(n) for n in ENGAGEMENT_FIELDS}).order_by())
    followers = followers_at([r["account_id"] for r in rows], period.end)[0]
    known = [r for r in rows if followers.get(r["account_id"])]
    if not known:
        return None
    return kpis.engagement_rate_by_followers(
        followers=sum(r["posts"] * followers[r["account_id"]] for r in known),
        **{n: (sum(r[f"s_{n}"] for r in known if r[f"s_{n}"] is not None)
               if any(r[f"s_{n}"] is not None for r in known) else None) for n in ENGAGEMENT_FIELDS})


def kpi_actual(metric: str, brand_ids: Sequence[int], period: Period, _lazy: _Lazy | None = None) -> float | None:
    """The actual figure of a ``strategy.KPI.Metric`` over the period (None when unknown)."""
    lazy = _lazy or _Lazy(brand_ids, period)
    if metric == "follower_growth":
        return lazy.get("growth", lambda b, p: community_growth(b, p, series=False)).rate
    if metric == "engagement_rate_reach":
        return lazy.get("totals", post_totals).engagement_rate
    if metric == "engagement_rate_followers":
        return lazy.get("er_followers", _engagement_rate_by_followers)
    if metric == "ctr":
        return lazy.get("totals", post_totals).ctr
    if metric == "web_visits":
        if "traffic" in lazy._cache:
            sessions = lazy._cache["traffic"].sessions
        else:  # the sessions alone (one query), not every traffic figure
            sessions = lazy.get("sessions", web_sessions)
        return float(sessions) if sessions is not None else None
    if metric == "response_rate":
        return lazy.get("inbox", inbox).response_rate
    if metric == "response_time":
        return lazy.get("inbox", inbox).median_first_response_hours
    if metric == "share_of_voice":
        return lazy.get("sov", share_of_voice)
    if metric == "roi":
        return total_roi(lazy.get("roi", campaigns_roi))
    return None


@dataclass(frozen=True)
class KPIStatus:
    kpi_id: int
    brand_id: int
    objective_id: int
    objective: str
    metric: str
    label: str  # the metric's translated name
    unit: str  # "%", "h" or "" (a count)
    target: float
    lower_is_better: bool
    actual: float | None
    previous: float | None  # the same figure over period.previous()
    status: str  # "ok" | "warn" | "fail" | "unknown" (see kpi_light)
    trend: str | None  # "up" | "down" | "flat" | None
    improving: bool | None  # whether the trend goes the good way


KPI_UNITS = {"web_visits": "", "response_time": "h"}


class _KPIRow(NamedTuple):
    pk: int
    brand_id: int
    objective_id: int
    objective_name: str
    metric: str
    target: object
    lower_is_better: bool


def _prefetch_pair(pair: tuple[_Lazy, _Lazy], metrics: set[str]) -> None:
    """Sources a KPI needs over both periods, read together (one query for both instead of
    one or two each): campaigns' ROI and share of voice."""
    now_l, prev_l = pair
    if "roi" in metrics and "roi" not in now_l._cache and "roi" not in prev_l._cache:
        from . import roi

        now_l._cache["roi"], prev_l._cache["roi"] = roi.campaigns_in_ranges(
            now_l.brand_ids, [(now_l.period.start, now_l.period.end), (prev_l.period.start, prev_l.period.end)],
            now_l.period.tz)
    if "share_of_voice" in metrics and "sov" not in now_l._cache and "sov" not in prev_l._cache:
        now_l._cache["sov"], prev_l._cache["sov"] = _shares_of_voice(
            now_l.brand_ids, [now_l.period, prev_l.period], brands=now_l._cache.get("_brands"))


def kpi_status(brand_ids: Sequence[int], period: Period, *,
               _lazies: dict[int, tuple[_Lazy, _Lazy]] | None = None) -> list[KPIStatus]:
    """Every KPI of the objectives active in the period (overlapping it), measured per brand
    over the period and the previous one."""
    from tertulia.strategy.models import KPI

    from tertulia.strategy.models import Objective

    # KPI.objects.filter(brand__in, objective overlapping the period)
    #     .order_by("brand_id", "objective__period_start", "objective_id", "pk"), in plain SQL.
    ids = [int(b) for b in brand_ids] or [-1]
    adapt = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT k.id, k.brand_id, k.objective_id, o.name, k.metric, k.target, k.lower_is_better "  # nosec B608 # identifiers from model metadata, values bound as parameters
                       f"FROM {KPI._meta.db_table} k INNER JOIN {Objective._meta.db_table} o ON o.id = k.objective_id "
                       f"WHERE k.brand_id IN ({', '.join(['%s'] * len(ids))}) AND o.period_start <= %s "
                       "AND o.period_end >= %s ORDER BY k.brand_id ASC, o.period_start ASC, k.objective_id ASC, k.id ASC",
                       [*ids, adapt(period.last_day), adapt(period.first_day)])
        kpi_rows = [_KPIRow(pk, brand_id, objective_id, name, metric, target, bool(lower))
                    for pk, brand_id, objective_id, name, metric, target, lower in cursor.fetchall()]
    metric_labels = dict(KPI.Metric.choices)
    prev = period.previous()
    lazies: dict[int, tuple[_Lazy, _Lazy]] = dict(_lazies or {})
    metrics: dict[int, set[str]] = defaultdict(set)
    for k in kpi_rows:
        metrics[k.brand_id].add(k.metric)
    for brand_id, wanted in metrics.items():
        _prefetch_pair(lazies.setdefault(brand_id, (_Lazy([brand_id], period), _Lazy([brand_id], prev))), wanted)
    out = []
    for k in kpi_rows:
        now_l, prev_l = lazies[k.brand_id]
        actual = kpi_actual(k.metric, [k.brand_id], period, now_l)
        previous = kpi_actual(k.metric, [k.brand_id], prev, prev_l)
        t = trend(actual, previous)
        improving = None if t is None or t == "flat" else ((t == "down") == k.lower_is_better)
        out.append(KPIStatus(
            kpi_id=k.pk, brand_id=k.brand_id, objective_id=k.objective_id, objective=k.objective_name,
            metric=k.metric, label=str(metric_labels.get(k.metric, k.metric)), unit=KPI_UNITS.get(k.metric, "%"),
            target=float(k.target), lower_is_better=k.lower_is_better, actual=actual, previous=previous,
            status=kpi_light(actual, float(k.target), k.lower_is_better), trend=t, improving=improving))
    return out


# --- The whole dashboard -------------------------------------------------------------------------

@dataclass
class Dashboard:
    brand_ids: list[int]
    period: Period
    previous: Period
    kpis: list[KPIStatus]
    growth: Growth
    totals: PostGroup
    previous_totals: PostGroup
    top: list[PostRow]
    bottom: list[PostRow]
    pillars: list[PostGroup]
    formats: list[PostGroup]
    networks: list[PostGroup]
    hours: list[PostGroup]
    sentiment: SentimentMix
    inbox: object  # inbox_metrics.InboxFigures
    traffic: object  # traffic.TrafficFigures
    missing: list[MissingMetric]
    brands: list[BrandRow] = field(default_factory=list)  # the comparison table (cross-brand only)
    engagement_rate_definition: str = ""
    light_rule: str = ""


def dashboard(brand_ids: Sequence[int], period: Period, *, top_n: int = 5, compare: bool | None = None,
              brands: Sequence[Brand] | None = None) -> Dashboard:
    """Everything the dashboard shows. ``compare`` adds the per-brand comparison table
    (default: when there are several brands). ``brands``: the Brand rows of ``brand_ids``
    when the caller has them (not read again)."""
    brand_ids = sorted(set(brand_ids))
    previous = period.previous()
    # Every post figure of both periods in one query, both post lists in another.
    rows = _aggregate_many(brand_ids, [
        ("totals", period, None), ("previous", previous, None), ("networks", period, "network"),
        ("formats", period, "format"), ("pillars", period, _pillar_group(brand_ids)), ("hours", period, _hour_group())])
    networks = _networks(rows["networks"])
    ranked = _ranked_posts(brand_ids, period, top_n)
    top, bottom = ranked["top"], ranked["bottom"]
    # A short list would show the same posts in both: the bottom list keeps the ones not on top.
    top_ids = {p.target_id for p in top}
    bottom = [p for p in bottom if p.target_id not in top_ids]
    deprecated: dict = {}
    growth = community_growth(brand_ids, period, _deprecated_out=deprecated)
    totals, previous_totals = _group("all", _("All posts"), rows["totals"][0]), _group("all", _("All posts"),
                                                                                          rows["previous"][0])
    from . import traffic

    box = inbox(brand_ids, period)
    visits, (previous_sessions,) = traffic.social_visits_and_sessions(
        list(brand_ids), period.start, period.end, period.tz, others=[(previous.start, previous.end)])
    if brands is None or sorted(b.pk for b in brands) != brand_ids:
        brands = list(Brand.objects.filter(pk__in=brand_ids))
    zones = {b.pk: ZoneInfo(b.timezone) for b in brands}
    lazies = {}
    if len(brand_ids) == 1:  # the KPIs of the one brand reuse the figures computed here
        now_l, prev_l = _Lazy(brand_ids, period), _Lazy(brand_ids, previous)
        now_l._cache.update(growth=growth, totals=totals, inbox=box, traffic=visits, _brands=brands)
        prev_l._cache.update(totals=previous_totals, sessions=previous_sessions)
        lazies[brand_ids[0]] = (now_l, prev_l)
    return Dashboard(
        brand_ids=brand_ids, period=period, previous=previous,
        kpis=kpi_status(brand_ids, period, _lazies=lazies), growth=growth,
        totals=totals, previous_totals=previous_totals,
        top=top, bottom=bottom, pillars=_pillars(rows["pillars"]), formats=_formats(rows["formats"]),
        networks=networks, hours=_hours(rows["hours"], zones, period.tz),
        sentiment=_sentiment(box.sentiment), inbox=box, traffic=visits,
        missing=missing_metrics(brand_ids, networks, deprecated=deprecated),
        brands=brand_comparison(brand_ids, period) if (compare if compare is not None else len(brand_ids) > 1) else [],
        engagement_rate_definition=str(ENGAGEMENT_RATE_DEFINITION), light_rule=str(LIGHT_RULE),
    )


@dataclass(frozen=True)
class BrandRow:
    brand_id: int
    name: str
    followers: int | None
    net_followers: int | None
    growth_rate: float | None
    posts: int
    reach: int | None
    impressions: int | None
    engagement_rate: float | None
    response_rate: float | None
    median_first_response_hours: float | None
    web_sessions: int | None


def brand_comparison(brand_ids: Sequence[int], period: Period) -> list[BrandRow]:
    """One row per brand, by name: the headline figures side by side. Posts are aggregated
    in one grouped query; followers, inbox and traffic per brand."""
    brands = list(Brand.objects.filter(pk__in=list(brand_ids)).order_by("name", "pk").values_list("pk", "name"))
    groups = {r["_g0"]: _group(r["_g0"], "", r) for r in _aggregate(brand_ids, period, "brand_id")}
    out = []
    for pk, name in brands:
        g = groups.get(pk)
        growth = community_growth([pk], period, series=False)
        box = inbox([pk], period)
        visits = web_traffic([pk], period)
        out.append(BrandRow(
            brand_id=pk, name=name, followers=growth.followers_end, net_followers=growth.net, growth_rate=growth.rate,
            posts=g.posts if g else 0, reach=g.reach if g else None, impressions=g.impressions if g else None,
            engagement_rate=g.engagement_rate if g else None, response_rate=box.response_rate,
            median_first_response_hours=box.median_first_response_hours, web_sessions=visits.sessions))
    return out


def last_sample_at(brand_ids: Sequence[int]) -> datetime | None:
    """When the newest post metric sample of these brands was taken (freshness note)."""
    return PostMetricLatest.objects.filter(brand_id__in=list(brand_ids)).aggregate(t=Max("taken_at"))["t"]
