"""Polling every connected account for comments, mentions and messages (DESIGN.md §3).

Each account has one ``InboxSync`` row: when it is due next, its current interval, the
connector's opaque cursor and a lease. ``poll_due_accounts`` (a Huey periodic task, every
minute, on any number of consumers) works like the publishing engine:

1. Rows are created for connected, unpaused accounts that lack one (INSERT … ON CONFLICT DO
   NOTHING, so two consumers doing it at once create one row).
2. Due rows are claimed with a conditional UPDATE on ``lease_until`` (and SKIP LOCKED on
   PostgreSQL): a row another consumer holds matches nothing, so two consumers never poll one
   account at once. A consumer that dies leaves a lease that expires; the next one takes over.
3. For each claimed account: refresh the sign-in if it is about to expire, call
   ``fetch_interactions`` with the stored cursor and the ids of our recent posts (their threads
   are re-read, which also reveals edits and deletions), follow ``more`` for a bounded number
   of rounds, ingest, reconcile deletions, store the cursor and release the lease.

The interval adapts per account: it halves (down to ``MIN_INTERVAL``) when a poll finds
something new or the account published in the last ``FRESH_POST_HOURS`` (a fresh post draws
comments), and grows by half (up to ``MAX_INTERVAL``) when a poll is quiet. Every next time
gets ±``JITTER`` so thousands of accounts created together spread out instead of polling in
the same second. Failures: ``RateLimited`` waits past the reset, ``AuthExpired`` parks the
account (``networks.services.mark_needs_reconnect``, the same as publishing) and stops its
polling, ``Retryable``/``Ambiguous`` back off exponentially, ``Permanent`` backs off to the cap;
an unexpected exception in one account is logged and recorded, and the others go on.
``last_error`` keeps plain English words for the accounts page (empty after a good poll).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from tertulia.core import notes, workers
from tertulia.networks import base
from tertulia.networks.errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable
from tertulia.networks.models import SocialAccount

from . import changes
from .models import InboxSync
from .services import IncomingAuthor, IncomingInteraction, ingest_interactions

log = logging.getLogger(__name__)

DEFAULTS = {
    "MIN_INTERVAL": 60,  # seconds: a busy account, or one that just published
    "BASE_INTERVAL": 300,  # a new account, and where a quiet account starts from
    "MAX_INTERVAL": 3600,  # a quiet account is still read every hour
    "JITTER": 0.1,  # ±10 % on every next time
    "FRESH_POST_HOURS": 6,
    "THREAD_DAYS": 7,  # our posts whose threads are re-read (edits, deletions, deep replies)
    "MAX_THREADS": 20,
    "MAX_ROUNDS": 5,  # fetch_interactions calls per poll when the connector says there is more
    "LEASE_SECONDS": 600,
    "FIRST_LOOKBACK_HOURS": 48,  # how far back the first poll of an account reads
    "LIMIT": 200,  # accounts claimed per run of the task
    "WORKERS": 8,  # accounts polled at once by one run (1 when Huey runs tasks inline)
    # Per network, the connector's own cost knobs: {"mastodon": {"interaction_pages": 2}}.
    "CONNECTOR_OPTIONS": {},
}
CONNECTOR_KNOBS = frozenset({"interaction_pages", "context_threads", "context_days"})


def conf(key: str):
    return {**DEFAULTS, **(getattr(settings, "INBOX_POLLING", None) or {})}[key]


# Stored in English in ``InboxSync.last_error`` (like the delivery log) and marked for the
# catalogs, so a page shows them in the reader's language with ``{% translate sync.last_error %}``.
MSG_RATE_LIMITED = gettext_noop("The network asked us to slow down; the next check waits until its limit resets.")
MSG_AUTH = gettext_noop("The network no longer accepts this account's sign-in; reconnect the account to receive "
                        "messages again.")
MSG_RETRY = gettext_noop("The network could not be reached or answered with an error; we will try again shortly.")
MSG_UNEXPECTED = gettext_noop("An unexpected error stopped this check; it was logged and the next check will try "
                              "again.")
MSG_RECONNECT_REASON = gettext_noop("Checking for new comments and messages failed: the network no longer accepts "
                                    "the sign-in.")


@dataclass
class PollOutcome:
    status: str  # ok | rate_limited | needs_reconnect | retry | failed | error | skipped
    created: int = 0
    edited: int = 0
    deleted: int = 0
    rounds: int = 0


@dataclass
class RunResult:
    claimed: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)  # account id -> status
    created: int = 0
    edited: int = 0
    deleted: int = 0

    def as_dict(self) -> dict:
        return {"claimed": self.claimed, "created": self.created, "edited": self.edited, "deleted": self.deleted,
                "outcomes": {str(k): v for k, v in self.outcomes.items()}}


# -- scheduling ----------------------------------------------------------------------------------


def _jitter(seconds: float) -> float:
    spread = float(conf("JITTER"))
    return max(1.0, seconds * (1 + random.uniform(-spread, spread)))  # nosec B311 # jitter/spread for timing or seeded demo data, not security


def next_interval(current: int, *, found: int, fresh_post: bool) -> int:
    """The adaptive interval: shorter when busy or when a post is fresh, longer when quiet."""
    low, high = int(conf("MIN_INTERVAL")), int(conf("MAX_INTERVAL"))
    current = max(low, min(high, current or int(conf("BASE_INTERVAL"))))
    if found:
        value = current // 2
    else:
        value = int(current * 1.5)
    if fresh_post:
        value = min(value, max(low, int(conf("BASE_INTERVAL")) // 2))
    return max(low, min(high, value))


def backoff(failures: int) -> float:
    """Seconds before the next try after ``failures`` failures in a row: base·2^(n-1), capped."""
    base_s, cap = float(conf("MIN_INTERVAL")), float(conf("MAX_INTERVAL"))
    return min(cap, base_s * (2 ** max(0, failures - 1)))


def _unpolled_networks() -> list[str]:
    """Networks with nothing to read (Joomla core has no comments): never polled."""
    from tertulia.networks.capabilities import INTERACTION_KINDS

    return sorted(str(network) for network, kinds in INTERACTION_KINDS.items() if not kinds)


def _pollable_accounts():
    return SocialAccount.objects.filter(status=SocialAccount.Status.CONNECTED, paused=False,
                                        brand__organization__is_demo=False).exclude(network__in=_unpolled_networks())


def ensure_syncs(now: datetime) -> int:
    """An ``InboxSync`` row for every pollable account that lacks one, due now."""
    return workers.ensure_rows(InboxSync, _pollable_accounts().filter(inbox_sync__isnull=True),
                               "next_poll_at", now, int(conf("BASE_INTERVAL")))


def _due(now: datetime):
    account_ok = Q(account__status=SocialAccount.Status.CONNECTED, account__paused=False,
                   account__brand__organization__is_demo=False, account__brand__deleted_at__isnull=True)
    return (InboxSync.objects.filter(account_ok, workers.lease_free(now), next_poll_at__lte=now)
            .exclude(account__network__in=_unpolled_networks())
            .filter(Q(account__blocked_until__isnull=True) | Q(account__blocked_until__lte=now))
            .order_by("next_poll_at"))


def claim(sync_id: int, now: datetime) -> bool:
    """Take the lease on one row (``workers.take_lease``)."""
    return workers.take_lease(InboxSync.objects.filter(pk=sync_id, next_poll_at__lte=now), now,
                              float(conf("LEASE_SECONDS"))) is not None


def claim_due(now: datetime, limit: int) -> list[int]:
    return workers.claim_due(_due(now), lambda pk: claim(pk, now), limit)


def poll_due_accounts(now: datetime | None = None, limit: int | None = None) -> dict:
    """Poll every account whose next poll is due (at most ``limit``). A failure in one account
    is recorded on its row and never stops the others."""
    now = now or timezone.now()
    limit = int(limit or conf("LIMIT"))
    ensure_syncs(now)
    result = RunResult()
    claimed = claim_due(now, limit)  # committed: every lease is on record before any request
    result.claimed = len(claimed)
    outcomes = workers.run_each(lambda sync_id: _poll_one(sync_id, now), claimed,
                              workers=workers.pool_size(conf("WORKERS")), name="tertulia-poll")
    for account_id, outcome in outcomes:
        if account_id is None:
            continue
        result.outcomes[account_id] = outcome.status
        result.created += outcome.created
        result.edited += outcome.edited
        result.deleted += outcome.deleted
    return result.as_dict()


def poll_now(account_ids: Sequence[int], now: datetime | None = None) -> dict[int, str]:
    """Poll these accounts now, out of turn (a CM pressed "Fetch now"), each outcome by account.
    An account a consumer is polling at this moment, one the network asked us to leave alone for
    a while, and one that cannot be polled (disconnected, paused, demo) are left as they are."""
    now = now or timezone.now()
    ensure_syncs(now)
    outcomes = {}
    for account_id in account_ids:
        # Not while a consumer holds it, nor while it backs off after failures or a 429.
        idle = InboxSync.objects.filter(account_id=account_id, failures=0).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        idle.update(next_poll_at=now)
        sync_id = _due(now).filter(account_id=account_id).values_list("pk", flat=True).first()
        if sync_id is None or not claim(sync_id, now):
            outcomes[account_id] = "skipped"
            continue
        outcomes[account_id] = _poll_one(sync_id, now)[1].status
    return outcomes




def _poll_one(sync_id: int, now: datetime) -> tuple[int | None, PollOutcome]:
    sync = InboxSync.objects.select_related("account", "account__brand").filter(pk=sync_id).first()
    if sync is None:
        return None, PollOutcome("skipped")
    try:
        return sync.account_id, poll_account(sync, now)
    except Exception:  # a bug for one account must not stop the others
        log.exception("inbox poll of account %s failed", sync.account_id)
        try:
            _finish(sync, now, status="error", error=MSG_UNEXPECTED, delay=backoff(sync.failures + 1), failed=True)
        except Exception:  # the database itself failed: the lease expires and another run retries
            log.exception("inbox poll of account %s: could not record the failure", sync.account_id)
        return sync.account_id, PollOutcome("error")


# -- one account ---------------------------------------------------------------------------------


def _connector(account: SocialAccount):
    """The publishing engine's door to the network (demo brands refused, rate-limit memory
    shared, refreshed tokens stored at once), with the operator's cost knobs for polling."""
    from tertulia.publishing.engine import connector_for

    connector = connector_for(account)
    for key, value in ((conf("CONNECTOR_OPTIONS") or {}).get(account.network) or {}).items():
        if key in CONNECTOR_KNOBS and hasattr(connector, key):
            setattr(connector, key, value)
    return connector


