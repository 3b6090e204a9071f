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

A consumer thread sends more than one target at a time: after claiming its own, a task also
claims up to ``BATCH - 1`` other due targets (each with the same conditional UPDATE, so a target
another consumer took is skipped) and delivers them on a per-process thread pool while it
delivers its own, then waits for them. The network's latency, not the number of consumer
threads, then bounds throughput (2 consumers x 8 threads x BATCH 4 = 64 requests in flight).
The other targets' own tasks find them claimed and do nothing.

``reconcile(target_id, version)`` handles a claim whose lease expired (the consumer died
mid-call): it takes the lease over and asks ``find_published`` before any retry.

Messages for people are stored as notes (``messages.py``): translated when shown, in the
reader's language, never frozen in the consumer's.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import tempfile
import threading
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from tertulia.content.models import Post, PostVariant
from tertulia.content.public_media import public_url
from tertulia.content.text_rules import NETWORKS as TEXT_RULE_NETWORKS
from tertulia.content.text_rules import validate
from tertulia.core.models import Brand
from tertulia.networks import registry
from tertulia.networks.base import MediaItem, PostPayload, PublishedRef
from tertulia.networks.errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited
from tertulia.networks.http import HttpConfig, RateLimitBook, safe_url
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import (account_watchers, mark_needs_reconnect, needs_refresh, refresh_account,
                                        store_credentials)

from tertulia.core import notes as messages
from tertulia.core import notifications
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
MSG_COMMENT_LABEL = _("First comment")
MSG_COMMENT_PROBLEMS = _("The first comment cannot be posted as it is:")
MSG_NOTICE_FAILED = _("Your post for %(account)s could not be published.")
MSG_NOTICE_ATTENTION = _("Your post for %(account)s was not published: it needs your attention.")
MSG_NOTICE_ACTION = _("Open the post to edit it or to retry it with one click.")
MSG_NOTICE_COMMENT = _("Your post for %(account)s was published, but its first comment could not be posted.")
MSG_NOTICE_COMMENT_ACTION = _("Open the post to see the delivery log; you can post the comment by hand.")
MSG_COMMENT_LOST = _("The first comment was interrupted and is not on the network. We will try again.")
MSG_UNCONFIRMED = _("We could not confirm whether this post went out, and we will not send it again blindly. "
                    "Check the account on the network: if the post is there, nothing else is needed; "
                    "if it is not, retry it.")

# One rate-limit memory per consumer process, shared by every connector it builds.
RATE_BOOK = RateLimitBook()


def conf(key: str):
    return settings.PUBLISHING[key]


# -- what to send ------------------------------------------------------------------------------


def target_text(target: PostTarget) -> str:
    """The text for the target's network (its variant, else the post's), read once per
    loaded target: the claim, the publish-time check and the payload use the same words."""
    cached = getattr(target, "_text", None)
    if cached is None:
        variant = PostVariant.objects.filter(post_id=target.post_id, network=target.account.network).first()
        cached = target._text = variant.effective_text if variant is not None else target.post.text
    return cached


def post_assets(post: Post) -> list:
    """The post's attached media assets, in order: from the prefetch cache when the target
    was loaded with ``TARGET_PREFETCH`` (the engine does), else one query."""
    if "attachments" in getattr(post, "_prefetched_objects_cache", {}):
        return [a.asset for a in post.attachments.all()]
    return [a.asset for a in post.attachments.select_related("asset")]


TARGET_RELATED = ("account", "post", "brand")
TARGET_PREFETCH = ("post__attachments__asset",)


def load_target(target_id: int) -> PostTarget | None:
    return (PostTarget.objects.select_related(*TARGET_RELATED).prefetch_related(*TARGET_PREFETCH)
            .filter(pk=target_id).first())


@dataclass(frozen=True)
class CommentProblem:
    """A text-rule problem of the first comment, labelled as such (``check_text`` shows
    ``message``; ``note_problems`` stores ``template`` and ``params``)."""

    problem: Any

    @property
    def template(self):
        return self.problem.template

    @property
    def params(self):
        return self.problem.params

    @property
    def message(self):
        return format_lazy("{}: {}", MSG_COMMENT_LABEL, self.problem.message)

    def __str__(self) -> str:
        return f"first comment: {self.problem}"


def comment_text(target: PostTarget) -> str:
    return (target.post.first_comment or "").strip()


