"""The inbox's figures per brand and UTC day, for dashboards and reports over long periods.

A year of a busy brand is hundreds of thousands of conversations and a million messages; the
dashboard must not read them all on every view. ``InboxDay`` keeps, per brand and UTC day:

- conversations received (by ``opened_at``: when the customer first wrote) and answered, per
  quarter hour (96 × 2 int64, packed), so any time zone's local days can be rebuilt from them
  (every zone's offset is a multiple of 15 minutes);
- the SLA counts: answered after the due time, unanswered with a due time (and the latest of
  those due times), closed;
- every first-response and resolution delay, exactly (float64 seconds), so medians stay exact;
- the sentiment mix of the inbound messages.

The rows are a cache of the conversations and interactions, never the truth. Database triggers
(migration ``inbox.0005``) mark a (brand, day) dirty on any insert, update or delete that could
change its figures, whichever code path makes it (ingestion, replies, rules, bulk actions,
deletions). ``load`` reads clean days from the cache and computes dirty days, and the partial
days at a period's edges, live from the tables, with the same function that builds the cache
(``compute``); so a figure is exact whatever the cache's lag. The periodic task ``rebuild``
(one at a time: a lease in the database) computes dirty days and deletes exactly the marks it
read.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from django.db import connection
from django.utils import timezone

from .models import Conversation, InboxDay, InboxDayRebuild, Interaction

QUARTER = 900  # seconds
QUARTERS = 96  # a day's


@dataclass
class Parts:
    """The figures of some conversations and messages, ready to be added together."""

    # UTC day (days since the epoch) -> (96, 2) int64: conversations received and answered per quarter hour
    quarters: dict[int, np.ndarray] = field(default_factory=dict)
    late: int = 0  # answered after the first-response due time
    overdue: int = 0  # unanswered, and the first-response due time has passed
    closed: int = 0
    first_response: list[np.ndarray] = field(default_factory=list)  # seconds
    resolution: list[np.ndarray] = field(default_factory=list)
    sentiment: dict[str, int] = field(default_factory=dict)  # negative/neutral/positive/"" -> messages

    def add(self, other: Parts) -> None:
        for day, counts in other.quarters.items():  # arrays are never changed in place (cached ones are read-only)
            self.quarters[day] = self.quarters[day] + counts if day in self.quarters else counts
        self.late += other.late
        self.overdue += other.overdue
        self.closed += other.closed
        self.first_response += other.first_response
        self.resolution += other.resolution
        for k, n in other.sentiment.items():
            self.sentiment[k] = self.sentiment.get(k, 0) + n

    def totals(self) -> tuple[int, int]:
        """(received, answered)."""
        if not self.quarters:
            return 0, 0
        r, a = np.sum([counts.sum(axis=0) for counts in self.quarters.values()], axis=0)
        return int(r), int(a)

    def delays(self, kind: str) -> np.ndarray:
        arrays = [a for a in getattr(self, kind) if len(a)]
        return np.concatenate(arrays) if arrays else np.empty(0)


def _columns() -> str:
    """The columns ``compute`` reads, as numbers computed by the database (no per-row datetime
    conversion in Python): the quarter hour opened, the two delays in seconds (NULL when not
    answered / not closed), answered late, and the due time (epoch) of an unanswered one."""
    if connection.vendor == "postgresql":  # as float8: the same numbers, cheaper to read than numeric
        epoch, diff = "CAST(EXTRACT(EPOCH FROM {}) AS DOUBLE PRECISION)", "CAST(EXTRACT(EPOCH FROM ({} - {})) AS DOUBLE PRECISION)"
        quarter = f"CAST(FLOOR(EXTRACT(EPOCH FROM opened_at) / {QUARTER}) AS BIGINT)"
    else:  # SQLite keeps UTC text; julianday and strftime are C functions
        epoch, diff = "((julianday({}) - 2440587.5) * 86400.0)", "((julianday({}) - julianday({})) * 86400.0)"
        quarter = f"(CAST(strftime('%%s', opened_at) AS INTEGER) / {QUARTER})"
    return ", ".join((
        quarter,
        f"CASE WHEN first_response_at IS NOT NULL THEN {diff.format('first_response_at', 'opened_at')} END",
        f"CASE WHEN status = 'closed' AND closed_at IS NOT NULL THEN {diff.format('closed_at', 'opened_at')} END",
        "CASE WHEN first_response_at > first_response_due_at THEN 1 ELSE 0 END",
        f"CASE WHEN first_response_at IS NULL THEN {epoch.format('first_response_due_at')} END",
    ))


def compute(brand_ids: list[int], start: datetime, end: datetime, now: datetime, *, delays: bool = True,
            more: tuple[tuple[datetime, datetime], ...] = ()) -> tuple[Parts, dict]:
    """Parts of ``[start, end)`` read from the tables, and what ``InboxDay.data`` stores of them
    (the due-time counts that ``overdue`` depends on, which change with the clock). ``more``:
    other ranges (disjoint from it and each other) added in, read by the same two queries."""
    parts = Parts()
    open_due_max, clock = None, now.timestamp()
    marks = ", ".join(["%s"] * len(brand_ids))
    at = connection.ops.adapt_datetimefield_value
    ranges = ((start, end), *more)

    def each_range(select: str, column: str) -> tuple[str, list]:
        """``select`` over every range, as a UNION ALL (one index range scan each; an OR of the
        ranges would make PostgreSQL visit the table instead of the covering index)."""
        sql = " UNION ALL ".join(f"{select} AND {column} >= %s AND {column} < %s" for _r in ranges)
        return sql, [v for a, b in ranges for v in (*brand_ids, at(a), at(b))]

    with connection.cursor() as cursor:  # the index inbox_conv_opened covers these columns
        cursor.execute(*each_range(f"SELECT {_columns()} FROM {Conversation._meta.db_table} "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
                                   f"WHERE brand_id IN ({marks})", "opened_at"))
        rows = cursor.fetchall()
    # Column-wise with numpy (a busy day is thousands of rows): NULL delays and due times are
    # NaN, the arrays keep the rows' order.
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 5)  # quarter numbers and 0/1 are exact as floats
    quarters, late = table[:, 0].astype(np.int64), table[:, 3].astype(np.int64)
    first, resolved, due = table[:, 1], table[:, 2], table[:, 4]
    answered, closed = ~np.isnan(first), ~np.isnan(resolved)
    if len(rows):
        days, quarter = np.divmod(quarters, QUARTERS)
        unique_days, first_seen, day_index = np.unique(days, return_index=True, return_inverse=True)
        cells = day_index * QUARTERS + quarter  # (day, quarter) as one index
        size = len(unique_days) * QUARTERS
        counts = np.stack([np.bincount(cells, minlength=size), np.bincount(cells[answered], minlength=size)],
                          axis=1).astype(np.int64).reshape(len(unique_days), QUARTERS, 2)
        for i in np.argsort(first_seen, kind="stable"):  # in the order the days first appear
            parts.quarters[int(unique_days[i])] = counts[i]
    first_response, resolution = first[answered], resolved[closed]
    parts.late = int(late[answered].sum())
    open_dues = due[~answered & ~np.isnan(due)]
    open_due = len(open_dues)
    if open_due:
        open_due_max = float(open_dues.max())
        parts.overdue = int((open_dues < clock).sum())
    parts.closed = int(closed.sum())
    if delays:
        parts.first_response = [first_response]
        parts.resolution = [resolution]
    inbound = Interaction.Direction.INBOUND.value
    with connection.cursor() as cursor:  # inbound messages by sentiment (index inbox_inter_sentiment covers it)
        messages, params = each_range(f"SELECT sentiment FROM {Interaction._meta.db_table} "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
                                      f"WHERE direction = '{inbound}' AND brand_id IN ({marks})", "created_at")
        cursor.execute(f"SELECT sentiment, COUNT(*) FROM ({messages}) m GROUP BY sentiment", params)  # nosec B608 # built above from constants, values bound as parameters
        parts.sentiment = dict(cursor.fetchall())
    stored = {"late": parts.late, "open_due": open_due, "closed": parts.closed, "sentiment": parts.sentiment,
              "open_due_max": None if open_due_max is None else float(open_due_max)}
    return parts, stored


def _utc_midnight(d: date) -> datetime:
    return datetime.combine(d, time(), UTC)


def _dirty(brand_ids: list[int], first: date, last: date) -> set[tuple[int, date]]:
    marks = ", ".join(["%s"] * len(brand_ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT brand_id, day FROM inbox_day_dirty WHERE brand_id IN ({marks}) "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
                       "AND day >= %s AND day < %s", [*brand_ids, first, last])
        return {(int(b), d if isinstance(d, date) else date.fromisoformat(d)) for b, d in cursor.fetchall()}


def _stored(row: dict, now: datetime, delays: bool) -> Parts | None:
    """The parts of a cached day, or None when its figures depend on a due time still ahead."""
    data = row["data"]
    if data["open_due"] and data["open_due_max"] is not None and data["open_due_max"] >= now.timestamp():
        return None
    day = int(_utc_midnight(row["day"]).timestamp()) // 86400
    parts = Parts(quarters={day: np.frombuffer(bytes(row["quarters"]), dtype=np.int64).reshape(QUARTERS, 2)},
                  late=data["late"], overdue=data["open_due"], closed=data["closed"], sentiment=data["sentiment"])
    if delays:
        parts.first_response = [np.frombuffer(bytes(row["first_response"]), dtype=np.float64)]
        parts.resolution = [np.frombuffer(bytes(row["resolution"]), dtype=np.float64)]
    return parts


def _cached_days(brand_ids: list[int], first: date, last: date, delays: bool) -> list[dict]:
    """``InboxDay.objects.filter(brand_id__in=brand_ids, day__gte=first, day__lt=last).values(...)``
    in plain SQL (read on every dashboard; the ORM's per-row conversions cost more than the query)."""
    fields = ["brand_id", "day", "data", "quarters"] + (["first_response", "resolution"] if delays else [])
    marks = ", ".join(["%s"] * len(brand_ids))
    at = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(fields)} FROM {InboxDay._meta.db_table} WHERE brand_id IN ({marks}) "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
                       "AND day >= %s AND day < %s", [*brand_ids, at(first), at(last)])
        rows = [dict(zip(fields, row)) for row in cursor.fetchall()]
    for row in rows:  # as the ORM gives them: the JSON decoded, the day a date
        if isinstance(row["data"], str | bytes):
            row["data"] = json.loads(row["data"])
        if not isinstance(row["day"], date):
            row["day"] = date.fromisoformat(row["day"])
    return rows


