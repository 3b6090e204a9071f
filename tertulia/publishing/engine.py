"""The publishing engine: deliver one target, at most once, with reconciliation (DESIGN.md §3).

``publish(target_id, version)`` is what the Huey task runs:

1. Re-read the row. Do nothing unless it is still ``scheduled`` at that version (a stale or
   duplicate task), its account is not paused, and it is due by the *database's* clock (a
   consumer whose clock runs ahead re-queues itself for the remaining time).
2. Claim: one conditional UPDATE to ``publishing`` with a new attempt id and a lease, plus a
   ``DeliveryAttempt`` row, committed *before* the network is called. Of several consumers
   holding the same task only one UPDATE matches.
3. Validate the text again for the network; an invalid text never reaches the network.
4. Call the connector and record the outcome with another conditional UPDATE:
   - success: the network's id, link and time;
   - ``Retryable`` / ``RateLimited``: back to ``scheduled`` with capped exponential backoff and
     jitter (at least ``retry_after``), until ``MAX_ATTEMPTS``, then ``failed``;
   - ``Permanent``: ``failed`` with the network's text in the delivery log;
   - ``Ambiguous``: ask ``find_published`` before anything else; found -> published, not
     found -> retry; if even the check fails the target stays ``publishing`` with a short
     lease, for the sweeper to check again. Never re-post blindly;
   - ``AuthExpired``: the account -> ``needs_reconnect``, the target -> ``needs_attention``.

``reconcile(target_id, version)`` handles a claim whose lease expired (the consumer died
mid-call): it takes the lease over and asks ``find_published`` before any retry.

Messages for people are stored as notes (``messages.py``): translated when shown, in the
reader's language, never frozen in the consumer's.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from tertulia.content.models import PostVariant
from tertulia.content.text_rules import NETWORKS as TEXT_RULE_NETWORKS
from tertulia.content.text_rules import validate
from tertulia.networks import registry
from tertulia.networks.base import MediaItem, PostPayload, PublishedRef
from tertulia.networks.errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited
from tertulia.networks.http import HttpConfig, RateLimitBook
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import mark_needs_reconnect

from tertulia.core import notes as messages
from .clock import db_now
from .models import DeliveryAttempt, PostTarget
from .states import move

log = logging.getLogger(__name__)
S = PostTarget.State
Outcome = DeliveryAttempt.Outcome

MSG_RECONNECT = _("This account needs to be reconnected: the network no longer accepts its sign-in. "
                  "Reconnect it in Accounts, then retry this post.")
MSG_NOT_CONNECTED = _("This account is not connected. Reconnect it in Accounts, then retry this post.")
MSG_GAVE_UP = _("We tried %(count)s times and the network did not accept the post. Its last answer:")
MSG_MEDIA_MISSING = _("An attached file is missing from the media library. Attach it again, then retry this post.")
MSG_LOST = _("A publishing attempt was interrupted and the post is not on the network. We will try again.")

# One rate-limit memory per consumer process, shared by every connector it builds.
RATE_BOOK = RateLimitBook()


def conf(key: str):
    return settings.PUBLISHING[key]


# -- what to send ------------------------------------------------------------------------------


def target_text(target: PostTarget) -> str:
    variant = PostVariant.objects.filter(post_id=target.post_id, network=target.account.network).first()
    return variant.effective_text if variant is not None else target.post.text


def text_problems(target: PostTarget) -> list:
    """The text rules' problems for the target's network (none for networks without rules)."""
    network = target.account.network
    if network not in TEXT_RULE_NETWORKS:
        return []
    has_media = target.post.attachments.exists()
    return validate(network, target_text(target), has_media=has_media).problems


def media_items(target: PostTarget) -> tuple[MediaItem, ...]:
    items = []
    for attachment in target.post.attachments.select_related("asset"):
        asset = attachment.asset
        if not asset.file or not asset.file.storage.exists(asset.file.name):
            raise FileNotFoundError(f"media asset {asset.pk}: {asset.file.name or 'no file'}")
        try:
            source = {"path": asset.file.path}
        except NotImplementedError:  # remote storage: read the bytes
            with asset.file.open("rb") as handle:
                source = {"content": handle.read()}
        items.append(MediaItem(filename=asset.file.name.rsplit("/", 1)[-1], mime_type=asset.mime_type,
                               alt_text=asset.alt_text, **source))
    return tuple(items)


def content_hash(target: PostTarget) -> str:
    """The fingerprint of the words, for the delivery log (reads no media files)."""
    return PostPayload(text=target_text(target)).content_hash()


def build_payload(target: PostTarget) -> PostPayload:
    """What the connector sends. ``marker`` is stable across retries of this target."""
    # No language tag yet: a brand writes in more than one language; the network guesses.
    return PostPayload(text=target_text(target), media=media_items(target), marker=target.marker)


def connector_for(account: SocialAccount):
    return registry.connector_for(account, http_config=HttpConfig(**conf("HTTP")), rate_book=RATE_BOOK)


# -- timing ------------------------------------------------------------------------------------


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempts + 1``: base·2^(n-1), capped, with "equal
    jitter" (half fixed, half random) so that many targets failing together do not retry
    together; never less than what the network asked for."""
    base, cap = conf("BACKOFF_BASE"), conf("BACKOFF_CAP")
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    delay = delay / 2 + random.uniform(0, delay / 2)
    if retry_after is not None:
        # Honour the network, plus a little jitter so a burst of 429s does not come back at once.
        delay = max(delay, retry_after + random.uniform(0, min(5.0, retry_after * 0.1)))
    return delay


