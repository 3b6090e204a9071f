"""The delivery outcome of each post × account target.

The publisher (a Huey task, later) claims a target by committing ``publishing`` with an
attempt id, calls the network, and records the outcome here. Each write is a conditional
UPDATE on the target's state (and attempt id when given), so a stale or duplicate task that
arrives after another one finished changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tertulia.content.services import sync_post_state

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