def supports_first_comment(network: str) -> bool:
    return registry.is_available(network) and registry.connector_class(network).supports_first_comment


def text_problems(target: PostTarget) -> list:
    """The text rules' problems for the target's text on its account, with the account's own
    limits (one check for schedule and publish time: ``services.text_problems``)."""
    from .services import text_problems as check

    return check(target)


def _rule_options(target: PostTarget) -> dict:
    from .services import text_rule_options

    return text_rule_options(target.account)


def comment_problems(target: PostTarget) -> list:
    """The first comment's problems (as ``CommentProblem``) where the network posts it: it
    goes out as a reply, under the same rules. ``services.target_problems`` checks the same
    at schedule time."""
    network = target.account.network
    comment = comment_text(target)
    if not comment or network not in TEXT_RULE_NETWORKS or not supports_first_comment(network):
        return []
    return [CommentProblem(p) for p in validate(network, comment, has_media=False, **_rule_options(target)).problems]


def problems_note(problems: list) -> messages.Note:
    main = [p for p in problems if not isinstance(p, CommentProblem)]
    comment = [p for p in problems if isinstance(p, CommentProblem)]
    out = messages.note_problems(main)
    if comment:
        out += messages.note(MSG_COMMENT_PROBLEMS) + messages.note_problems(comment)
    return out


def _media_note(target: PostTarget) -> messages.Note:
    """The media's problems as a note (rule template and figures), when the rules are known."""
    from tertulia.content.media import RULE_MESSAGES, check_media, has_media_rules, network_label
    from tertulia.content.video import blocking

    network = target.account.network
    if not has_media_rules(network):
        return []
    out: messages.Note = []
    for p in blocking(check_media(network, post_assets(target.post))):
        if p.code in RULE_MESSAGES:
            params = {"network": network_label(p.network), "index": p.index, **p.params}
            out += messages.note(RULE_MESSAGES[p.code], **params)
    return out


def publish_time_problems(target: PostTarget) -> messages.Note:
    """What the network would refuse, by the same check the scheduler runs
    (``services.target_problems``: text, first comment, images), as a note for the target's
    ``error_note`` (empty: fine).

    ``target_problems`` decides; the note prefers the rules' templates and figures, so each
    reader sees the reason in their own language. Where a field's problems cannot be rebuilt
    that way (a check this module does not know), its English message is stored as is."""
    from django.utils import translation

    from .services import target_problems

    with translation.override("en"):
        found = {field: [str(m) for m in msgs] for field, msgs in target_problems(target).items() if msgs}
    if not found:
        return []
    out: messages.Note = []
    for field, english in found.items():
        rebuilt: messages.Note = []
        if field == "text":
            rebuilt = messages.note_problems(text_problems(target))
        elif field == "first_comment":
            network, comment = target.account.network, comment_text(target)
            if comment and network in TEXT_RULE_NETWORKS:
                problems = validate(network, comment, has_media=False, **_rule_options(target)).problems
                if problems:
                    rebuilt = messages.note(MSG_COMMENT_PROBLEMS) + messages.note_problems(problems)
        elif field == "media":
            rebuilt = _media_note(target)
        out += rebuilt or [{"msgid": m, "params": {}} for m in english]
    return out


def media_items(target: PostTarget) -> tuple[MediaItem, ...]:
    items = []
    for asset in post_assets(target.post):
        if not asset.file or not asset.file.storage.exists(asset.file.name):
            raise FileNotFoundError(f"media asset {asset.pk}: {asset.file.name or 'no file'}")
        copy = False
        try:
            source = {"path": asset.file.path}  # the library's own file: never removed here
        except NotImplementedError:  # remote storage (S3): no local path
            source = _remote_source(asset)
            copy = "path" in source
        item = MediaItem(filename=asset.file.name.rsplit("/", 1)[-1], mime_type=asset.mime_type,
                         alt_text=asset.alt_text, url=public_url(asset), **source)
        if copy:  # our temporary copy of a remote video goes when the payload does
            weakref.finalize(item, _remove_copy, source["path"])
        items.append(item)
    return tuple(items)