def load(brand_ids: list[int], start: datetime, end: datetime, *, delays: bool = True) -> Parts:
    """The parts of ``[start, end)`` for these brands: cached whole UTC days, the rest live."""
    now = timezone.now()
    brand_ids = sorted({int(b) for b in brand_ids})
    total = Parts()
    if not brand_ids or end <= start:
        return total
    first = (start - timedelta(microseconds=1)).astimezone(UTC).date() + timedelta(days=1)  # first whole day
    last = end.astimezone(UTC).date()  # the day after the last whole day
    if first >= last:
        total.add(compute(brand_ids, start, end, now, delays=delays)[0])
        return total
    # The partial days at both edges, live, together (two queries, not four).
    edges = [(a, b) for a, b in ((start, _utc_midnight(first)), (_utc_midnight(last), end)) if a < b]
    if edges:
        total.add(compute(brand_ids, *edges[0], now, delays=delays, more=tuple(edges[1:]))[0])
    live = _dirty(brand_ids, first, last)
    for row in _cached_days(brand_ids, first, last, delays):
        key = (row["brand_id"], row["day"])
        if key in live:
            continue
        parts = _stored(row, now, delays)
        if parts is None:
            live.add(key)
        else:
            total.add(parts)
    # Days without a row and without a mark had nothing in them. Dirty days are computed live,
    # consecutive days of a brand in one query.
    runs: dict[int, list[list[date]]] = defaultdict(list)
    for brand_id, day in sorted(live):
        brand_runs = runs[brand_id]
        if brand_runs and brand_runs[-1][1] == day:
            brand_runs[-1][1] = day + timedelta(days=1)
        else:
            brand_runs.append([day, day + timedelta(days=1)])
    for brand_id, brand_runs in runs.items():
        for a, b in brand_runs:
            total.add(compute([brand_id], _utc_midnight(a), _utc_midnight(b), now, delays=delays)[0])
    return total


