"""The inbox's background work: polling accounts, sending replies, SLA checks.

Thin wrappers: the work lives in ``polling``, ``replies`` and ``sla``; these only schedule it.
"""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_periodic_task(crontab(minute="*"))
def poll_due() -> dict:
    """Poll every account whose next poll is due (each at its own adaptive interval)."""
    from . import polling

    return polling.poll_due_accounts()


@db_task()
def send_reply(reply_id: int) -> str:
    from . import replies

    return replies.send(reply_id)


@db_periodic_task(crontab(minute="*"))
def sweep_replies() -> int:
    """Replies whose task was lost (a crash) or whose retry is due."""
    from . import replies

    return replies.sweep()


@db_periodic_task(crontab(minute="*"))
def rebuild_days() -> int:
    """The dashboard's per-day inbox cache (inbox.daily): the days changed since the last run
    (one rebuild at a time: a lease in the database, which a killed consumer holds only minutes)."""
    from . import daily

    return daily.rebuild(limit=2000)


@db_periodic_task(crontab(minute="*"))
def check_sla() -> dict:
    """Breach alerts for first responses and resolutions that are late."""
    from . import sla

    return sla.check()


@db_task()
def apply_network_action(interaction_id: int, action: str) -> str:
    """Hide or unhide a comment on the network (a rule's or a CM's decision)."""
    from . import actions

    return actions.apply_on_network(interaction_id, action)