def _remote_source(asset) -> dict[str, Any]:
    """An image from remote storage is read into memory; a video (up to MEDIA_MAX_VIDEO_BYTES) is
    copied in chunks to a temporary file instead, which connectors stream from: a consumer with
    several threads sending videos at once must not hold gigabytes in memory."""
    if asset.kind != "video":
        with asset.file.open("rb") as handle:
            return {"content": handle.read()}
    fd, path = tempfile.mkstemp(prefix="tertulia-publish-", suffix=".media",
                                dir=getattr(settings, "FILE_UPLOAD_TEMP_DIR", None))
    try:
        with os.fdopen(fd, "wb") as out, asset.file.open("rb") as handle:
            shutil.copyfileobj(handle, out, 1024 * 1024)
    except BaseException:
        _remove_copy(path)
        raise
    return {"path": path}


def _remove_copy(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def content_hash(target: PostTarget) -> str:
    """The fingerprint of the words, for the delivery log (reads no media files)."""
    return PostPayload(text=target_text(target)).content_hash()


def build_payload(target: PostTarget) -> PostPayload:
    """What the connector sends. ``marker`` is stable across retries of this target."""
    # No language tag yet: a brand writes in more than one language; the network guesses.
    return PostPayload(text=target_text(target), media=media_items(target), marker=target.marker)


MSG_DEMO = _("This is the demo workspace: its accounts are made up, so Tertulia never sends its posts "
             "to a network.")


def is_demo_brand(brand_id: int) -> bool:
    """A brand of the demo workspace (``tertulia demo``): its accounts are made up, some on
    real servers, and must never be contacted. Asked of the database every time (one indexed
    probe next to a network call): a per-process memory of it went wrong when SQLite gave a
    removed demo brand's id to a new, real brand."""
    return Brand.all_objects.filter(pk=brand_id, organization__is_demo=True).exists()  # deleted ones too


def connector_for(account: SocialAccount):
    if is_demo_brand(account.brand_id):
        # The one door to the networks for publishing, comments, deletion and refreshes: a
        # demo brand that someone resumed fails here with a plain reason, before any request.
        raise Permanent(MSG_DEMO, detail="demo workspace: no network calls")
    connector = registry.connector_for(account, http_config=HttpConfig(**conf("HTTP")), rate_book=RATE_BOOK)
    # A refresh during a call (Bluesky rotates refresh tokens) is stored at once, encrypted.
    connector.credentials_listener = lambda credentials: store_credentials(account, credentials)
    return connector


# -- timing ------------------------------------------------------------------------------------


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempts + 1``: base·2^(n-1), capped, with "equal
    jitter" (half fixed, half random) so that many targets failing together do not retry
    together; never less than what the network asked for."""
    base, cap = conf("BACKOFF_BASE"), conf("BACKOFF_CAP")
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    delay = delay / 2 + random.uniform(0, delay / 2)  # nosec B311 # jitter/spread for timing or seeded demo data, not security
    if retry_after is not None:
        # Honour the network, plus a little jitter so a burst of 429s does not come back at once.
        delay = max(delay, retry_after + random.uniform(0, min(5.0, retry_after * 0.1)))  # nosec B311 # jitter/spread for timing or seeded demo data, not security
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
    target = load_target(target_id)
    if target is None or target.state != S.SCHEDULED or target.version != version:
        return "stale"
    if target.account.paused or target.brand.publishing_paused or target.brand.deleted_at is not None:
        return "paused"  # resuming the account (or the brand) re-queues its targets; a deleted brand holds all
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
    others = []
    try:
        for other, other_attempt in claim_more(now, exclude=target.pk):
            others.append(_pool().submit(_deliver_other, other.pk, other_attempt))
    except Exception:  # noqa: BLE001 - the batch is a bonus: never strand this task's own claim
        # A claim already committed but not submitted stays ``publishing`` until its lease
        # expires, then the sweeper reconciles it (find_published before any retry).
        log.exception("target %s: claiming or submitting its batch failed; sending its own target", target.pk)
    try:
        return deliver(target, attempt)
    finally:
        for future in others:
            future.exception()  # wait: this task's thread stays busy while its batch is in flight


def due_targets(now: datetime, grace: float = 0.0):
    """Scheduled targets due by ``now - grace`` on accounts that are neither paused nor
    rate-limited, of brands whose publishing is not paused, earliest first. (The claim refuses
    a paused brand anyway; this keeps the sweeper from queuing a task per held target every
    minute. Resuming the brand re-queues them.)"""
    cutoff = now - timedelta(seconds=grace)
    return (PostTarget.objects.filter(state=S.SCHEDULED, due_at__lte=cutoff)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=cutoff))
            .filter(account__paused=False, brand__publishing_paused=False, brand__deleted_at__isnull=True)
            .filter(Q(account__blocked_until__isnull=True) | Q(account__blocked_until__lte=now))
            .order_by("next_attempt_at", "due_at"))


# -- several targets per task ------------------------------------------------------------------

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def batch_size() -> int:
    """Targets one task may send at once. 1 when Huey runs tasks inline (tests, ``HUEY_IMMEDIATE``):
    there is no consumer thread to keep busy, and the caller expects only its own target to move."""
    huey_conf = getattr(settings, "HUEY", {}) or {}
    return 1 if huey_conf.get("immediate") else max(1, int(conf("BATCH")))


def _pool() -> ThreadPoolExecutor:
    """One pool per process. Its threads are started on demand, and what is in flight stays
    bounded by consumer threads x (BATCH - 1), since each task waits for its batch; the cap only
    has to exceed that for any ``run_huey -w N`` (which the settings do not see)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(1, 64 * (batch_size() - 1)), thread_name_prefix="tertulia-send")
        return _POOL


