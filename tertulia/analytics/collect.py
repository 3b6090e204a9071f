"""Periodic metric snapshots of every connected account (DESIGN.md §3), like ``inbox.polling``.

Each account has one ``MetricsSync`` row: when it is due next, its interval and a lease.
``collect_due_accounts`` (a Huey periodic task, on any number of consumers):

1. creates rows for connected, unpaused, non-demo accounts that lack one (INSERT … ON
   CONFLICT DO NOTHING);
2. claims due rows with a conditional UPDATE on ``lease_until`` (SKIP LOCKED on PostgreSQL),
   so two consumers never read one account at once and a dead consumer's lease expires;
3. for each claimed account: refreshes the sign-in if needed, reads the profile
   (``fetch_profile`` → ``record_profile_snapshots``, and the profile fields for the quarterly
   audit), then the metrics of the account's published posts (``fetch_post_metrics`` →
   ``record_post_metrics``): every post of the last ``RECENT_DAYS`` on every run, older ones
   once every ``OLD_EVERY_DAYS``.

The interval adapts: ``MIN_INTERVAL`` while a post is fresh (its numbers move fast in the first
``FRESH_POST_HOURS``), ``BASE_INTERVAL`` while the account has posts of the last
``RECENT_DAYS``, ``MAX_INTERVAL`` otherwise; ±``JITTER`` on every next time. Failures use the
connector error vocabulary the same way as the inbox polling: ``RateLimited`` waits past the
reset, ``AuthExpired`` parks the account (``networks.services.mark_needs_reconnect``),
``Retryable``/``Ambiguous`` back off exponentially, ``Permanent`` waits ``MAX_INTERVAL``.
A post that is gone on the network (``exists=False``) is not an error: it has no new sample.

**Metric deprecation**: a metric that every post of a run returns as unknown (None), while the
account's kept samples had numbers for it, was dropped by the network. It is recorded in
``MetricsSync.missing_metrics`` (metric → ISO date noticed) and ``missing_metrics()`` gives it
to the dashboard; it is removed when the network gives the metric again.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from tertulia.core import notes, workers
from tertulia.networks.errors import (
    Ambiguous,
    AuthExpired,
    ConnectorError,
    Permanent,
    RateLimited,
    Retryable,
    Unsupported,
)
from tertulia.networks.models import SocialAccount

from . import services
from .models import MetricsSync, PostMetricLatest

log = logging.getLogger(__name__)

DEFAULTS = {
    "MIN_INTERVAL": 3600,  # seconds: an account with a fresh post
    "BASE_INTERVAL": 6 * 3600,  # an account with posts of the last RECENT_DAYS
    "MAX_INTERVAL": 24 * 3600,  # a quiet account: the profile is still read daily
    "JITTER": 0.1,
    "FRESH_POST_HOURS": 48,
    "RECENT_DAYS": 90,
    "OLD_EVERY_DAYS": 7,
    "MAX_POSTS": 400,  # posts read per account and run (the newest first; older ones next run)
    "CHUNK": 100,  # ids per fetch_post_metrics call
    "LEASE_SECONDS": 900,
    "LIMIT": 100,  # accounts claimed per run of the task
    "WORKERS": 4,
}


def conf(key: str):
    return {**DEFAULTS, **(getattr(settings, "ANALYTICS_METRICS", None) or {})}[key]


# Stored in English in ``MetricsSync.last_error``; the status page shows them translated.
MSG_RATE_LIMITED = gettext_noop("The network asked us to slow down; the next reading waits until its limit resets.")
MSG_AUTH = gettext_noop("The network no longer accepts this account's sign-in; reconnect the account to read its "
                        "metrics again.")
MSG_RETRY = gettext_noop("The network could not be reached or answered with an error; we will try again later.")
MSG_UNEXPECTED = gettext_noop("An unexpected error stopped this reading; it was logged and the next one will try "
                              "again.")
MSG_RECONNECT_REASON = gettext_noop("Reading metrics failed: the network no longer accepts the sign-in.")


@dataclass
class Outcome:
    status: str  # ok | rate_limited | needs_reconnect | retry | failed | error | skipped
    profile: int = 0
    samples: int = 0
    gone: int = 0
    dropped: list[str] = field(default_factory=list)


# -- scheduling ----------------------------------------------------------------------------------


def _jitter(seconds: float) -> float:
    spread = float(conf("JITTER"))
    return max(1.0, seconds * (1 + random.uniform(-spread, spread)))  # nosec B311 # jitter/spread for timing or seeded demo data, not security


def backoff(failures: int) -> float:
    base_s, cap = float(conf("MIN_INTERVAL")), float(conf("MAX_INTERVAL"))
    return min(cap, base_s * (2 ** max(0, failures - 1)))


def next_interval(newest_post: datetime | None, now: datetime) -> int:
    """Shorter while a post is fresh, longer for an account that has not posted lately."""
    if newest_post is not None and newest_post >= now - timedelta(hours=float(conf("FRESH_POST_HOURS"))):
        return int(conf("MIN_INTERVAL"))
    if newest_post is not None and newest_post >= now - timedelta(days=float(conf("RECENT_DAYS"))):
        return int(conf("BASE_INTERVAL"))
    return int(conf("MAX_INTERVAL"))


def _collectable_accounts():
    # The same accounts the inbox polls: connected, not paused, not in a demo workspace.
    return SocialAccount.objects.filter(status=SocialAccount.Status.CONNECTED, paused=False,
                                        brand__organization__is_demo=False)


def ensure_syncs(now: datetime) -> int:
    return workers.ensure_rows(MetricsSync, _collectable_accounts().filter(metrics_sync__isnull=True),
                               "next_run_at", now, int(conf("BASE_INTERVAL")))


def _due(now: datetime):
    account_ok = Q(account__status=SocialAccount.Status.CONNECTED, account__paused=False,
                   account__brand__organization__is_demo=False, account__brand__deleted_at__isnull=True)
    return (MetricsSync.objects.filter(account_ok, workers.lease_free(now), next_run_at__lte=now)
            .filter(Q(account__blocked_until__isnull=True) | Q(account__blocked_until__lte=now))
            .order_by("next_run_at"))


def claim(sync_id: int, now: datetime) -> bool:
    """Take the lease on one row with a conditional UPDATE: of two consumers that saw the row
    due, only one matches."""
    return workers.take_lease(MetricsSync.objects.filter(pk=sync_id, next_run_at__lte=now), now,
                              float(conf("LEASE_SECONDS"))) is not None


def claim_due(now: datetime, limit: int) -> list[int]:
    return workers.claim_due(_due(now), lambda pk: claim(pk, now), limit)


def collect_due_accounts(now: datetime | None = None, limit: int | None = None) -> dict:
    """Read every account whose metrics are due (at most ``limit``); one account's failure is
    recorded on its row and never stops the others."""
    now = now or timezone.now()
    limit = int(limit or conf("LIMIT"))
    ensure_syncs(now)
    claimed = claim_due(now, limit)
    results = workers.run_each(lambda sync_id: _collect_one(sync_id, now), claimed,
                             workers=workers.pool_size(conf("WORKERS")), name="tertulia-metrics")
    out = {"claimed": len(claimed), "samples": 0, "outcomes": {}}
    for account_id, outcome in results:
        if account_id is None:
            continue
        out["outcomes"][str(account_id)] = outcome.status
        out["samples"] += outcome.samples
    return out




def _collect_one(sync_id: int, now: datetime) -> tuple[int | None, Outcome]:
    sync = MetricsSync.objects.select_related("account", "account__brand").filter(pk=sync_id).first()
    if sync is None:
        return None, Outcome("skipped")
    try:
        return sync.account_id, collect_account(sync, now)
    except Exception:  # a bug for one account must not stop the others
        log.exception("metrics of account %s failed", sync.account_id)
        try:
            _finish(sync, now, error=MSG_UNEXPECTED, delay=backoff(sync.failures + 1), failed=True)
        except Exception:
            log.exception("metrics of account %s: could not record the failure", sync.account_id)
        return sync.account_id, Outcome("error")


# -- one account ---------------------------------------------------------------------------------


def _connector(account: SocialAccount):
    """The publishing engine's door to the network (demo brands refused, rate-limit memory and
    refreshed tokens shared with publishing and the inbox)."""
    from tertulia.publishing.engine import connector_for

    return connector_for(account)


def targets_to_read(account: SocialAccount, now: datetime) -> list:
    """Published targets of ``account`` to read this run: all of the last ``RECENT_DAYS``, and
    older ones whose kept sample is more than ``OLD_EVERY_DAYS`` old (newest first, bounded)."""
    from tertulia.publishing.models import PostTarget

    recent_since = now - timedelta(days=float(conf("RECENT_DAYS")))
    old_before = now - timedelta(days=float(conf("OLD_EVERY_DAYS")))
    base = (PostTarget.objects.filter(account=account, state=PostTarget.State.PUBLISHED, deleted_at__isnull=True)
            .exclude(external_id=""))
    cap = int(conf("MAX_POSTS"))
    recent = list(base.filter(published_at__gte=recent_since).order_by("-published_at")[:cap])
    if len(recent) < cap:
        stale = Q(latest_metrics__isnull=True) | Q(latest_metrics__taken_at__lt=old_before)
        recent += list(base.filter(Q(published_at__lt=recent_since) | Q(published_at__isnull=True))
                       .filter(stale).order_by("-published_at")[:cap - len(recent)])
    return recent


def collect_account(sync: MetricsSync, now: datetime) -> Outcome:
    """Read one claimed account and record the outcome on its row (the lease is released)."""
    from tertulia.networks.services import mark_needs_reconnect, refresh_account

    account = sync.account
    outcome = Outcome("ok")
    if refresh_account(account, connector_factory=_connector) == "needs_reconnect":
        _finish(sync, now, error=MSG_AUTH, delay=float(conf("MAX_INTERVAL")), failed=True)
        return Outcome("needs_reconnect")
    targets = targets_to_read(account, now)
    try:
        with _connector(account) as connector:
            profile_fields = None
            try:
                profile = connector.fetch_profile()
            except Unsupported:  # a network without profile counters: post metrics only
                profile = None
            if profile is not None:
                outcome.profile = services.record_profile_snapshots(account, [services.ProfileSample(
                    taken_at=now, followers=_count(profile.followers), following=_count(profile.following),
                    posts=_count(profile.posts))])
                profile_fields = {
                    "display_name": profile.display_name[:200], "bio": profile.bio[:2000], "url": profile.url[:500],
                    "avatar_url": profile.avatar_url[:500],
                    "cover_url": str(getattr(profile, "cover_url", "") or "")[:500],
                    "fields": {str(k)[:100]: str(v)[:500] for k, v in list((profile.fields or {}).items())[:20]},
                    "read_at": now.isoformat(),
                }
            by_external: dict[str, list] = {}
            for t in targets:
                by_external.setdefault(t.external_id, []).append(t)
            ids = list(by_external)
            answers = {}
            chunk = int(conf("CHUNK"))
            try:
                for i in range(0, len(ids), chunk):
                    answers.update(connector.fetch_post_metrics(ids[i:i + chunk]))
            except Unsupported:  # the network shows no post metrics: the profile is still kept
                answers = {}
    except RateLimited as err:
        wait = max(float(err.retry_after or 0), float(sync.interval_seconds or 0))
        _finish(sync, now, error=MSG_RATE_LIMITED, delay=wait + _jitter(60.0))
        log.info("metrics of account %s rate limited: %s", account.pk, err.log_line())
        return Outcome("rate_limited")
    except AuthExpired as err:
        log.warning("metrics of account %s: sign-in refused: %s", account.pk, err.log_line())
        mark_needs_reconnect(account, MSG_RECONNECT_REASON)
        _finish(sync, now, error=MSG_AUTH, delay=float(conf("MAX_INTERVAL")), failed=True)
        return Outcome("needs_reconnect")
    except (Retryable, Ambiguous) as err:
        log.info("metrics of account %s failed, will retry: %s", account.pk, err.log_line())
        delay = max(backoff(sync.failures + 1), float(err.retry_after or 0))
        _finish(sync, now, error=MSG_RETRY, delay=delay, failed=True)
        return Outcome("retry")
    except (Permanent, ConnectorError) as err:
        log.info("metrics of account %s refused: %s", account.pk, err.log_line())
        message = notes.english(notes.note(err.user_message)) if err.user_message else MSG_RETRY
        _finish(sync, now, error=message, delay=float(conf("MAX_INTERVAL")), failed=True)
        return Outcome("failed")

    samples = []
    for external_id, group in by_external.items():
        # Connectors key their answer by the id they were given, or by its last segment.
        metrics = answers.get(external_id) or answers.get(external_id.rstrip("/").rsplit("/", 1)[-1])
        if metrics is None:
            continue  # not answered this time: no sample (unknown), not a zero
        if not metrics.exists:
            outcome.gone += len(group)  # deleted on the network: not an error, no new sample
            continue
        for target in group:
            samples.append(services.PostMetrics(target=target, taken_at=now, **{
                name: _count(getattr(metrics, name, None)) for name in services.POST_METRIC_FIELDS}))
    missing = _deprecations(sync, account, samples, now.date())
    outcome.dropped = sorted(set(missing) - set(sync.missing_metrics or {}))
    outcome.samples = services.record_post_metrics(samples)
    newest = max((t.published_at for t in targets if t.published_at), default=None)
    interval = next_interval(newest, now)
    _finish(sync, now, error="", delay=_jitter(interval), interval=interval, profile=profile_fields,
            missing=missing)
    return outcome


def _count(value):
    """A connector's counter as a stored count: a negative or non-integer answer is unknown."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _deprecations(sync: MetricsSync, account: SocialAccount, samples, today: date) -> dict[str, str]:
    """The account's missing metrics after this run (see the module docstring). Must run before
    the samples are recorded: it compares them with the samples kept so far."""
    missing = dict(sync.missing_metrics or {})
    if not samples:
        return missing
    # The same posts as before: a metric only some posts have (Instagram's video views, on
    # videos) is not "dropped" because this run read no video.
    kept = PostMetricLatest.objects.filter(account=account, target_id__in={s.target.pk for s in samples})
    for name in services.POST_METRIC_FIELDS:
        if any(getattr(s, name) is not None for s in samples):
            missing.pop(name, None)  # given again (or never dropped)
        elif name not in missing and kept.filter(**{f"{name}__isnull": False}).exists():
            missing[name] = today.isoformat()
    return missing


