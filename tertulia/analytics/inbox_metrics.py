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

The figures come from ``inbox.daily``: whole UTC days from its per-day cache (exact, kept
dirty-marked by database triggers), the partial days at the edges and any dirty day live from
the tables. A year of a busy brand reads about 365 small rows, not its conversations. Local days
are rebuilt from quarter-hour counts (every zone's offset is a multiple of 15 minutes), and the
medians are exact: every delay is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

import numpy as np

from tertulia.inbox import daily


@dataclass(frozen=True, slots=True)
class InboxFigures:
    received: int
    answered: int
    response_rate: float | None  # % of received that were answered; None when nothing came in
    median_first_response_hours: float | None
    median_resolution_hours: float | None
    sla_breaches: int
    by_day: list[tuple[date, int, int]] = field(default_factory=list)  # (UTC day, received, answered)
    sentiment: dict[str, int] = field(default_factory=dict)  # inbound messages by sentiment ("": unclassified)


def _days(start: datetime, end: datetime, tz: tzinfo = UTC) -> list[date]:
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    if last < first:
        return []
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _local_days(quarters: dict[int, np.ndarray], tz: tzinfo) -> dict[date, list[int]]:
    """Quarter-hour (received, answered) counts per UTC day added up by local day in ``tz``.
    A day's offset is read once (every zone's offset is a multiple of a quarter hour, so a UTC
    day's quarters shift whole into the local days), and per quarter on a day it changes (DST)."""
    per_day: dict[date, list[int]] = {}

    def add(ordinals, counts: np.ndarray) -> None:  # counts: (days, 2)
        for ordinal, (r, a) in zip(ordinals, counts.tolist()):
            if r or a:
                kept = per_day.setdefault(date.fromordinal(int(ordinal)), [0, 0])
                kept[0] += r
                kept[1] += a

    epoch = date(1970, 1, 1).toordinal()
    by_shift: dict[int, list[int]] = {}
    for utc_day in quarters:
        midnight = datetime.fromtimestamp(utc_day * 86400, UTC)
        offset = midnight.astimezone(tz).utcoffset()
        if (midnight + timedelta(seconds=86399)).astimezone(tz).utcoffset() == offset:
            by_shift.setdefault(int(offset.total_seconds()) // daily.QUARTER, []).append(utc_day)
        else:  # a DST change on this day: each quarter on its own
            for i in range(daily.QUARTERS):
                local = datetime.fromtimestamp(utc_day * 86400 + i * daily.QUARTER, UTC).astimezone(tz)
                add([local.date().toordinal()], quarters[utc_day][i:i + 1])
    # Shifted by a whole number of quarters, each UTC day's quarters straddle two local days at
    # one point: the days of one offset are added up together.
    for shift, utc_days in by_shift.items():
        stack = np.stack([quarters[d] for d in utc_days])  # (days, 96, 2)
        ordinals = np.array(utc_days) + epoch
        if shift > 0:
            add(ordinals, stack[:, :daily.QUARTERS - shift].sum(axis=1))
            add(ordinals + 1, stack[:, daily.QUARTERS - shift:].sum(axis=1))
        elif shift < 0:
            add(ordinals - 1, stack[:, :-shift].sum(axis=1))
            add(ordinals, stack[:, -shift:].sum(axis=1))
        else:
            add(ordinals, stack.sum(axis=1))
    return per_day


def _median_hours(delays: np.ndarray) -> float | None:
    """The median delay (the mean of the middle two when the count is even), never below 0,
    to the millisecond, in hours."""
    n = len(delays)
    if not n:
        return None
    middle = np.partition(delays, sorted({(n - 1) // 2, n // 2}))
    value = (middle[(n - 1) // 2] + middle[n // 2]) / 2.0
    return round(max(0.0, float(value)), 3) / 3600.0


def summary(brand_ids: Sequence[int], start: datetime, end: datetime, tz: tzinfo = UTC) -> InboxFigures:
    """The figures of the module docstring; ``by_day`` in UTC days, or in ``tz`` if given."""
    days = _days(start, end, tz)
    parts = daily.load([int(b) for b in brand_ids], start, end)
    per_day = _local_days(parts.quarters, tz)
    received, answered = parts.totals()
    return InboxFigures(
        received=received,
        answered=answered,
        response_rate=(answered / received * 100.0) if received else None,
        median_first_response_hours=_median_hours(parts.delays("first_response")),
        median_resolution_hours=_median_hours(parts.delays("resolution")),
        sla_breaches=parts.late + parts.overdue,
        by_day=[(d, *per_day.get(d, (0, 0))) for d in days],
        sentiment=parts.sentiment,
    )


def sentiment_counts(brand_ids: Sequence[int], start: datetime, end: datetime) -> dict[str, int]:
    """Inbound messages in ``[start, end)`` by sentiment ("" for the unclassified ones)."""
    return daily.load([int(b) for b in brand_ids], start, end, delays=False).sentiment
