"""Huey tasks of the publishing engine. The rows are the truth; these only do the work.

- ``publish_target(id, version)``: queued with an ETA at the due time (after commit). A stale
  or duplicate task finds another version or state and does nothing.
- ``reconcile_target(id, version)``: a claim whose lease expired; find_published before any
  retry.
- ``publish_comment(id)`` / ``reconcile_comment(id)``: the first comment, a step of its own
  after the main post (engine.py, "the first comment").
- ``sweep``: every minute, re-queue what is due but whose task was lost (a consumer restarted
  with an in-memory queue, a Redis flush), and reconcile expired leases, for main posts and
  first comments. Safe to run on every consumer at once: it only enqueues, and the claim decides.
- ``refresh_tokens``: every ten minutes, renew sign-ins that expire within the margin (where
  the network allows it), so a publish rarely has to.
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


@db_task()
def publish_comment(target_id: int) -> str:
    return engine.publish_comment(target_id)


@db_task()
def reconcile_comment(target_id: int) -> str:
    return engine.reconcile_comment(target_id)


def due_targets(now, grace: float = 0.0, limit: int = 1000):
    """What the sweeper re-queues: ``engine.due_targets`` as (id, version) pairs."""
    return list(engine.due_targets(now, grace).values_list("pk", "version")[:limit])


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
    comments, comments_stuck = engine.comments_due(now, grace, conf["SWEEP_BATCH"])
    for target_id in comments:
        publish_comment(target_id)
    for target_id in comments_stuck:
        reconcile_comment(target_id)
    counts = {"due": len(due), "reconcile": len(stuck)}
    if comments or comments_stuck:  # first comments (keys only when there are some)
        counts.update(comments=len(comments), reconcile_comments=len(comments_stuck))
    return counts


@db_periodic_task(crontab(minute="*"))
def sweep() -> dict[str, int]:
    return sweep_once()


def refresh_tokens_once(margin: timedelta | None = None) -> dict[str, int]:
    """Renew every connected account's sign-in that expires within ``margin``, by default its
    connector's ``refresh_ahead`` (30 minutes, well ahead of the ten-minute period; days for
    tokens that live for weeks). Returns counts per outcome."""
    from tertulia.networks import registry
    from tertulia.networks.models import SocialAccount
    from tertulia.networks.services import needs_refresh, refresh_account

    def ahead(network: str) -> timedelta:
        return margin or registry.connector_class(network).refresh_ahead

    widest = margin or max(ahead(n) for n in registry.available())
    now = db_now()
    counts: dict[str, int] = {}
    candidates = (SocialAccount.objects.select_related("brand")
                  .filter(status=SocialAccount.Status.CONNECTED, token_expires_at__isnull=False,
                          token_expires_at__lte=now + widest)
                  .exclude(refresh_token="").order_by("token_expires_at")[:500])  # nosec B106 # not a password: an OAuth token_type or an empty filter value
    for account in candidates:
        if not registry.is_available(account.network) or not needs_refresh(account, ahead(account.network), now):
            continue
        outcome = refresh_account(account, margin=ahead(account.network), connector_factory=engine.connector_for)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@db_periodic_task(crontab(minute="*/10"))
def refresh_tokens() -> dict[str, int]:
    return refresh_tokens_once()