def _finish(sync: MetricsSync, now: datetime, *, error: str, delay: float, interval: int | None = None,
            failed: bool = False, profile: dict | None = None, missing: dict | None = None) -> None:
    """Record the outcome and release the lease, only if we still hold it."""
    values = {"next_run_at": now + timedelta(seconds=delay), "lease_until": None, "last_error": error[:500],
              "last_run_at": now, "failures": min(sync.failures + 1, 1000) if failed else 0}
    if interval is not None:
        values["interval_seconds"] = interval
    if profile is not None:
        values["profile"] = profile
    if missing is not None:
        values["missing_metrics"] = missing
    MetricsSync.objects.filter(pk=sync.pk, lease_until=sync.lease_until).update(**values)
    for key, value in values.items():
        setattr(sync, key, value)


# -- reads for the dashboard and the status page ---------------------------------------------------


def missing_metrics(brand_ids: Sequence[int]) -> dict[str, dict[str, date]]:
    """Per network, the metrics a network stopped giving to these brands' accounts, with the
    earliest day it was noticed."""
    rows = (MetricsSync.objects.filter(account__brand_id__in=list(brand_ids)).exclude(missing_metrics={})
            .values_list("account__network", "missing_metrics"))
    return merge_missing(rows)


def merge_missing(rows) -> dict[str, dict[str, date]]:
    """``missing_metrics`` from ``(network, MetricsSync.missing_metrics)`` pairs (the JSON as
    stored, or its text as a plain cursor reads it on SQLite; None for an account without a row)."""
    out: dict[str, dict[str, date]] = {}
    for network, metrics in rows:
        if isinstance(metrics, str | bytes):
            metrics = json.loads(metrics)
        for name, iso in (metrics or {}).items():
            try:
                day = date.fromisoformat(str(iso))
            except ValueError:
                continue
            known = out.setdefault(network, {})
            if name not in known or day < known[name]:
                known[name] = day
    return out


