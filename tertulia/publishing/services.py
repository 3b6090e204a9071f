"""Writes to post targets.

- People's actions (schedule, reschedule, cancel, retry now, pause an account): permission
  checks, validation of the text for the network, the audit log, and the Huey task queued
  after commit. Each is a conditional UPDATE on the (state, version) the person saw.
- ``mark_published`` / ``mark_needs_attention``: record an outcome found outside the engine
  (imports, the demo). The engine itself (``engine.py``) records its outcomes through
  ``states.move`` on the claim it holds.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.content.services import sync_post_state
from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import SocialAccount

from . import states
from .models import PostTarget

DELIVERABLE = (PostTarget.State.APPROVED, PostTarget.State.SCHEDULED, PostTarget.State.PUBLISHING)


def _claimable(target: PostTarget, attempt_id: uuid.UUID | None):
    qs = PostTarget.objects.filter(pk=target.pk, state__in=DELIVERABLE)
    if attempt_id is not None:
        qs = qs.filter(attempt_id=attempt_id)
    return qs


@transaction.atomic
def mark_published(target: PostTarget, *, external_id: str, external_url: str = "",
                   published_at: datetime | None = None, attempt_id: uuid.UUID | None = None) -> bool:
    """Record that the network accepted the post. Returns False if the target was no longer
    waiting for delivery (already published, canceled, or another attempt owns it)."""
    published_at = published_at or timezone.now()
    updated = _claimable(target, attempt_id).update(
        state=PostTarget.State.PUBLISHED, external_id=external_id[:200], external_url=external_url[:500],
        published_at=published_at, last_error="", next_attempt_at=None, attempts=F("attempts") + 1,
        version=F("version") + 1,
    )
    if updated:
        target.state, target.external_id, target.external_url, target.published_at = (
            PostTarget.State.PUBLISHED, external_id, external_url, published_at)
        sync_post_state(target.post_id)
    return bool(updated)


@transaction.atomic
def mark_needs_attention(target: PostTarget, reason: str, *, attempt_id: uuid.UUID | None = None) -> bool:
    """The network refused for a reason a person must fix (an expired token, a rejected
    image): stop retrying and show the reason."""
    updated = _claimable(target, attempt_id).update(
        state=PostTarget.State.NEEDS_ATTENTION, last_error=reason[:2000], next_attempt_at=None,
        attempts=F("attempts") + 1, version=F("version") + 1,
    )
    if updated:
        target.state, target.last_error = PostTarget.State.NEEDS_ATTENTION, reason
        sync_post_state(target.post_id)
    return bool(updated)


# --- People's actions on a target: schedule, reschedule, cancel, retry now -------------------
# Each one is a conditional UPDATE on the (state, version) the person saw (states.move), so an
# action based on an old page never undoes what the engine or a colleague did since.

MSG_CHANGED = _("This post changed since you opened it. Reload it and try again.")
MSG_CANNOT_SCHEDULE = _("This post cannot be scheduled now: its state is “%(state)s”.")
MSG_CANNOT_CANCEL = _("This post cannot be canceled now: its state is “%(state)s”.")
MSG_CANNOT_RETRY = _("This post cannot be retried now: its state is “%(state)s”.")
MSG_IN_FLIGHT = _("This post is being published right now. Wait a moment and reload.")
MSG_NEEDS_TIME = _("Choose a date and time.")
MSG_AWARE = _("Times must carry a time zone.")


def _refuse(target: PostTarget, message) -> ValidationError:
    if target.state == PostTarget.State.PUBLISHING:
        return ValidationError(MSG_IN_FLIGHT, code="in_flight")
    return ValidationError(message, code="state", params={"state": target.get_state_display()})


MSG_FIRST_COMMENT = _("First comment: %(problem)s")


def text_rule_options(account: SocialAccount) -> dict:
    """The account's own text-rule options: a Mastodon account's instance limit and link
    length (``server_limits``, from ``/api/v2/instance``; 500/23 when none is stored)."""
    if account.network == "mastodon":
        from tertulia.networks.mastodon.limits import text_options

        return text_options(account)
    return {}


def text_problems(target: PostTarget) -> list:
    """The text rules' problems for the target's text on its account (none for networks
    without rules), with the account's own limits."""
    from tertulia.content.text_rules import NETWORKS as TEXT_RULE_NETWORKS
    from tertulia.content.text_rules import validate

    from .engine import post_assets, target_text

    network = target.account.network
    if network not in TEXT_RULE_NETWORKS:
        return []
    has_media = bool(post_assets(target.post))
    return validate(network, target_text(target), has_media=has_media,
                    **text_rule_options(target.account)).problems