def enqueue(target: PostTarget, *, at: datetime | None = None, now: datetime | None = None,
            reconcile: bool = False) -> None:
    """Queue the task for the target's current version after the transaction commits (a task
    that ran before the commit would read the old row and do nothing)."""
    from . import tasks

    now = now or db_now()
    delay = max(0.0, (at - now).total_seconds()) if at is not None else 0.0
    task = tasks.reconcile_target if reconcile else tasks.publish_target
    args = (target.pk, target.version)
    # The delay is relative: a consumer with a skewed clock still waits the right time, and
    # the claim re-checks against the database's clock anyway.
    if delay > 0:
        transaction.on_commit(lambda: task.schedule(args=args, delay=delay))
    else:
        transaction.on_commit(lambda: task(*args))


def _not_before(target: PostTarget) -> datetime | None:
    times = [t for t in (target.due_at, target.next_attempt_at, target.account.blocked_until) if t]
    return max(times) if times else None


# -- the delivery log --------------------------------------------------------------------------


def _finish_attempt(attempt: DeliveryAttempt, outcome: str, now: datetime, *, err: ConnectorError | None = None,
                    message: messages.Note | None = None, external_id: str = "",
                    retry_at: datetime | None = None) -> None:
    attempt.outcome, attempt.finished_at = outcome, now
    if err is not None:
        attempt.error_kind, attempt.http_status, attempt.error_detail = err.kind, err.status, err.log_line()
    if message:
        attempt.user_message, attempt.user_note = messages.english(message)[:2000], message
    if external_id:
        attempt.external_id = external_id[:200]
    attempt.retry_at = retry_at
    attempt.save()


# -- the task body -----------------------------------------------------------------------------


def publish(target_id: int, version: int) -> str:
    """Deliver one target. Returns a word for logs and tests: published, found, retry, failed,
    needs_attention, unconfirmed, stale, paused, early, superseded."""
    target = PostTarget.objects.select_related("account", "post", "brand").filter(pk=target_id).first()
    if target is None or target.state != S.SCHEDULED or target.version != version:
        return "stale"
    if target.account.paused:
        return "paused"  # resuming the account re-queues its targets
    now = db_now()
    not_before = _not_before(target)
    if not_before is None:
        return "stale"
    if not_before > now:
        # Early: our clock (or Huey's) ran ahead, or the account is rate-limited. Same version:
        # a duplicate of this task is harmless.
        enqueue(target, at=not_before, now=now)
        return "early"
    attempt = claim(target, now)
    if attempt is None:
        return "stale"
    return deliver(target, attempt)


def claim(target: PostTarget, now: datetime) -> DeliveryAttempt | None:
    """scheduled -> publishing, committed before the network is called.

    The UPDATE repeats every condition (state, version, due by the database's clock, account
    neither paused nor rate-limited): if another consumer claimed it first, or someone
    rescheduled or canceled it a moment ago, no row matches and we do nothing."""
    attempt_id = PostTarget.new_attempt_id()
    lease = now + timedelta(seconds=conf("LEASE_SECONDS"))
    # The account's conditions are a correlated EXISTS, not a join: with a join Django moves
    # the whole WHERE into an "id IN (SELECT ...)" subquery, which PostgreSQL does not re-check
    # against the row a concurrent claim just updated (READ COMMITTED), so two consumers could
    # both claim. With a single-table WHERE the loser re-reads the row and matches nothing.
    account_ok = SocialAccount.objects.filter(pk=OuterRef("account_id"), paused=False).filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lte=now))
    due = Q(due_at__lte=now) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)) & Exists(account_ok)
    with transaction.atomic():
        if not move(target, S.PUBLISHING, where=due, attempt_id=attempt_id, attempts=F("attempts") + 1,
                    lease_expires_at=lease, next_attempt_at=None):
            return None
        return DeliveryAttempt.objects.create(brand_id=target.brand_id, target=target, attempt_id=attempt_id,
                                              number=target.attempts, started_at=now,
                                              content_hash=content_hash(target))