def claim_more(now: datetime, *, exclude: int) -> list[tuple[PostTarget, DeliveryAttempt]]:
    """Claim up to ``batch_size() - 1`` other due targets for this task to send alongside its own."""
    wanted = batch_size() - 1
    if wanted <= 0:
        return []
    claimed = []
    with transaction.atomic():
        # SKIP LOCKED (PostgreSQL): threads looking at the same earliest targets take
        # different ones instead of queuing behind each other's claims. SQLite has one writer.
        candidates = (due_targets(now).exclude(pk=exclude).select_related(*TARGET_RELATED)
                      .select_for_update(skip_locked=True, of=("self",)))
        for other in candidates[:wanted]:
            attempt = claim(other, now)  # still the conditional UPDATE: the row may have changed
            if attempt is not None:
                claimed.append((other, attempt))
    return claimed  # committed: every claim is on record before any request is sent


def _deliver_other(target_id: int, attempt: DeliveryAttempt) -> str:
    """``deliver`` on a pool thread, with its own database connection (re-read, so no model
    instance is shared between threads). Whatever happens, the claim is on record: a crash
    here leaves the target ``publishing`` for the sweeper to reconcile, never sent twice."""
    close_old_connections()
    try:
        target = load_target(target_id)
        if target is None or target.state != S.PUBLISHING or target.attempt_id != attempt.attempt_id:
            return "stale"  # the claim was taken over (an expired lease) or the row changed: send nothing
        return deliver(target, attempt)
    except Exception:
        log.exception("target %s attempt %s: delivery failed in the batch pool", target_id, attempt.attempt_id)
        return "error"
    finally:
        close_old_connections()


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
    # A paused brand holds everything, and so does a deleted one (in its grace period).
    brand_ok = Brand.all_objects.filter(pk=OuterRef("brand_id"), publishing_paused=False, deleted_at__isnull=True)
    due = Q(due_at__lte=now) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)) & Exists(account_ok)
    due &= Exists(brand_ok)
    # Only an approved text goes out: a post sent back to review (edited after approval) holds
    # every target, whatever path queued it (a retry, a reschedule, a stale task).
    post_ok = Post.objects.filter(pk=OuterRef("post_id"), state__in=(Post.State.APPROVED, Post.State.SCHEDULED,
                                                                      Post.State.PUBLISHED))
    due &= Exists(post_ok)
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
    refused = publish_time_problems(target)
    if refused:
        # Validation again at publish time, with the scheduler's own check (text, first
        # comment, images): what became invalid after scheduling (an edited variant, a lower
        # instance limit, an image added or removed) is reported, not sent.
        return _needs_attention(target, attempt, refused)
    if needs_refresh(account):
        # A sign-in about to expire is renewed before it is used (and stored encrypted).
        if refresh_account(account, post=target.post, connector_factory=connector_for) == "needs_reconnect":
            return _needs_attention(target, attempt, messages.note(MSG_RECONNECT), notify=False)
        # "retry": the network could not renew it now; the current token may still work.
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
        # The first target to find out tells the team (with a link to this post); the others
        # tell only their own authors.
        told = mark_needs_reconnect(target.account, messages.english(message), post=target.post)
        return _needs_attention(target, attempt, message, err=err, notify=not told)
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
        # A warning from the network (a refused thumbnail) stays on the published target.
        warning = [part for message in ref.warnings or () for part in messages.note(message)]
        done = move(target, S.PUBLISHED, external_id=ref.external_id[:200], external_url=safe_url(ref.url, 500),
                    published_at=ref.published_at or now, last_error=messages.english(warning)[:2000],
                    error_note=warning, lease_expires_at=None, next_attempt_at=None)
        # If we lost the claim (the sweeper took over an expired lease), the post is on the
        # network anyway: the log keeps its id, and the sweeper's find_published will find it.
        _finish_attempt(attempt, outcome if done else Outcome.SUPERSEDED, now, err=err, external_id=ref.external_id)
        if done and comment_text(target) and supports_first_comment(target.account.network):
            from . import tasks

            target_id = target.pk
            transaction.on_commit(lambda: tasks.publish_comment(target_id))
    if not done:
        log.warning("target %s: published as %s after losing the claim", target.pk, ref.external_id)
        return "superseded"
    return "found" if outcome == Outcome.FOUND else "published"