def target_problems(target: PostTarget) -> dict[str, list]:
    """Everything the target's network would refuse, by field: the text (the network's text
    rules), the first comment (the same rules: it goes out as a reply) and the attached images
    and videos (count, format, size, dimensions, duration, codecs). Empty: fine. The shared check for schedule time (here)
    and publish time (the engine may call it too)."""
    from tertulia.content.media import check_media, has_media_rules
    from tertulia.content.text_rules import NETWORKS as TEXT_RULE_NETWORKS
    from tertulia.content.video import blocking
    from tertulia.content.text_rules import validate

    network = target.account.network
    found: dict[str, list] = {}
    text = [p.message for p in text_problems(target)]
    if text:
        found["text"] = text
    comment = (target.post.first_comment or "").strip()
    if comment and network in TEXT_RULE_NETWORKS:
        problems = validate(network, comment, **text_rule_options(target.account)).problems
        if problems:
            found["first_comment"] = [MSG_FIRST_COMMENT % {"problem": p.message} for p in problems]
    if has_media_rules(network):
        from .engine import post_assets

        media = [p.message for p in blocking(check_media(network, post_assets(target.post)))]
        if media:
            found["media"] = media
    return found


def check_text(target: PostTarget) -> None:
    """Validation at schedule time, with the same rules the engine applies at publish time:
    the text, the first comment and the images (``target_problems``)."""
    problems = target_problems(target)
    if problems:
        raise ValidationError(problems)


# A post goes out only with an approved text (approved, scheduled, or partly published already).
APPROVED_POST_STATES = ("approved", "scheduled", "published")
# A time this far in the past is a typo, not "now": scheduling it would publish at once.
PAST_GRACE = timedelta(minutes=5)
MSG_NOT_APPROVED = _("This post is waiting for approval of its latest text, so it cannot be scheduled or retried yet.")
MSG_IN_THE_PAST = _("This time has already passed. Choose a time in the future.")


def _require_approved(target: PostTarget) -> None:
    state = type(target.post).objects.filter(pk=target.post_id).values_list("state", flat=True).first()
    if state not in APPROVED_POST_STATES:
        raise ValidationError(MSG_NOT_APPROVED, code="not_approved")


@transaction.atomic
def do_schedule(ctx: Ctx, target: PostTarget, *, due_at: datetime) -> PostTarget:
    """Schedule (or reschedule) an approved target, or schedule again one that failed or needs
    attention (a fresh retry budget). Queues its task at the due time after commit."""
    _require(ctx, target.brand, roles.COMPOSE)
    if due_at is None:
        raise ValidationError({"due_at": MSG_NEEDS_TIME})
    if timezone.is_naive(due_at):
        raise ValidationError({"due_at": MSG_AWARE})
    schedulable = (PostTarget.State.APPROVED, PostTarget.State.SCHEDULED, PostTarget.State.FAILED,
                   PostTarget.State.NEEDS_ATTENTION)
    if target.state not in schedulable:
        raise _refuse(target, MSG_CANNOT_SCHEDULE)
    _require_approved(target)
    if due_at < timezone.now() - PAST_GRACE:
        raise ValidationError({"due_at": MSG_IN_THE_PAST}, code="past")
    check_text(target)
    before = {"state": target.state, "due_at": target.due_at}
    if not states.move(target, PostTarget.State.SCHEDULED, due_at=due_at, next_attempt_at=None, attempts=0,
                       last_error="", error_note=[], attempt_id=None, lease_expires_at=None):
        raise ValidationError(MSG_CHANGED, code="changed")
    from .engine import enqueue

    enqueue(target, at=due_at)
    _log(ctx, "target.schedule", brand=target.brand, obj=target,
         changes=audit.diff(before, {"state": target.state, "due_at": target.due_at}))
    return target


do_reschedule = do_schedule


@transaction.atomic
def do_cancel(ctx: Ctx, target: PostTarget) -> PostTarget:
    _require(ctx, target.brand, roles.COMPOSE)
    before = target.state
    if not states.allowed(target.state, PostTarget.State.CANCELED):
        raise _refuse(target, MSG_CANNOT_CANCEL)
    if not states.move(target, PostTarget.State.CANCELED, next_attempt_at=None, lease_expires_at=None):
        raise ValidationError(MSG_CHANGED, code="changed")
    _log(ctx, "target.cancel", brand=target.brand, obj=target, changes={"state": [before, target.state]})
    return target