def deliver(target: PostTarget, attempt: DeliveryAttempt) -> str:
    account = target.account
    if account.status != SocialAccount.Status.CONNECTED:
        return _needs_attention(target, attempt, messages.note(MSG_NOT_CONNECTED))
    problems = text_problems(target)
    if problems:
        # Validation again at publish time: a text that became invalid (edited variant, a
        # lower instance limit) is reported, not sent.
        return _needs_attention(target, attempt, messages.note_problems(problems))
    try:
        payload = build_payload(target)
    except OSError as exc:
        return _media_missing(target, attempt, exc)
    try:
        with connector_for(account) as connector:
            try:
                ref = connector.publish(payload)
            except Ambiguous as err:
                return _after_ambiguous(target, attempt, connector, payload, err)
    except ConnectorError as err:
        return _after_error(target, attempt, err)
    return _published(target, attempt, ref, Outcome.PUBLISHED)


def _after_ambiguous(target, attempt, connector, payload, err: Ambiguous) -> str:
    """The request may have reached the network. Look before retrying."""
    log.info("target %s attempt %s ambiguous (%s): checking the network", target.pk, attempt.attempt_id,
             err.log_line())
    try:
        ref = connector.find_published(payload, since=attempt.started_at)
    except ConnectorError as check_err:
        if isinstance(check_err, AuthExpired):
            return _after_error(target, attempt, check_err)
        return _unconfirmed(target, attempt, err)
    if ref is not None:
        return _published(target, attempt, ref, Outcome.FOUND, err=err)
    return _retry(target, attempt, err)


def _media_missing(target, attempt, exc: OSError) -> str:
    """An attachment's file cannot be read: a person must fix it; nothing was sent."""
    err = Permanent(MSG_MEDIA_MISSING, detail=f"{type(exc).__name__}: {exc}")
    return _needs_attention(target, attempt, messages.note(MSG_MEDIA_MISSING), err=err)


def _after_error(target, attempt, err: ConnectorError) -> str:
    if isinstance(err, AuthExpired):
        message = messages.note(MSG_RECONNECT)
        mark_needs_reconnect(target.account, messages.english(message))
        return _needs_attention(target, attempt, message, err=err)
    if isinstance(err, Permanent):
        return _failed(target, attempt, messages.note(err.user_message), err=err)
    if isinstance(err, RateLimited):
        # Per account: every target of the account waits for the window to reset.
        until = db_now() + timedelta(seconds=err.retry_after)
        SocialAccount.objects.filter(pk=target.account_id).filter(
            Q(blocked_until__isnull=True) | Q(blocked_until__lt=until)).update(blocked_until=until)
    # Retryable, RateLimited, and anything else from the vocabulary: try again later.
    return _retry(target, attempt, err)


# -- outcomes: each one conditional on the claim we hold ---------------------------------------


def _published(target, attempt, ref: PublishedRef, outcome: str, *, err: ConnectorError | None = None) -> str:
    now = db_now()
    with transaction.atomic():
        done = move(target, S.PUBLISHED, external_id=ref.external_id[:200], external_url=ref.url[:500],
                    published_at=ref.published_at or now, last_error="", error_note=[], lease_expires_at=None,
                    next_attempt_at=None)
        # If we lost the claim (the sweeper took over an expired lease), the post is on the
        # network anyway: the log keeps its id, and the sweeper's find_published will find it.
        _finish_attempt(attempt, outcome if done else Outcome.SUPERSEDED, now, err=err, external_id=ref.external_id)
    if not done:
        log.warning("target %s: published as %s after losing the claim", target.pk, ref.external_id)
        return "superseded"
    return "found" if outcome == Outcome.FOUND else "published"


