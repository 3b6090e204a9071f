"""Queue slots: weekly posting times on the brand's wall clock, and the next free one.

A slot is (weekday, wall time) in the brand's time zone: "Tuesdays at 09:30" stays 09:30 in
Madrid in winter (08:30 UTC) and in summer (07:30 UTC). Turning a wall time on a given day
into an instant goes through ``resolve_wall_time``, which handles the two days a year when the
wall clock is not a one-to-one map:

- spring forward (a gap: 02:00 → 03:00 in Europe/Madrid): a slot at 02:30 does not exist that
  day; it moves to the first valid instant after the gap, the moment the clocks jump (03:00).
- fall back (an overlap: 03:00 → 02:00): 02:30 happens twice; the slot uses the first
  occurrence (fold=0). One instant per day and slot, so a slot never fires twice.

Everything here reads; the writes (slot CRUD, "add to queue") are in ``services``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from datetime import tzinfo as TzInfo

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core import timezones

from .models import QueueSlot

UTC = dt_timezone.utc
# How far ahead "add to queue" looks for a free slot. A brand whose slots are all taken for a
# year has a planning problem the queue should report, not paper over.
HORIZON_DAYS = 366
MAX_SLOTS = 168  # one an hour, every day of the week: more is a mistake, not a plan

MSG_BAD_TIME = _("Enter a time as HH:MM, for example 09:30.")
MSG_BAD_WEEKDAY = _("Choose days of the week.")

_TIME = re.compile(r"^\s*([01]?\d|2[0-3])[:.h]([0-5]\d)\s*$")


def parse_wall_time(value) -> time:
    """"9:30", "09:30" or a ``time`` → a wall time without seconds; anything else is refused."""
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None, fold=0)
    match = _TIME.match(value) if isinstance(value, str) and len(value) <= 16 else None
    if match is None:
        raise ValidationError({"time": MSG_BAD_TIME}, code="time")
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekday(value) -> int:
    try:
        day = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError({"weekday": MSG_BAD_WEEKDAY}, code="weekday") from None
    if not 0 <= day <= 6 or isinstance(value, bool):
        raise ValidationError({"weekday": MSG_BAD_WEEKDAY}, code="weekday")
    return day


def resolve_wall_time(day: date, wall: time, tz: TzInfo) -> datetime:
    """The instant (aware, UTC) that ``wall`` on ``day`` means in ``tz``: the first occurrence
    in an overlap, the end of the gap in a gap (``core.timezones.resolve``)."""
    return timezones.resolve(datetime.combine(day, wall.replace(tzinfo=None)), tz).astimezone(UTC)


def _minute(at: datetime) -> int:
    return int(at.timestamp()) // 60


def taken_minutes(brand, start: datetime, end: datetime, exclude_post=None) -> set[int]:
    """Minutes (since the epoch) already held by a post of the brand between start and end.

    Every post with a time holds its minute, whatever its approval state: a post in review
    that was added to the queue keeps its slot while it waits, or two posts in review would be
    queued into the same one. Canceled posts free their slot."""
    from tertulia.content.models import Post

    qs = Post.objects.filter(brand=brand, scheduled_at__gte=start - timedelta(minutes=1),
                             scheduled_at__lte=end).exclude(state=Post.State.CANCELED)
    if exclude_post is not None:
        qs = qs.exclude(pk=exclude_post.pk)
    return {_minute(at) for at in qs.values_list("scheduled_at", flat=True)}


def _slots_by_weekday(brand) -> dict[int, list[time]]:
    by_day: dict[int, list[time]] = defaultdict(list)
    for weekday, wall in QueueSlot.objects.filter(brand=brand).order_by("weekday", "time").values_list(
            "weekday", "time"):
        by_day[weekday].append(wall)
    return by_day


@dataclass(frozen=True)
class SlotTime:
    at: datetime  # UTC
    weekday: int
    wall: time  # the slot's wall time (``at`` differs from it on the day of a gap)
    taken: bool


def upcoming(brand, *, after: datetime | None = None, count: int = 10, days: int = HORIZON_DAYS,
             exclude_post=None, free_only: bool = False) -> list[SlotTime]:
    """The next ``count`` slot instants strictly after ``after`` (default: now), in order,
    each once, with whether a post already holds it."""
    after = after or timezone.now()
    by_day = _slots_by_weekday(brand)
    if not by_day:
        return []
    tz = brand.tzinfo
    end = after + timedelta(days=days + 2)
    taken = taken_minutes(brand, after, end, exclude_post)
    seen: set[int] = set()
    out: list[SlotTime] = []
    # Start a day early: the brand's "today" may still be yesterday somewhere, and a gap moves
    # a slot forward, never back.
    first_day = after.astimezone(tz).date() - timedelta(days=1)
    for offset in range(days + 2):
        day = first_day + timedelta(days=offset)
        for wall in by_day.get(day.weekday(), ()):
            at = resolve_wall_time(day, wall, tz)
            key = _minute(at)
            # Two slots inside one gap resolve to the same instant: it is one slot that day.
            if at <= after or key in seen:
                continue
            seen.add(key)
            is_taken = key in taken
            if free_only and is_taken:
                continue
            out.append(SlotTime(at=at, weekday=day.weekday(), wall=wall, taken=is_taken))
            if len(out) >= count:
                return out
    return out


def next_free_slot(brand, after: datetime | None = None, exclude_post=None) -> datetime | None:
    """The next slot instant (UTC) after ``after`` (default: now) that no post of the brand
    holds, or None when the brand has no slots or every one is taken for a year."""
    found = upcoming(brand, after=after, count=1, exclude_post=exclude_post, free_only=True)
    return found[0].at if found else None
