"""Background jobs of the reports app."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*/5"))
def run_report_schedules() -> dict:
    """Send the scheduled reports that are due, and retry e-mails that failed (each run is
    claimed by a conditional UPDATE: several consumers never send one twice)."""
    from .services import run_due_schedules

    return run_due_schedules()
