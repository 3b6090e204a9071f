"""Background job of competitor tracking: the daily read of competitors' public numbers and posts.

Imported by ``listening/tasks.py`` so the Huey consumer registers it."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task


@db_periodic_task(crontab(hour="4", minute="41"))
@lock_task("listening-read-competitors")
def read_competitors() -> int:
    """Once a day (04:41 UTC, away from the hour marks when other schedulers fire), read every
    competitor account on a network with public reading (Mastodon, Bluesky, X) that was not
    read in the last 20 hours: a ``CompetitorSnapshot`` and its recent posts upserted. Each
    account is read on its own; a failure is kept on that account (``last_error``) and shown on
    the competitor's page. The lock keeps a slow run from overlapping the next one."""
    from .competitors import read_due

    return read_due(limit=5000)