@transaction.atomic
def do_retry_now(ctx: Ctx, target: PostTarget) -> PostTarget:
    """Try again at once: a failed target, one that needs attention (after the person fixed the
    cause), or one waiting for its next automatic attempt. Never one in flight."""
    _require(ctx, target.brand, roles.COMPOSE)
    retryable = (PostTarget.State.FAILED, PostTarget.State.NEEDS_ATTENTION, PostTarget.State.SCHEDULED)
    if target.state not in retryable or (target.state == PostTarget.State.SCHEDULED and not target.attempts):
        raise _refuse(target, MSG_CANNOT_RETRY)
    _require_approved(target)
    check_text(target)
    from .clock import db_now
    from .engine import enqueue

    now = db_now()
    before = target.state
    due_at = min(target.due_at, now) if target.due_at else now
    if not states.move(target, PostTarget.State.SCHEDULED, due_at=due_at, next_attempt_at=None, attempts=0,
                       attempt_id=None, lease_expires_at=None):
        raise ValidationError(MSG_CHANGED, code="changed")
    enqueue(target, now=now)
    _log(ctx, "target.retry", brand=target.brand, obj=target, changes={"state": [before, target.state]})
    return target


@transaction.atomic
def do_set_account_paused(ctx: Ctx, account: SocialAccount, paused: bool) -> SocialAccount:
    """Pause or resume publishing on an account. Paused targets stay scheduled; on resume the
    sweeper (or the tasks queued here) sends what became due meanwhile."""
    _require(ctx, account.brand, roles.MANAGE_ACCOUNTS)
    updated = SocialAccount.objects.filter(pk=account.pk, paused=not paused).update(paused=paused)
    account.paused = paused
    if updated:
        _log(ctx, "account.resume" if not paused else "account.pause", brand=account.brand, obj=account,
             changes={"paused": [not paused, paused]})
        if not paused:
            from .engine import enqueue

            for target in PostTarget.objects.filter(account=account, state=PostTarget.State.SCHEDULED):
                enqueue(target, at=target.next_attempt_at or target.due_at)
    return account


# --- Pausing a brand --------------------------------------------------------------------------

def _due_scheduled(qs):
    """Scheduled targets already due by the database's clock: their task ran while paused and
    did nothing, so resuming queues them again. (Later ones still have their own task; the
    sweeper covers any that was lost.)"""
    from django.db.models import Q

    from .clock import db_now

    now = db_now()
    return qs.filter(state=PostTarget.State.SCHEDULED, due_at__lte=now).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)), now


@transaction.atomic
def do_set_brand_paused(ctx: Ctx, brand, paused: bool):
    """Pause or resume all publishing of a brand (a crisis, a client's request). Nothing is
    canceled: due posts wait and go out on resume, in order. Owners and managers (who manage
    the brand or its accounts) may do it."""
    from django.core.exceptions import PermissionDenied

    from tertulia.core.models import Brand
    from tertulia.core.scoping import has_perm

    if not (has_perm(ctx.user, brand, roles.MANAGE_BRAND) or has_perm(ctx.user, brand, roles.MANAGE_ACCOUNTS)):
        raise PermissionDenied(_("You do not have permission to do that for this brand."))
    paused = bool(paused)
    updated = Brand.objects.filter(pk=brand.pk, publishing_paused=not paused).update(publishing_paused=paused)
    brand.publishing_paused = paused
    if updated:
        _log(ctx, "brand.publishing_pause" if paused else "brand.publishing_resume", brand=brand, obj=brand,
             changes={"publishing_paused": [not paused, paused]})
        if not paused:
            from .engine import enqueue

            due, now = _due_scheduled(PostTarget.objects.filter(brand=brand, account__paused=False))
            for target in due.order_by("due_at", "pk"):
                enqueue(target, now=now)
    return brand


# --- Queue slots ------------------------------------------------------------------------------
# Permission: COMPOSE. The posting rhythm is the community manager's daily planning tool, the
# same right as scheduling a post at any time they like; a slot publishes nothing by itself
# (a queued post still goes through approval), so it is not a brand setting for managers only.

MSG_TOO_MANY_SLOTS = _("A brand can have at most %(count)s queue slots.")
MSG_NO_FREE_SLOT = _("There is no free slot in the queue. Add posting times in the queue settings, "
                     "or choose a time for this post.")
MSG_CANNOT_QUEUE = _("This post cannot be added to the queue: its state is “%(state)s”.")


