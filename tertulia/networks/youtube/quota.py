"""YouTube's daily quota: 10,000 units per Google Cloud project (the OAuth client every channel
of this Tertulia server signs in with), reset at midnight Pacific time
(developers.google.com/youtube/v3/getting-started#quota, determine_quota_cost).

Every call costs units whether or not it succeeds: uploading a video 1,600, setting a
thumbnail 50, inserting a comment 50, deleting a video 50, and one page of any list 1. The
connector spends the units in a ledger *before* the call, so a day's work never goes past the
quota: work that would is refused with ``RateLimited`` until the reset (the publishing engine
postpones the post, the inbox waits), and the message says what the quota is, when it resets
and what costs most. A ``403 quotaExceeded`` from YouTube (another program using the same
project, or units spent before Tertulia counted them) marks the day as used up the same way.

The ledger is a row per project and Pacific day (``YouTubeQuota``), spent with one conditional
UPDATE so that consumers on many machines never spend more than the limit between them.
``MemoryLedger`` does the same in memory for code that runs without a database (benchmarks).
"""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from ..errors import RateLimited, fill

DAILY_UNITS = 10_000
PACIFIC = ZoneInfo("America/Los_Angeles")

# Units per call (the Data API's published costs).
COSTS = {
    "videos.insert": 1600,
    "videos.list": 1,
    "videos.delete": 50,
    "thumbnails.set": 50,
    "commentThreads.list": 1,
    "comments.list": 1,
    "comments.insert": 50,
    "channels.list": 1,
    "playlistItems.list": 1,
}

# Reads (polling comments, statistics) stop short of the last units, so that a day of busy
# polling on many channels never leaves no room for the upload the team scheduled: one video
# with its thumbnail and a few replies.
READ_RESERVE = 1600 + 50 + 4 * 50
READS = frozenset({"videos.list", "commentThreads.list", "comments.list", "channels.list", "playlistItems.list"})

MSG_QUOTA = _("YouTube's daily quota for this server's Google project is used up or would be exceeded "
              "(%(used)s of %(limit)s units spent today; this needs %(units)s more). It resets at %(reset)s "
              "(midnight Pacific time), and we will carry on then. Uploading a video costs 1,600 units, "
              "setting a thumbnail or replying to a comment 50, reading a page of comments or statistics 1. "
              "To get more, ask Google for a quota increase in the Google Cloud console.")


def quota_day(now: datetime | None = None) -> date:
    """The Pacific-time day the quota counts in."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(PACIFIC).date()


def next_reset(now: datetime | None = None) -> datetime:
    """The next midnight Pacific time, in UTC (23 or 25 hours away on DST change days)."""
    now = now or datetime.now(timezone.utc)
    tomorrow = quota_day(now) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=PACIFIC).astimezone(timezone.utc)


MSG_QUOTA_RESERVE = _("Reading YouTube comments and statistics waits until %(reset)s (midnight Pacific time): "
                      "%(used)s of the %(limit)s daily quota units of this server's Google project are spent, and "
                      "Tertulia keeps the last %(reserve)s for uploading videos and replying to comments.")


def quota_error(used: int, units: int, limit: int, now: datetime | None = None, *, reserve: int = 0) -> RateLimited:
    now = now or datetime.now(timezone.utc)
    reset = next_reset(now)
    wait = max(60.0, (reset - now).total_seconds())
    when = reset.strftime("%Y-%m-%d %H:%M UTC")
    if reserve and used + units <= limit:
        return RateLimited(fill(MSG_QUOTA_RESERVE, used=used, limit=limit, reserve=reserve, reset=when),
                           retry_after=wait, detail=f"youtube quota: {used}/{limit} used, reads stop {reserve} short")
    return RateLimited(fill(MSG_QUOTA, used=used, limit=limit, units=units, reset=when),
                       retry_after=wait, detail=f"youtube quota: {used}/{limit} used, needs {units}")


class MemoryLedger:
    """The ledger in memory (one process)."""

    def __init__(self, limit: int = DAILY_UNITS):
        self.limit = limit
        self._used: dict[tuple[str, date], int] = {}
        self._lock = threading.Lock()

    def try_spend(self, project: str, units: int, now: datetime | None = None, *,
                  reserve: int = 0) -> tuple[bool, int]:
        key = (project, quota_day(now))
        with self._lock:
            used = self._used.get(key, 0)
            if used + units > self.limit - reserve:
                return False, used
            self._used[key] = used + units
            return True, used + units

    def exhaust(self, project: str, now: datetime | None = None) -> None:
        with self._lock:
            self._used[(project, quota_day(now))] = self.limit

    def used(self, project: str, now: datetime | None = None) -> int:
        with self._lock:
            return self._used.get((project, quota_day(now)), 0)


class DatabaseLedger:
    """The ledger in the ``YouTubeQuota`` table, shared by every consumer."""

    def __init__(self, limit: int | None = None):
        self.limit = limit if limit is not None else configured_limit()

    def try_spend(self, project: str, units: int, now: datetime | None = None, *,
                  reserve: int = 0) -> tuple[bool, int]:
        from django.db import IntegrityError, transaction
        from django.db.models import F

        from .models import YouTubeQuota

        day = quota_day(now)
        rows = YouTubeQuota.objects.filter(project=project[:200], day=day)
        if not rows.exists():
            try:
                with transaction.atomic():
                    YouTubeQuota.objects.create(project=project[:200], day=day, units=0)
            except IntegrityError:  # another consumer created it first
                pass
        # One conditional UPDATE: two consumers never spend the last units twice.
        spent = rows.filter(units__lte=self.limit - reserve - units).update(units=F("units") + units, updated_at=now_utc())
        used = rows.values_list("units", flat=True).first() or 0
        return bool(spent), int(used)

    def exhaust(self, project: str, now: datetime | None = None) -> None:
        from .models import YouTubeQuota

        YouTubeQuota.objects.update_or_create(project=project[:200], day=quota_day(now),
                                              defaults={"units": self.limit, "updated_at": now_utc()})

    def used(self, project: str, now: datetime | None = None) -> int:
        from .models import YouTubeQuota

        row = YouTubeQuota.objects.filter(project=project[:200], day=quota_day(now)).first()
        return row.units if row else 0


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def configured_limit() -> int:
    """The project's daily units: 10,000 unless Google granted more (``YOUTUBE_DAILY_QUOTA``)."""
    try:
        from django.conf import settings

        from ..oauth_flow import app_settings

        value = app_settings("youtube").get("daily_quota") or getattr(settings, "YOUTUBE_DAILY_QUOTA", 0)
        return int(value) if int(value) > 0 else DAILY_UNITS
    except Exception:  # noqa: BLE001 - no settings (benchmarks), or a typo in the setting
        return DAILY_UNITS