def collect_now(account_ids: Sequence[int], now: datetime | None = None) -> dict[int, str]:
    """Read these accounts now, out of turn; one that is being read, backing off, or that cannot
    be read is left as it is ("skipped")."""
    now = now or timezone.now()
    ensure_syncs(now)
    outcomes = {}
    for account_id in account_ids:
        MetricsSync.objects.filter(account_id=account_id, failures=0).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now)).update(next_run_at=now)
        sync_id = _due(now).filter(account_id=account_id).values_list("pk", flat=True).first()
        if sync_id is None or not claim(sync_id, now):
            outcomes[account_id] = "skipped"
            continue
        outcomes[account_id] = _collect_one(sync_id, now)[1].status
    return outcomes


def do_read_metrics_now(ctx, account: SocialAccount) -> str:
    """A person asks for an account's metrics now ("Read now"): the outcome, as in
    ``collect_now`` ("ok", "skipped", "retry", "needs_reconnect"…). No transaction around it:
    the network is called, and ``collect`` commits each step (lease, samples, outcome) itself."""
    from tertulia.core import roles
    from tertulia.core.services import _log, _require

    _require(ctx, account.brand, roles.COMPOSE)
    with transaction.atomic():
        _log(ctx, "metrics.read_now", brand=account.brand, obj=account)
    return collect_now([account.pk])[account.pk]

