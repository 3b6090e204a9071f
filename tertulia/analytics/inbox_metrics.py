"""Inbox figures for dashboards and reports: how many conversations came in, how many the team
answered, how fast, and how often the SLA was missed.

Definitions (the caller has already checked access to ``brand_ids``):

- a conversation is *received* in ``[start, end)`` when its first inbound message
  (the earliest ``Interaction.created_at`` with direction "in") falls in that range;
- it is *answered* when it has a ``first_response_at``;
- first-response time = ``first_response_at`` − first inbound message, over answered ones;
- resolution time = ``closed_at`` − first inbound message, over closed ones;
- an SLA breach is a conversation with a first-response due time that was answered after it,
  or that is still unanswered when the due time has passed.

Everything is counted in SQL, on SQLite and PostgreSQL alike. The first inbound message is
kept on the conversation (``Conversation.opened_at``, maintained by inbox ingestion), so the
received conversations of a range are read from the index ``inbox_conv_opened`` alone (it
starts with brand and opened_at and carries every column read here); no interaction is
touched. The counts come back per time bucket (an hour, or the largest slice that never
straddles a local midnight of ``tz``), so Python only maps at most 24 × days buckets onto
days; each median is read by the database from the sorted delays (LIMIT/OFFSET at the
middle, knowing the count). A year of a busy brand never loads its rows into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from math import gcd

from django.db import connection
from django.utils import timezone

from tertulia.inbox.models import Conversation


@dataclass(frozen=True, slots=True)
class InboxFigures:
    received: int
    answered: int
    response_rate: float | None  # % of received that were answered; None when nothing came in
    median_first_response_hours: float | None
    median_resolution_hours: float | None
    sla_breaches: int
    by_day: list[tuple[date, int, int]] = field(default_factory=list)  # (UTC day, received, answered)


def _days(start: datetime, end: datetime, tz: tzinfo = UTC) -> list[date]:
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    if last < first:
        return []
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _bucket_seconds(days: list[date], tz: tzinfo) -> int:
    """The largest slice of time (dividing a day) such that every local midnight of ``days``
    in ``tz`` falls on a slice boundary: a day in UTC, an hour in Madrid, half an hour in Delhi."""
    size = 86400
    for d in (*days, days[-1] + timedelta(days=1)) if days else ():
        midnight = datetime(d.year, d.month, d.day, tzinfo=tz)
        size = gcd(size, int(midnight.utcoffset().total_seconds()) % 86400)
    return size or 86400


def _sql(brand_ids: Sequence[int], start: datetime, end: datetime) -> tuple[str, list, dict]:
    """The received conversations as a CTE (``received``) and its parameters, plus the SQL
    snippets of the vendor for seconds since the epoch and differences in seconds."""
    ops = connection.ops
    conversation = Conversation._meta.db_table
    marks = ", ".join(["%s"] * len(brand_ids))
    cte = f"""
        WITH received AS (
            SELECT c.opened_at AS first_in, c.first_response_at, c.closed_at, c.status, c.first_response_due_at
            FROM {conversation} c
            WHERE c.brand_id IN ({marks}) AND c.opened_at >= %s AND c.opened_at < %s
        )"""
    at = ops.adapt_datetimefield_value
    params = [*brand_ids, at(start), at(end)]
    if connection.vendor == "postgresql":
        vendor = {"bucket": "FLOOR(EXTRACT(EPOCH FROM {}) / {})", "diff": "EXTRACT(EPOCH FROM ({} - {}))"}
    else:  # SQLite stores UTC text: strftime and julianday are C functions, no Python per row;
        # integer division floors (the epochs are positive).
        vendor = {"bucket": "(CAST(strftime('%%s', {}) AS INTEGER) / {})",
                  "diff": "((julianday({}) - julianday({})) * 86400.0)"}
    return cte, params, vendor


ANSWERED = "first_response_at IS NOT NULL"
CLOSED = "status = 'closed' AND closed_at IS NOT NULL"


def summary(brand_ids: Sequence[int], start: datetime, end: datetime, tz: tzinfo = UTC) -> InboxFigures:
    """The figures of the module docstring; ``by_day`` in UTC days, or in ``tz`` if given."""
    brand_ids = [int(b) for b in brand_ids]
    days = _days(start, end, tz)
    if not brand_ids or end <= start:
        return InboxFigures(0, 0, None, None, None, 0, [(d, 0, 0) for d in days])
    size = _bucket_seconds(days, tz)
    cte, params, vendor = _sql(brand_ids, start, end)
    bucket = vendor["bucket"].format("first_in", int(size))
    first_delay = vendor["diff"].format("first_response_at", "first_in")
    resolution = vendor["diff"].format("closed_at", "first_in")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    num = "DOUBLE PRECISION"
    # First the counts per bucket; then each median by sorting only the delays it needs and
    # reading the middle one (or the middle two, averaged) with LIMIT/OFFSET: cheaper than a
    # window over every row, and skipped when nothing was answered or closed.
    sql = f"""{cte}
        SELECT CAST({bucket} AS {num}), COUNT(*), SUM(CASE WHEN {ANSWERED} THEN 1 ELSE 0 END),
               SUM(CASE WHEN first_response_due_at IS NOT NULL AND (
                       (first_response_at IS NULL AND first_response_due_at < %s)
                       OR first_response_at > first_response_due_at) THEN 1 ELSE 0 END),
               SUM(CASE WHEN {CLOSED} THEN 1 ELSE 0 END)
        FROM received GROUP BY {bucket}"""
    per_day: dict[date, list[int]] = {}
    received = answered = breaches = closed = 0
    medians = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, now])
        for b, n, a, late, done in cursor.fetchall():
            day = datetime.fromtimestamp(int(b) * size, UTC).astimezone(tz).date()
            kept = per_day.setdefault(day, [0, 0])
            kept[0] += int(n)
            kept[1] += int(a or 0)
            received, answered = received + int(n), answered + int(a or 0)
            breaches, closed = breaches + int(late or 0), closed + int(done or 0)
        for kind, delay, where, count in (("f", first_delay, ANSWERED, answered), ("r", resolution, CLOSED, closed)):
            if not count:
                continue
            cursor.execute(f"""{cte}
                SELECT CAST(AVG(d) AS {num}) FROM (
                    SELECT {delay} AS d FROM received WHERE {where} ORDER BY d LIMIT %s OFFSET %s) middle""",
                           [*params, 2 - count % 2, (count - 1) // 2])
            value = cursor.fetchone()[0]
            # Seconds to the millisecond: SQLite's julianday arithmetic leaves float noise below it.
            medians[kind] = None if value is None else round(max(0.0, float(value)), 3) / 3600.0
    return InboxFigures(
        received=received,
        answered=answered,
        response_rate=(answered / received * 100.0) if received else None,
        median_first_response_hours=medians.get("f"),
        median_resolution_hours=medians.get("r"),
        sla_breaches=breaches,
        by_day=[(d, *per_day.get(d, (0, 0))) for d in days],
    )