@transaction.atomic
def do_add_slots(ctx: Ctx, brand, *, weekdays, times) -> list:
    """Add weekly slots: every weekday × every time ("weekdays at 09:00 and 17:30"). Slots that
    already exist are kept as they are; returns the slots that were created."""
    from .models import QueueSlot
    from .slots import MAX_SLOTS, MSG_BAD_TIME, MSG_BAD_WEEKDAY, parse_wall_time, parse_weekday

    _require(ctx, brand, roles.COMPOSE)
    weekdays, times = list(weekdays or [])[:50], list(times or [])[:50]
    if not weekdays:
        raise ValidationError({"weekday": MSG_BAD_WEEKDAY}, code="weekday")
    if not times:
        raise ValidationError({"time": MSG_BAD_TIME}, code="time")
    days = sorted({parse_weekday(d) for d in weekdays})
    walls = sorted({parse_wall_time(t) for t in times})
    existing = set(QueueSlot.objects.filter(brand=brand).values_list("weekday", "time"))
    new = [(d, t) for d in days for t in walls if (d, t) not in existing]
    if len(existing) + len(new) > MAX_SLOTS:
        raise ValidationError(MSG_TOO_MANY_SLOTS, code="too_many", params={"count": MAX_SLOTS})
    created = []
    for d, t in new:
        try:
            with transaction.atomic():  # a savepoint: a colleague may add the same slot right now
                created.append(QueueSlot.objects.create(brand=brand, weekday=d, time=t))
        except IntegrityError:
            continue  # it exists now: that is what was asked
    if created:
        _log(ctx, "queue_slot.create", brand=brand, obj=created[0],
             changes={"slots": [None, [f"{s.weekday}@{s.time:%H:%M}" for s in created]]})
    return created


@transaction.atomic
def do_delete_slot(ctx: Ctx, slot) -> None:
    """Remove a slot. Posts already queued into it keep their time."""
    _require(ctx, slot.brand, roles.COMPOSE)
    _log(ctx, "queue_slot.delete", brand=slot.brand, obj=slot,
         changes={"slot": [f"{slot.weekday}@{slot.time:%H:%M}", None]})
    slot.delete()


# --- Add to queue -----------------------------------------------------------------------------

QUEUEABLE_POST_STATES = ("draft", "pending_approval", "changes_requested", "approved", "scheduled")


@transaction.atomic
def do_add_to_queue(ctx: Ctx, post):
    """Give the post the brand's next free slot.

    Approved (or already scheduled) posts are scheduled there at once, target by target,
    through ``do_schedule`` (with its validation); a post still in draft or review only gets
    the time, and approving it schedules it then.

    Concurrency: the brand's row is locked (SELECT … FOR UPDATE on PostgreSQL; on SQLite every
    write transaction is IMMEDIATE, one writer at a time) before the free slot is looked up,
    and the post's time is written in the same transaction, so two "add to queue" at once
    queue one after the other and never into the same slot."""
    from tertulia.content.models import Post
    from tertulia.core.models import Brand

    from .slots import next_free_slot

    _require(ctx, post.brand, roles.COMPOSE)
    brand = Brand.objects.select_for_update().get(pk=post.brand_id)
    fresh = Post.objects.filter(pk=post.pk, brand=brand).first()
    if fresh is None or fresh.state not in QUEUEABLE_POST_STATES:
        state = fresh.get_state_display() if fresh is not None else ""
        raise ValidationError(MSG_CANNOT_QUEUE, code="state", params={"state": state})
    targets = list(PostTarget.objects.filter(post=fresh).select_related("account", "post", "brand"))
    if any(t.state == PostTarget.State.PUBLISHING for t in targets):
        raise ValidationError(MSG_IN_FLIGHT, code="in_flight")
    at = next_free_slot(brand, exclude_post=fresh)
    if at is None:
        raise ValidationError(MSG_NO_FREE_SLOT, code="no_slot")
    before = fresh.scheduled_at
    approved = fresh.state in (Post.State.APPROVED, Post.State.SCHEDULED)
    # A new version: a calendar or composer page opened before this must not overwrite the time,
    # and calendar apps (iCal SEQUENCE) pick the move up.
    fields = {"scheduled_at": at, "updated_at": timezone.now(), "version": F("version") + 1}
    if approved:
        fields["state"] = Post.State.SCHEDULED
    Post.objects.filter(pk=fresh.pk).update(**fields)
    schedulable = (PostTarget.State.APPROVED, PostTarget.State.SCHEDULED)
    for target in targets:
        target.post.scheduled_at = at
        if approved and target.state in schedulable:
            do_schedule(ctx, target, due_at=at)
        elif target.state in (PostTarget.State.DRAFT, PostTarget.State.PENDING_APPROVAL):
            # Not approved yet: the time waits on the row; approval schedules it.
            PostTarget.objects.filter(pk=target.pk, state=target.state).update(due_at=at)
    fresh.refresh_from_db()
    post.scheduled_at, post.state = fresh.scheduled_at, fresh.state
    _log(ctx, "post.queue", brand=brand, obj=fresh, changes={"scheduled_at": [before, at]})
    return fresh
