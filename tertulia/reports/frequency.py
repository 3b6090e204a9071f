"""Posting frequency against the CM guidance, as pure functions (the audit feeds them).

The guidance (issue 8, "the quarterly audit"):

- post at least once a week on every profile; ideally 4 times a week;
- large brands post daily. An account is *large* from ``LARGE_ACCOUNT_FOLLOWERS`` followers
  (100,000: the size at which agencies commonly move a profile to a daily plan; it is the
  account's last known follower count, per account, not the brand's total);
- a profile with nothing published for ``ABANDONED_AFTER_DAYS`` days (30) or more, or never, is
  abandoned: a failure, whatever its average.

Statuses: "ok" at or above the ideal (4 a week; 7 a week for a large account); "warn" at least
once a week on average but below the ideal; "fail" below once a week, or abandoned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

LARGE_ACCOUNT_FOLLOWERS = 100_000
ABANDONED_AFTER_DAYS = 30
MINIMUM_PER_WEEK = 1.0
IDEAL_PER_WEEK = 4.0
LARGE_PER_WEEK = 7.0


def is_large(followers: int | None) -> bool:
    return followers is not None and followers >= LARGE_ACCOUNT_FOLLOWERS


def ideal_per_week(followers: int | None) -> float:
    return LARGE_PER_WEEK if is_large(followers) else IDEAL_PER_WEEK


@dataclass(frozen=True)
class Frequency:
    posts: int  # publications in the period
    days: int  # length of the period in days
    per_week: float  # posts / (days / 7)
    ideal: float  # the guidance for this account (4 or 7 a week)
    large: bool
    weeks: int  # whole or partial 7-day weeks in the period
    weeks_with_posts: int
    days_since_last: int | None  # from the last publication ever (up to the period's end); None = never
    status: str  # "ok" | "warn" | "fail"
    abandoned: bool


def week_index(first_day: date, day: date) -> int:
    """The 7-day week of the period (0-based, counted from its first day) a day falls in."""
    return (day - first_day).days // 7


def assess(*, publication_days: list[date], first_day: date, last_day: date, last_published: datetime | None,
           period_end: datetime, followers: int | None) -> Frequency:
    """``publication_days``: the local day of each publication in the period (one per post);
    ``last_published``: the newest publication of the account ever, up to ``period_end``
    (the instant the period ends, exclusive)."""
    days = (last_day - first_day).days + 1
    weeks = -(-days // 7)
    posts = len(publication_days)
    per_week = posts / (days / 7.0) if days else 0.0
    large = is_large(followers)
    ideal = ideal_per_week(followers)
    since = None if last_published is None else max(0, (period_end - last_published) // timedelta(days=1))
    abandoned = since is None or since >= ABANDONED_AFTER_DAYS
    if abandoned or per_week < MINIMUM_PER_WEEK:
        status = "fail"
    elif per_week >= ideal:
        status = "ok"
    else:
        status = "warn"
    with_posts = len({week_index(first_day, d) for d in publication_days if first_day <= d <= last_day})
    return Frequency(posts=posts, days=days, per_week=per_week, ideal=ideal, large=large, weeks=weeks,
                     weeks_with_posts=with_posts, days_since_last=since, status=status, abandoned=abandoned)
