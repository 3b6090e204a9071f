"""Writes to analytics: the samples connectors take of profiles and posts over time.

A metric a network does not expose is stored as NULL, never 0: a zero would read as "nobody
saw it" in every average and chart. Recording is idempotent on (account or target, instant),
so a retried poll writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tertulia.core import bulk
from tertulia.networks.models import SocialAccount
from tertulia.publishing.models import PostTarget

from .models import PostMetricLatest, PostMetricSnapshot, ProfileSnapshot

BATCH = 500


@dataclass(frozen=True, slots=True)
class ProfileSample:
    taken_at: datetime
    followers: int | None = None
    following: int | None = None
    posts: int | None = None


@dataclass(frozen=True, slots=True)
class PostMetrics:
    target: PostTarget
    taken_at: datetime
    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    clicks: int | None = None
    video_views: int | None = None


POST_METRIC_FIELDS = tuple(f.name for f in fields(PostMetrics) if f.name not in ("target", "taken_at"))
PROFILE_FIELDS = ("followers", "following", "posts")


def _check_counts(sample, names) -> None:
    if timezone.is_naive(sample.taken_at):
        raise ValidationError(_("Snapshot times must carry a time zone."))
    for name in names:
        value = getattr(sample, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValidationError(
                _("%(metric)s must be a whole number of zero or more, or empty when the network does not tell.")
                % {"metric": name}
            )


def _insert_new(model, fields, rows, conflict, count_stored) -> int:
    """Insert rows, skipping samples already stored; returns how many are new."""
    if connection.features.can_return_rows_from_bulk_insert:
        return len(bulk.insert_ignore(model, fields, rows, conflict=conflict, returning=("id",)))
    before = count_stored()
    bulk.insert_ignore(model, fields, rows, conflict=conflict)
    return count_stored() - before


@transaction.atomic
def record_profile_snapshots(account: SocialAccount, samples: Iterable[ProfileSample]) -> int:
    """Store follower/following/post counts for ``account``; returns how many were new."""
    rows = []
    for s in samples:
        _check_counts(s, PROFILE_FIELDS)
        rows.append((account.brand_id, account.pk, s.taken_at, s.followers, s.following, s.posts))
    if not rows:
        return 0
    return _insert_new(ProfileSnapshot, ("brand_id", "account_id", "taken_at", *PROFILE_FIELDS), rows,
                       ("account", "taken_at"), ProfileSnapshot.objects.filter(account=account).count)


@transaction.atomic
def record_post_metrics(samples: Iterable[PostMetrics]) -> int:
    """Store metric samples for published post targets (of any accounts); returns how many
    rows were written. A sample already stored for the same target and instant is skipped."""
    rows = []
    for s in samples:
        _check_counts(s, POST_METRIC_FIELDS)
        if s.target.state != PostTarget.State.PUBLISHED:
            raise ValidationError(_("Only published posts have metrics."))
        rows.append((s.target.brand_id, s.target.pk, s.taken_at, *(getattr(s, name) for name in POST_METRIC_FIELDS)))
    if not rows:
        return 0
    targets = sorted({r[1] for r in rows})

    def stored() -> int:
        return sum(PostMetricSnapshot.objects.filter(target_id__in=targets[i:i + BATCH]).count()
                   for i in range(0, len(targets), BATCH))

    written = _insert_new(PostMetricSnapshot, ("brand_id", "target_id", "taken_at", *POST_METRIC_FIELDS), rows,
                          ("target", "taken_at"), stored)
    _keep_latest(rows)
    return written


def _keep_latest(rows: list[tuple]) -> None:
    """Upsert ``PostMetricLatest`` with the newest sample of each target in ``rows``. A sample
    older than (or as old as) the one kept changes nothing: late samples go to history only,
    and a duplicate is a no-op. Both statements are conditional, so two writers racing on one
    target leave the newer sample whatever their order."""
    newest: dict[int, tuple] = {}
    for row in rows:
        kept = newest.get(row[1])
        if kept is None or row[2] > kept[2]:
            newest[row[1]] = row
    targets = sorted(newest)
    dims = {}
    for i in range(0, len(targets), BATCH):
        for t in (PostTarget.objects.filter(pk__in=targets[i:i + BATCH])
                  .values("pk", "account_id", "account__network", "post__pillar_id", "post__format",
                          "published_at", "created_at")):
            dims[t["pk"]] = t
    fresh = []
    for target_id, row in newest.items():
        d = dims.get(target_id)
        if d is None:  # the post was deleted meanwhile (its history went with it)
            continue
        values = dict(zip(POST_METRIC_FIELDS, row[3:]))
        updated = PostMetricLatest.objects.filter(target_id=target_id, taken_at__lt=row[2]).update(
            taken_at=row[2], **values)
        if not updated:
            fresh.append(PostMetricLatest(
                brand_id=row[0], target_id=target_id, account_id=d["account_id"], network=d["account__network"],
                pillar_id=d["post__pillar_id"], format=d["post__format"] or "",
                published_at=d["published_at"] or d["created_at"], taken_at=row[2], **values))
    if fresh:
        # Already there (with a newer or equal sample) is skipped: the conditional UPDATE above
        # has said the kept sample is not older.
        PostMetricLatest.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=BATCH)
        for row in fresh:  # another writer may have inserted an older sample in between
            PostMetricLatest.objects.filter(target_id=row.target_id, taken_at__lt=row.taken_at).update(
                taken_at=row.taken_at, **{name: getattr(row, name) for name in POST_METRIC_FIELDS})