def _retry(target, attempt, err: ConnectorError) -> str:
    if target.attempts >= conf("MAX_ATTEMPTS"):
        message = messages.note(MSG_GAVE_UP, count=target.attempts) + messages.note(err.user_message)
        return _failed(target, attempt, message, err=err)
    now = db_now()
    at = now + timedelta(seconds=backoff(target.attempts, err.retry_after))
    message = messages.note(err.user_message)
    with transaction.atomic():
        done = move(target, S.SCHEDULED, next_attempt_at=at, lease_expires_at=None,
                    last_error=messages.english(message)[:2000], error_note=message)
        _finish_attempt(attempt, Outcome.RETRY if done else Outcome.SUPERSEDED, now, err=err,
                        message=message, retry_at=at if done else None)
        if done:
            enqueue(target, at=at, now=now)
    return "retry" if done else "superseded"


def _failed(target, attempt, message, *, err: ConnectorError | None = None) -> str:
    return _stop(target, attempt, S.FAILED, Outcome.FAILED, message, err)


def _needs_attention(target, attempt, message, *, err: ConnectorError | None = None) -> str:
    return _stop(target, attempt, S.NEEDS_ATTENTION, Outcome.NEEDS_ATTENTION, message, err)


def _stop(target, attempt, state: str, outcome: str, message, err) -> str:
    now = db_now()
    with transaction.atomic():
        done = move(target, state, last_error=messages.english(message)[:2000], error_note=message,
                    lease_expires_at=None, next_attempt_at=None)
        _finish_attempt(attempt, outcome if done else Outcome.SUPERSEDED, now, err=err, message=message)
    return state if done else "superseded"


def _unconfirmed(target, attempt, err: ConnectorError) -> str:
    """Not known whether the post exists, and the network cannot tell us now: stay in
    ``publishing`` with a short lease; the sweeper checks again when it expires."""
    now = db_now()
    lease = now + timedelta(seconds=backoff(target.attempts, err.retry_after))
    message = messages.note(err.user_message)
    with transaction.atomic():
        done = move(target, S.PUBLISHING, lease_expires_at=lease, last_error=messages.english(message)[:2000],
                    error_note=message)
        _finish_attempt(attempt, Outcome.UNCONFIRMED if done else Outcome.SUPERSEDED, now, err=err,
                        message=message)
        if done:
            enqueue(target, at=lease, now=now, reconcile=True)
    return "unconfirmed" if done else "superseded"


# -- reconciliation of expired leases ----------------------------------------------------------


def reconcile(target_id: int, version: int) -> str:
    """A target left in ``publishing`` past its lease: did the post go out? Ask the network;
    re-post only if it did not."""
    target = PostTarget.objects.select_related("account", "post", "brand").filter(pk=target_id).first()
    if target is None or target.state != S.PUBLISHING or target.version != version:
        return "stale"
    now = db_now()
    if target.lease_expires_at and target.lease_expires_at > now:
        return "early"
    previous = DeliveryAttempt.objects.filter(attempt_id=target.attempt_id).first() if target.attempt_id else None
    # Take the lease over (publishing -> publishing, version bumped): the consumer that held it,
    # if it is only slow rather than dead, now loses every conditional write it tries.
    attempt_id = PostTarget.new_attempt_id()
    lease = now + timedelta(seconds=conf("LEASE_SECONDS"))
    with transaction.atomic():
        expired = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
        if not move(target, S.PUBLISHING, where=expired, attempt_id=attempt_id, lease_expires_at=lease):
            return "stale"
        if previous is not None and previous.outcome == Outcome.IN_FLIGHT:
            previous.outcome, previous.finished_at = Outcome.LOST, now
            previous.save(update_fields=["outcome", "finished_at"])
        attempt = DeliveryAttempt.objects.create(brand_id=target.brand_id, target=target, attempt_id=attempt_id,
                                                 number=target.attempts, started_at=now,
                                                 content_hash=content_hash(target))
    since = previous.started_at if previous is not None else (target.due_at or now)
    try:
        payload = build_payload(target)
    except OSError as exc:
        return _media_missing(target, attempt, exc)
    try:
        with connector_for(target.account) as connector:
            ref = connector.find_published(payload, since=since)
    except AuthExpired as err:
        return _after_error(target, attempt, err)
    except ConnectorError as err:
        return _unconfirmed(target, attempt, err)
    if ref is not None:
        return _published(target, attempt, ref, Outcome.FOUND)
    lost = Ambiguous(MSG_LOST, detail="lease expired; not found on the network")
    return _retry(target, attempt, lost)
