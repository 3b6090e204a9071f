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

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from django.db import connection
from django.db.models import Count
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
    if connection.vendor == "postgresql":
        epoch, diff = "EXTRACT(EPOCH FROM {})", "EXTRACT(EPOCH FROM ({} - {}))"
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


def compute(brand_ids: list[int], start: datetime, end: datetime, now: datetime, *, delays: bool = True) -> tuple[Parts, dict]:
    """Parts of ``[start, end)`` read from the tables, and what ``InboxDay.data`` stores of them
    (the due-time counts that ``overdue`` depends on, which change with the clock)."""
    parts = Parts()
    open_due, open_due_max, clock = 0, None, now.timestamp()
    first_response, resolution = [], []
    marks = ", ".join(["%s"] * len(brand_ids))
    at = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:  # the index inbox_conv_opened covers these columns
        cursor.execute(f"SELECT {_columns()} FROM {Conversation._meta.db_table} WHERE brand_id IN ({marks}) "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
                       "AND opened_at >= %s AND opened_at < %s", [*brand_ids, at(start), at(end)])
        rows = cursor.fetchall()
    for q, first, resolved, late, due in rows:
        day, quarter = divmod(int(q), QUARTERS)
        counts = parts.quarters.get(day)
        if counts is None:
            counts = parts.quarters[day] = np.zeros((QUARTERS, 2), dtype=np.int64)
        counts[quarter, 0] += 1
        if first is not None:
            counts[quarter, 1] += 1
            first_response.append(first)
            parts.late += late
        elif due is not None:
            open_due += 1
            open_due_max = due if open_due_max is None else max(open_due_max, float(due))
            parts.overdue += float(due) < clock
        if resolved is not None:
            parts.closed += 1
            resolution.append(resolved)
    if delays:
        parts.first_response = [np.array(first_response, dtype=np.float64)]
        parts.resolution = [np.array(resolution, dtype=np.float64)]
    parts.sentiment = dict(
        Interaction.objects.filter(brand_id__in=brand_ids, created_at__gte=start, created_at__lt=end,
                                   direction=Interaction.Direction.INBOUND)
        .order_by().values_list("sentiment").annotate(n=Count("*")).values_list("sentiment", "n"))
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
    for a, b in ((start, _utc_midnight(first)), (_utc_midnight(last), end)):
        if a < b:
            total.add(compute(brand_ids, a, b, now, delays=delays)[0])
    live = _dirty(brand_ids, first, last)
    fields = ["brand_id", "day", "data", "quarters"] + (["first_response", "resolution"] if delays else [])
    for row in InboxDay.objects.filter(brand_id__in=brand_ids, day__gte=first, day__lt=last).values(*fields):
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
