"""Strategy's background work: the cadence's tasks are created ahead every night, and their
reminders go out every hour (each brand at its own reminder hour, in its time zone)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="7", hour="*/6"))
def ensure_cadence_tasks() -> int:
    from . import cadence

    return cadence.ensure_all()


@db_periodic_task(crontab(minute="11"))
def send_cadence_reminders() -> int:
    from . import cadence

    return cadence.send_reminders()