def _retry(target, attempt, err: ConnectorError) -> str:
    # Waiting out a rate limit is not a failure of the post: it gets a larger budget (the
    # network says when to come back), but not an endless one.
    budget = conf("MAX_ATTEMPTS") * (3 if isinstance(err, RateLimited) else 1)
    if target.attempts >= budget:
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


def _failed(target, attempt, message, *, err: ConnectorError | None = None, notify: bool = True) -> str:
    return _stop(target, attempt, S.FAILED, Outcome.FAILED, message, err, notify)


def _needs_attention(target, attempt, message, *, err: ConnectorError | None = None, notify: bool = True) -> str:
    return _stop(target, attempt, S.NEEDS_ATTENTION, Outcome.NEEDS_ATTENTION, message, err, notify)


def _stop(target, attempt, state: str, outcome: str, message, err, notify: bool = True) -> str:
    now = db_now()
    with transaction.atomic():
        done = move(target, state, last_error=messages.english(message)[:2000], error_note=message,
                    lease_expires_at=None, next_attempt_at=None)
        _finish_attempt(attempt, outcome if done else Outcome.SUPERSEDED, now, err=err, message=message)
        if done and notify:
            # Once per failure event: only the writer that made the transition gets here.
            notify_problem(target, state, message)
    return state if done else "superseded"


# -- telling people ----------------------------------------------------------------------------


def post_link(target: PostTarget) -> str:
    return f"/brands/{target.brand_id}/posts/{target.post_id}/"


def notify_problem(target: PostTarget, state: str, message: messages.Note, *, kind: str = "") -> None:
    """The post's author and the brand's owners and managers: what happened (the target's
    note, in each reader's language), how to fix it, and a link to the post (retry or edit)."""
    account = target.account
    name = f"{account.get_network_display()} {account.handle}"
    if state == "comment_failed":
        head, action = messages.note(MSG_NOTICE_COMMENT, account=name), messages.note(MSG_NOTICE_COMMENT_ACTION)
    elif state == S.FAILED:
        head, action = messages.note(MSG_NOTICE_FAILED, account=name), messages.note(MSG_NOTICE_ACTION)
    else:
        head, action = messages.note(MSG_NOTICE_ATTENTION, account=name), messages.note(MSG_NOTICE_ACTION)
    recipients = [target.post.author, *account_watchers(account)]
    notifications.notify(recipients, kind=kind or f"publishing.{state}", message=head + list(message) + action,
                         link=post_link(target), brand=target.brand)


def _unconfirmed(target, attempt, err: ConnectorError) -> str:
    """Not known whether the post exists, and the network cannot tell us now: stay in
    ``publishing`` with a short lease; the sweeper checks again when it expires. After
    ``MAX_ATTEMPTS`` such checks (a network that can never tell, like a Telegram channel
    without its discussion group) the target needs a person: never re-posted blindly, never
    left spinning in ``publishing``."""
    checks = DeliveryAttempt.objects.filter(target=target, outcome=Outcome.UNCONFIRMED).count()
    if checks >= conf("MAX_ATTEMPTS"):
        return _needs_attention(target, attempt, messages.note(MSG_UNCONFIRMED) + messages.note(err.user_message),
                                err=err)
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
    target = load_target(target_id)
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
    # Search from the first attempt of this target, not from the last reconcile: a post sent by
    # the first attempt must still be found by the third check.
    first = (DeliveryAttempt.objects.filter(target=target).exclude(pk=attempt.pk)
             .aggregate(first=Min("started_at"))["first"])
    since = first or target.due_at or now
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