def _widens(network: str) -> bool:
    from tertulia.networks import registry

    return not registry.is_available(network) or registry.connector_class(network).thread_ids_widen


def recent_threads(account: SocialAccount, now: datetime) -> tuple[list[str], bool]:
    """Our posts on this account from the last ``THREAD_DAYS`` (newest first, bounded), and
    whether one was published in the last ``FRESH_POST_HOURS``."""
    from tertulia.publishing.models import PostTarget

    rows = list(PostTarget.objects.filter(account=account, state=PostTarget.State.PUBLISHED,
                                          deleted_at__isnull=True,
                                          published_at__gte=now - timedelta(days=float(conf("THREAD_DAYS"))))
                .exclude(external_id="").order_by("-published_at")
                .values_list("external_id", "published_at")[: int(conf("MAX_THREADS"))])
    fresh_since = now - timedelta(hours=float(conf("FRESH_POST_HOURS")))
    threads = [r[0] for r in rows]
    # Running giveaways may run on posts published outside Tertulia: their comments are entries.
    from tertulia.giveaways.services import threads_for

    threads += [ext for ext in threads_for(account.pk, now) if ext not in threads]
    return threads, any(r[1] and r[1] >= fresh_since for r in rows)


def to_incoming(item: base.Interaction, now: datetime) -> IncomingInteraction:
    """A connector's ``Interaction`` as the inbox stores it."""
    post = item.post
    author = post.author
    handle = (author.handle or author.display_name or author.external_id or "?")[:200]
    kind = str(item.kind.value if isinstance(item.kind, base.InteractionKind) else item.kind)
    if kind == base.InteractionKind.COMMENT:
        root = item.on_post or post.in_reply_to
    elif kind == base.InteractionKind.DM:
        root = item.conversation_id or post.in_reply_to or post.external_id
    else:  # a mention: grouped per author under the post it answers, or on its own
        root = post.in_reply_to
    text = post.text
    if post.content_warning:
        text = f"{post.content_warning}\n\n{text}" if text else post.content_warning
    return IncomingInteraction(
        external_id=post.external_id, kind=kind,
        author=IncomingAuthor(external_id=author.external_id or f"handle:{handle}", handle=handle,
                              display_name=author.display_name[:200], followers=author.followers,
                              account_created_at=author.created_at),
        text=text, created_at=post.created_at or now, root_external_id=(root or "")[:200],
        parent_external_id=(post.in_reply_to or "")[:200], language=(post.language or "")[:8],
        edited_at=post.edited_at)