REBUILD_LEASE = timedelta(minutes=10)


def rebuild(limit: int = 400) -> int:
    """Build the cache of up to ``limit`` dirty (brand, day)s; returns how many were built (0
    when another rebuild holds the lease: two interleaved rebuilds of one day could store the
    older computation last; a rebuilder killed mid-way holds it only ``REBUILD_LEASE``)."""
    now = timezone.now()
    InboxDayRebuild.objects.get_or_create(pk=1, defaults={"until": now - timedelta(seconds=1)})
    if not InboxDayRebuild.objects.filter(pk=1, until__lt=now).update(until=now + REBUILD_LEASE):
        return 0
    try:
        return _rebuild(limit, now)
    finally:
        InboxDayRebuild.objects.filter(pk=1).update(until=now)


def _rebuild(limit: int, now: datetime) -> int:
    from tertulia.core.models import Brand

    with connection.cursor() as cursor:
        # Distinct days first (on PostgreSQL the marks are a log: a busy day has many rows).
        cursor.execute("SELECT brand_id, day FROM inbox_day_dirty GROUP BY brand_id, day ORDER BY day DESC "
                       "LIMIT %s", [limit])
        keys = [(int(b), d if isinstance(d, date) else date.fromisoformat(d)) for b, d in cursor.fetchall()]
    existing = set(Brand.all_objects.filter(pk__in={b for b, _ in keys}).values_list("pk", flat=True))
    for brand_id, day in keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT gen FROM inbox_day_dirty WHERE brand_id = %s AND day = %s", [brand_id, day])
            gens = [row[0] for row in cursor.fetchall()]
        if brand_id in existing:
            start = _utc_midnight(day)
            parts, data = compute([brand_id], start, start + timedelta(days=1), now)
            counts = parts.quarters.get(int(start.timestamp()) // 86400, np.zeros((QUARTERS, 2), dtype=np.int64))
            InboxDay.objects.bulk_create(
                [InboxDay(brand_id=brand_id, day=day, data=data, computed_at=now, quarters=counts.tobytes(),
                          first_response=parts.delays("first_response").tobytes(),
                          resolution=parts.delays("resolution").tobytes())],
                update_conflicts=True, unique_fields=["brand", "day"],
                update_fields=["data", "quarters", "first_response", "resolution", "computed_at"])
        if gens:
            marks = ", ".join(["%s"] * len(gens))
            with connection.cursor() as cursor:
                sql = f"DELETE FROM inbox_day_dirty WHERE brand_id = %s AND day = %s AND gen IN ({marks})"  # nosec B608 # placeholders only, values bound as parameters
                cursor.execute(sql, [brand_id, day, *gens])
    return len(keys)


def rebuild_all() -> int:
    """Every dirty day (the demo generator and the benchmarks, after a bulk fill)."""
    built = 0
    while n := rebuild():
        built += n
    return built
