"""Huey tasks of the publishing engine. The rows are the truth; these only do the work.

- ``publish_target(id, version)``: queued with an ETA at the due time (after commit). A stale
  or duplicate task finds another version or state and does nothing.
- ``reconcile_target(id, version)``: a claim whose lease expired; find_published before any
  retry.
- ``sweep``: every minute, re-queue what is due but whose task was lost (a consumer restarted
  with an in-memory queue, a Redis flush), and reconcile expired leases. Safe to run on every
  consumer at once: it only enqueues, and the claim decides.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import engine
from .clock import db_now
from .models import PostTarget

S = PostTarget.State


@db_task()
def publish_target(target_id: int, version: int) -> str:
    return engine.publish(target_id, version)


@db_task()
def reconcile_target(target_id: int, version: int) -> str:
    return engine.reconcile(target_id, version)


def due_targets(now, grace: float = 0.0, limit: int = 1000):
    """Scheduled targets due by ``now - grace`` on accounts that are neither paused nor
    rate-limited, oldest first, as (id, version)."""
    cutoff = now - timedelta(seconds=grace)
    return list(
        PostTarget.objects.filter(state=S.SCHEDULED, due_at__lte=cutoff)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=cutoff))
        .filter(account__paused=False)
        .filter(Q(account__blocked_until__isnull=True) | Q(account__blocked_until__lte=now))
        .order_by("next_attempt_at", "due_at")
        .values_list("pk", "version")[:limit]
    )


def expired_leases(now, limit: int = 1000):
    return list(
        PostTarget.objects.filter(state=S.PUBLISHING)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .order_by("lease_expires_at")
        .values_list("pk", "version")[:limit]
    )


def sweep_once(grace: float | None = None) -> dict[str, int]:
    """Enqueue missed work; returns how many tasks of each kind were queued."""
    conf = settings.PUBLISHING
    grace = conf["SWEEP_GRACE_SECONDS"] if grace is None else grace
    now = db_now()
    due = due_targets(now, grace, conf["SWEEP_BATCH"])
    stuck = expired_leases(now, conf["SWEEP_BATCH"])
    # Not after commit: the sweeper writes nothing, the rows it read are committed already.
    for target_id, version in due:
        publish_target(target_id, version)
    for target_id, version in stuck:
        reconcile_target(target_id, version)
    return {"due": len(due), "reconcile": len(stuck)}


@db_periodic_task(crontab(minute="*"))
def sweep() -> dict[str, int]:
    return sweep_once()