# -- the first comment (threads) ---------------------------------------------------------------
#
# ``Post.first_comment`` goes out as a reply to the main post right after it is published, on
# networks whose connector ``supports_first_comment``. It is a step of its own, resumable and at
# most once like the main post, and its progress lives in ``PostTarget.comment_external_id``:
#
#   ""                  not sent yet (the task is queued after the main post's commit)
#   "pending:<uuid>"    claimed by the attempt with that id (a DeliveryAttempt row): on the wire
#   "wait:<epoch>"      a retryable failure; the next attempt is due at that UTC time
#   "failed"            given up (permanent refusal or out of attempts); the team was told
#   anything else       the network's id of the comment
#
# Every change is a conditional UPDATE from the value read, so two consumers never both send it.
# The comment carries its own marker (Mastodon Idempotency-Key, Bluesky record key), and after
# an ambiguous failure or a crash ``find_published`` looks for the reply before any retry. A
# comment that fails never touches the main post's state: it is in the delivery log (its
# attempts are DeliveryAttempt rows with the comment's content hash) and the team is notified.

COMMENT_PENDING = "pending:"
COMMENT_WAIT = "wait:"
COMMENT_FAILED = "failed"


def comment_status(target: PostTarget) -> str:
    """none | queued | pending | waiting | failed | posted, for pages and tests."""
    value = target.comment_external_id or ""
    if not value:
        return "queued" if comment_text(target) and target.state == S.PUBLISHED else "none"
    if value.startswith(COMMENT_PENDING):
        return "pending"
    if value.startswith(COMMENT_WAIT):
        return "waiting"
    if value == COMMENT_FAILED:
        return "failed"
    return "posted"


def comment_posted_id(target: PostTarget) -> str:
    return target.comment_external_id if comment_status(target) == "posted" else ""


def comment_marker(target: PostTarget) -> str:
    return f"{target.marker}-c"


def comment_payload(target: PostTarget) -> PostPayload:
    return PostPayload(text=comment_text(target), reply_to=target.external_id, marker=comment_marker(target))


def _wait_until(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value[len(COMMENT_WAIT):]), dt_timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def _enqueue_comment(target_id: int, at: datetime | None = None, now: datetime | None = None,
                     reconcile: bool = False) -> None:
    from . import tasks

    task = tasks.reconcile_comment if reconcile else tasks.publish_comment
    delay = max(0.0, (at - (now or db_now())).total_seconds()) if at is not None else 0.0
    if delay > 0:
        transaction.on_commit(lambda: task.schedule(args=(target_id,), delay=delay))
    else:
        transaction.on_commit(lambda: task(target_id))


def _set_comment(target: PostTarget, old: str, new: str) -> bool:
    updated = PostTarget.objects.filter(pk=target.pk, state=S.PUBLISHED, comment_external_id=old).update(
        comment_external_id=new[:200])
    if updated:
        target.comment_external_id = new[:200]
    return bool(updated)


def _comment_attempts(target: PostTarget) -> int:
    return DeliveryAttempt.objects.filter(target=target, content_hash=comment_payload(target).content_hash()).count()


def _claim_comment(target: PostTarget, old: str, now: datetime) -> DeliveryAttempt | None:
    attempt_id = PostTarget.new_attempt_id()
    with transaction.atomic():
        if not _set_comment(target, old, f"{COMMENT_PENDING}{attempt_id}"):
            return None
        return DeliveryAttempt.objects.create(brand_id=target.brand_id, target=target, attempt_id=attempt_id,
                                              number=_comment_attempts(target) + 1, started_at=now,
                                              content_hash=comment_payload(target).content_hash())


