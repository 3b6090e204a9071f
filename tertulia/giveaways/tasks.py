"""Giveaways' background work: entries are collected from what the inbox stored, every few
minutes while a contest runs (and for a grace period after it closes)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*/5"))
def collect_running() -> int:
    from . import services

    return services.collect_running()
