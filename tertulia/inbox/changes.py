"""Edits, deletions and hiding that happen on the network, reflected in the inbox.

Edits need nothing here: ``services.ingest_interactions`` records a known id with a new text
as an edit. Deletions and moderation states arrive in three shapes, depending on what the
network offers (see ``networks.base.InteractionBatch``):

- an explicit signal: a Meta webhook with ``verb: remove`` (``mark_deleted``), ``verb: hide`` /
  ``unhide`` (``mark_hidden``);
- a complete re-read of one of our posts' threads: a comment we stored under it that is no
  longer listed is gone (``reconcile_threads``);
- nothing at all (mentions on most networks): the row stays as it was.

The row is always kept: the inbox shows "deleted on the network", the history of the author
and the team's answers stay intact. Every write is a conditional UPDATE (only rows not yet
marked), so webhooks and polls that report the same deletion commute and count it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tertulia.core import bulk
from tertulia.networks.models import SocialAccount

from .models import Conversation, Interaction




def _clean(external_ids: Iterable[str]) -> list[str]:
    return sorted({str(i)[:200] for i in external_ids if i})


def mark_deleted(account: SocialAccount, external_ids: Iterable[str], at: datetime | None = None) -> int:
    """The network says these interactions of ``account`` were deleted: set ``deleted_at`` on
    the ones we have that are not marked yet. Returns how many rows changed. Ids we never
    stored are ignored (a deletion can arrive before, or instead of, the comment itself)."""
    ids = _clean(external_ids)
    at = at or timezone.now()
    changed = 0
    with transaction.atomic():
        for chunk in bulk.chunks(ids):
            changed += Interaction.objects.filter(account=account, external_id__in=chunk,
                                                  deleted_at__isnull=True).update(deleted_at=at)
    return changed


def mark_restored(account: SocialAccount, external_ids: Iterable[str]) -> int:
    """Interactions we had marked deleted that the network shows again (a comment a moderator
    removed and then restored, an author unblocked): clear ``deleted_at``."""
    ids = _clean(external_ids)
    changed = 0
    with transaction.atomic():
        for chunk in bulk.chunks(ids):
            changed += Interaction.objects.filter(account=account, external_id__in=chunk,
                                                  deleted_at__isnull=False).update(deleted_at=None)
    return changed


def mark_hidden(account: SocialAccount, external_ids: Iterable[str], hidden: bool) -> int:
    """Someone hid (or showed again) these comments on the network itself (the Page's
    moderators in Meta Business Suite): keep our ``hidden`` flag in step."""
    ids = _clean(external_ids)
    changed = 0
    with transaction.atomic():
        for chunk in bulk.chunks(ids):
            changed += (Interaction.objects.filter(account=account, external_id__in=chunk)
                        .exclude(hidden=hidden).update(hidden=hidden))
    return changed


def reconcile_threads(account: SocialAccount, threads: Mapping[str, Iterable[str]], *,
                      read_started: datetime, at: datetime | None = None) -> tuple[int, int]:
    """Compare the comments we stored under each of our posts with a complete re-read of it.

    ``threads`` maps a post's id to every comment id the network lists under it now. A received
    comment stored under that post (its conversation's root) before ``read_started`` and
    missing from the list was deleted; a comment marked deleted that is listed again is
    restored. Rows stored after the read began (a webhook racing the poll) are left alone.
    Returns (deleted, restored)."""
    deleted = restored = 0
    at = at or timezone.now()
    for root, present in threads.items():
        present_ids = set(_clean(present))
        root = str(root)[:200]
        stored = (Interaction.objects
                  .filter(account=account, direction=Interaction.Direction.INBOUND,
                          conversation__root_external_id=root, conversation__kind=Conversation.Kind.COMMENT)
                  .filter(Q(deleted_at__isnull=False) | Q(received_at__lt=read_started))
                  .values_list("external_id", "deleted_at"))
        gone, back = [], []
        for external_id, deleted_at in stored.iterator(chunk_size=2000):
            if deleted_at is None and external_id not in present_ids:
                gone.append(external_id)
            elif deleted_at is not None and external_id in present_ids:
                back.append(external_id)
        if gone:
            deleted += mark_deleted(account, gone, at)
        if back:
            restored += mark_restored(account, back)
    return deleted, restored
