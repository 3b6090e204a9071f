"""Listening trends' background work: the spike check, every 5 minutes, one at a time (the
alerts of a brand-wide window are unique only by that check, see ``spikes``)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task


@db_periodic_task(crontab(minute="*/5"))
@lock_task("listening-spike-check")
def check_spikes() -> int:
    from . import spikes

    return spikes.check()
