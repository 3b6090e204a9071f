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
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
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


def check_text(target: PostTarget) -> None:
    """Validation at schedule time, with the same rules the engine applies at publish time."""
    from .engine import text_problems

    problems = text_problems(target)
    if problems:
        raise ValidationError({"text": [p.message for p in problems]})


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
