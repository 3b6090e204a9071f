"""Analytics background work: periodic metric snapshots of every connected account.

A thin wrapper: the work lives in ``collect``; this only schedules it. Each account is read at
its own adaptive interval (``MetricsSync.next_run_at``); the task runs often to find due ones.
"""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*/5"))
def collect_due_metrics() -> dict:
    """Read profile and post metrics of every account whose next reading is due."""
    from . import collect

    return collect.collect_due_accounts()