def poll_account(sync: InboxSync, now: datetime) -> PollOutcome:
    """Poll one claimed account and record the outcome on its row (the lease is released)."""
    from tertulia.networks.services import mark_needs_reconnect, refresh_account

    account = sync.account
    outcome = PollOutcome("ok")
    if refresh_account(account, connector_factory=_connector) == "needs_reconnect":
        _finish(sync, now, status="needs_reconnect", error=MSG_AUTH, delay=float(conf("MAX_INTERVAL")), failed=True)
        return PollOutcome("needs_reconnect")
    thread_ids, fresh_post = recent_threads(account, now)
    if not _widens(account.network):
        thread_ids = []  # they would narrow this connector's read to our posts only
    cursor = sync.cursor
    since = None if cursor else now - timedelta(hours=float(conf("FIRST_LOOKBACK_HOURS")))
    try:
        with _connector(account) as connector:
            for _round in range(int(conf("MAX_ROUNDS"))):
                read_started = timezone.now()
                batch = connector.fetch_interactions(since, cursor=cursor, thread_ids=thread_ids)
                outcome.rounds += 1
                incoming = [to_incoming(item, now) for item in (*batch.items, *batch.revisions)
                            if item.post.external_id]
                if incoming:
                    ingested = ingest_interactions(account, incoming)
                    outcome.created += ingested.created
                    outcome.edited += ingested.edited
                if batch.deleted:
                    outcome.deleted += changes.mark_deleted(account, batch.deleted, now)
                if batch.threads:
                    gone, _back = changes.reconcile_threads(account, batch.threads, read_started=read_started, at=now)
                    outcome.deleted += gone
                advanced = bool(batch.cursor) and batch.cursor != cursor
                cursor = batch.cursor or cursor
                # Store progress after every round: a crash in round 3 does not re-read 1 and 2.
                InboxSync.objects.filter(pk=sync.pk).update(cursor=cursor[:4000])
                if not (batch.more and advanced):
                    break
    except RateLimited as err:
        wait = max(float(err.retry_after or 0), float(sync.interval_seconds or 0))
        _finish(sync, now, status="rate_limited", error=MSG_RATE_LIMITED, delay=wait + _jitter(30.0), cursor=cursor)
        log.info("inbox poll of account %s rate limited: %s", account.pk, err.log_line())
        outcome.status = "rate_limited"
        return outcome
    except AuthExpired as err:
        log.warning("inbox poll of account %s: sign-in refused: %s", account.pk, err.log_line())
        mark_needs_reconnect(account, MSG_RECONNECT_REASON)
        _finish(sync, now, status="needs_reconnect", error=MSG_AUTH, delay=float(conf("MAX_INTERVAL")),
                cursor=cursor, failed=True)
        outcome.status = "needs_reconnect"
        return outcome
    except (Retryable, Ambiguous) as err:
        log.info("inbox poll of account %s failed, will retry: %s", account.pk, err.log_line())
        delay = max(backoff(sync.failures + 1), float(err.retry_after or 0))
        _finish(sync, now, status="retry", error=MSG_RETRY, delay=delay, cursor=cursor, failed=True)
        outcome.status = "retry"
        return outcome
    except (Permanent, ConnectorError) as err:
        log.info("inbox poll of account %s refused: %s", account.pk, err.log_line())
        message = notes.english(notes.note(err.user_message)) if err.user_message else MSG_RETRY
        _finish(sync, now, status="failed", error=message, delay=float(conf("MAX_INTERVAL")), cursor=cursor,
                failed=True)
        outcome.status = "failed"
        return outcome
    found = outcome.created + outcome.edited + outcome.deleted
    interval = next_interval(sync.interval_seconds, found=found, fresh_post=fresh_post)
    _finish(sync, now, status="ok", error="", delay=_jitter(interval), cursor=cursor, interval=interval,
            found=outcome.created + outcome.edited)
    return outcome


def _finish(sync: InboxSync, now: datetime, *, status: str, error: str, delay: float, cursor: str | None = None,
            interval: int | None = None, found: int | None = None, failed: bool = False) -> None:
    """Record the outcome and release the lease, only if we still hold it (a poll that outlived
    its lease must not overwrite the newer poll's row)."""
    values = {"next_poll_at": now + timedelta(seconds=delay), "lease_until": None, "last_error": error[:500],
              "last_polled_at": now, "failures": min(sync.failures + 1, 1000) if failed else 0}
    if cursor is not None:
        values["cursor"] = cursor[:4000]
    if interval is not None:
        values["interval_seconds"] = interval
    if found is not None:
        values["last_found"] = found
    # ``sync`` was read right after our claim, so its lease_until is the one we hold.
    InboxSync.objects.filter(pk=sync.pk, lease_until=sync.lease_until).update(**values)
    for key, value in values.items():
        setattr(sync, key, value)