def publish_comment(target_id: int) -> str:
    """Post the first comment of a published target. Returns posted, found, retry, failed,
    unconfirmed, early, paused, not_connected, none, stale."""
    target = PostTarget.objects.select_related("account", "post", "brand").filter(pk=target_id).first()
    if target is None or target.state != S.PUBLISHED or not target.external_id:
        return "stale"
    if not comment_text(target) or not supports_first_comment(target.account.network):
        return "none"
    current = target.comment_external_id or ""
    if current and not current.startswith(COMMENT_WAIT):
        return "stale"  # posted, in flight, or given up
    if target.account.paused or target.brand.publishing_paused:
        return "paused"  # the sweeper sends it after the account (or the brand) is resumed
    if target.account.status != SocialAccount.Status.CONNECTED:
        return "not_connected"  # kept for after the reconnection (the sweeper looks for two days)
    now = db_now()
    if current:
        at = _wait_until(current)
        if at is not None and at > now:
            with transaction.atomic():
                _enqueue_comment(target.pk, at, now)
            return "early"
    blocked = target.account.blocked_until
    if blocked is not None and blocked > now:
        with transaction.atomic():
            _enqueue_comment(target.pk, blocked, now)
        return "early"
    attempt = _claim_comment(target, current, now)
    if attempt is None:
        return "stale"
    payload = comment_payload(target)
    try:
        with connector_for(target.account) as connector:
            try:
                ref = connector.reply(target.external_id, payload.text, marker=payload.marker)
            except Ambiguous as err:
                try:
                    ref = connector.find_published(payload, since=attempt.started_at)
                except AuthExpired as check_err:
                    return _comment_after_error(target, attempt, check_err)
                except ConnectorError:
                    return _comment_unconfirmed(target, attempt, err)
                if ref is None:
                    return _comment_retry(target, attempt, err)
                return _comment_done(target, attempt, ref, Outcome.FOUND, err=err)
    except ConnectorError as err:
        return _comment_after_error(target, attempt, err)
    return _comment_done(target, attempt, ref, Outcome.PUBLISHED)


def _comment_done(target, attempt, ref: PublishedRef, outcome: str, *, err: ConnectorError | None = None) -> str:
    now = db_now()
    with transaction.atomic():
        done = _set_comment(target, f"{COMMENT_PENDING}{attempt.attempt_id}", ref.external_id)
        _finish_attempt(attempt, outcome if done else Outcome.SUPERSEDED, now, err=err, external_id=ref.external_id)
    if not done:
        return "superseded"
    return "found" if outcome == Outcome.FOUND else "posted"


def _comment_after_error(target, attempt, err: ConnectorError) -> str:
    if isinstance(err, AuthExpired):
        message = messages.note(MSG_RECONNECT)
        told = mark_needs_reconnect(target.account, messages.english(message), post=target.post)
        return _comment_failed(target, attempt, message, err=err, notify=not told)
    if isinstance(err, Permanent):
        return _comment_failed(target, attempt, messages.note(err.user_message), err=err)
    if isinstance(err, RateLimited):
        until = db_now() + timedelta(seconds=err.retry_after)
        SocialAccount.objects.filter(pk=target.account_id).filter(
            Q(blocked_until__isnull=True) | Q(blocked_until__lt=until)).update(blocked_until=until)
    return _comment_retry(target, attempt, err)


def _comment_retry(target, attempt, err: ConnectorError) -> str:
    attempts = _comment_attempts(target)
    budget = conf("MAX_ATTEMPTS") * (3 if isinstance(err, RateLimited) else 1)
    if attempts >= budget:
        message = messages.note(MSG_GAVE_UP, count=attempts) + messages.note(err.user_message)
        return _comment_failed(target, attempt, message, err=err)
    now = db_now()
    at = now + timedelta(seconds=backoff(attempts, err.retry_after))
    message = messages.note(err.user_message)
    with transaction.atomic():
        done = _set_comment(target, f"{COMMENT_PENDING}{attempt.attempt_id}", f"{COMMENT_WAIT}{at.timestamp():.3f}")
        _finish_attempt(attempt, Outcome.RETRY if done else Outcome.SUPERSEDED, now, err=err, message=message,
                        retry_at=at if done else None)
        if done:
            _enqueue_comment(target.pk, at, now)
    return "retry" if done else "superseded"


def _comment_failed(target, attempt, message, *, err: ConnectorError | None = None, notify: bool = True) -> str:
    now = db_now()
    message = messages.note(MSG_COMMENT_LABEL) + list(message)
    with transaction.atomic():
        done = _set_comment(target, f"{COMMENT_PENDING}{attempt.attempt_id}", COMMENT_FAILED)
        _finish_attempt(attempt, Outcome.FAILED if done else Outcome.SUPERSEDED, now, err=err, message=message)
        if done and notify:
            notify_problem(target, "comment_failed", message[1:], kind="publishing.comment_failed")
    return "failed" if done else "superseded"


def _comment_unconfirmed(target, attempt, err: ConnectorError) -> str:
    """Not known whether the comment exists: keep the claim; ``reconcile_comment`` checks
    again once the lease runs out (the sweeper queues it)."""
    now = db_now()
    with transaction.atomic():
        _finish_attempt(attempt, Outcome.UNCONFIRMED, now, err=err, message=messages.note(err.user_message))
        at = now + timedelta(seconds=backoff(_comment_attempts(target), err.retry_after))
        # The claim stays "pending:<this attempt>": its lease is the attempt's start + LEASE;
        # a shorter re-check is queued directly.
        _enqueue_comment(target.pk, at, now, reconcile=True)
    return "unconfirmed"


def reconcile_comment(target_id: int, *, force: bool = False) -> str:
    """A first comment left ``pending`` (the consumer died mid-call, or the network could not
    say): ask the network before any retry. ``force`` skips the lease check (an unconfirmed
    attempt re-checks before its lease runs out; it holds no consumer)."""
    target = PostTarget.objects.select_related("account", "post", "brand").filter(pk=target_id).first()
    if target is None or target.state != S.PUBLISHED or not (target.comment_external_id or "").startswith(COMMENT_PENDING):
        return "stale"
    current = target.comment_external_id
    previous = DeliveryAttempt.objects.filter(attempt_id=current[len(COMMENT_PENDING):]).first()
    now = db_now()
    lease = timedelta(seconds=conf("LEASE_SECONDS"))
    unconfirmed = previous is not None and previous.outcome == Outcome.UNCONFIRMED
    if previous is not None and previous.started_at + lease > now and not (force or unconfirmed):
        return "early"
    if previous is not None and previous.outcome == Outcome.IN_FLIGHT:
        DeliveryAttempt.objects.filter(pk=previous.pk, outcome=Outcome.IN_FLIGHT).update(outcome=Outcome.LOST,
                                                                                         finished_at=now)
    attempt = _claim_comment(target, current, now)
    if attempt is None:
        return "stale"
    # The comment went out after the main post: search from there, not from the last check.
    since = target.published_at or (previous.started_at if previous is not None else now)
    try:
        with connector_for(target.account) as connector:
            ref = connector.find_published(comment_payload(target), since=since)
    except AuthExpired as err:
        return _comment_after_error(target, attempt, err)
    except ConnectorError as err:
        return _comment_unconfirmed(target, attempt, err)
    if ref is not None:
        return _comment_done(target, attempt, ref, Outcome.FOUND)
    return _comment_retry(target, attempt, Ambiguous(MSG_COMMENT_LOST, detail="not found on the network"))


def comments_due(now: datetime, grace: float = 0.0, limit: int = 1000) -> tuple[list[int], list[int]]:
    """For the sweeper: (targets whose comment should be sent now, targets whose pending
    comment's lease expired). Only targets published in the last two days."""
    recent = now - timedelta(days=2)
    rows = list(
        PostTarget.objects.filter(state=S.PUBLISHED, published_at__gte=recent, brand__publishing_paused=False,
                                  brand__deleted_at__isnull=True)
        .exclude(post__first_comment="")
        .filter(Q(comment_external_id="") | Q(comment_external_id__startswith=COMMENT_WAIT)
                | Q(comment_external_id__startswith=COMMENT_PENDING))
        .values_list("pk", "comment_external_id", "published_at")[:limit]
    )
    send, check = [], []
    lease = timedelta(seconds=conf("LEASE_SECONDS"))
    pending = {value[len(COMMENT_PENDING):]: pk for pk, value, _at in rows if value.startswith(COMMENT_PENDING)}
    started = dict(DeliveryAttempt.objects.filter(attempt_id__in=[k for k in pending if _is_uuid(k)])
                   .values_list("attempt_id", "started_at"))
    started = {str(k): v for k, v in started.items()}
    for pk, value, published_at in rows:
        if not value:
            if published_at is None or published_at <= now - timedelta(seconds=grace):
                send.append(pk)
        elif value.startswith(COMMENT_WAIT):
            at = _wait_until(value)
            if at is None or at <= now:
                send.append(pk)
        else:
            began = started.get(value[len(COMMENT_PENDING):])
            if began is None or began + lease <= now:
                check.append(pk)
    return send, check


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
