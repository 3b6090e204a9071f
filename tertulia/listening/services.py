"""Writes to listening: competitors, their accounts, and samples of their public numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import Network

from .models import Competitor, CompetitorAccount, CompetitorSnapshot


@transaction.atomic
def do_add_competitor(ctx: Ctx, brand, *, name: str, website: str = "",
                      accounts: Iterable[tuple[str, str]] = ()) -> Competitor:
    """Track a competitor and its accounts, given as (network, handle) pairs."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    competitor = Competitor(brand=brand, name=(name or "").strip()[:200], website=website)
    competitor.full_clean()
    competitor.save()
    for network, handle in accounts:
        if network not in Network.values:
            raise ValidationError({"network": _("Unknown network.")})
        handle = (handle or "").strip()
        if not handle:
            raise ValidationError({"handle": _("Enter the account's handle or name.")})
        CompetitorAccount.objects.get_or_create(brand=brand, competitor=competitor, network=network, handle=handle[:200])
    _log(ctx, "competitor.add", brand=brand, obj=competitor,
         changes=audit.diff({}, {"name": competitor.name, "accounts": [f"{n} {h}" for n, h in accounts]}))
    return competitor


@dataclass(frozen=True, slots=True)
class CompetitorSample:
    taken_at: datetime
    followers: int | None = None
    posts: int | None = None
    avg_engagement: float | None = None  # None when it cannot be measured, never 0


@transaction.atomic
def record_competitor_snapshots(account: CompetitorAccount, samples: Iterable[CompetitorSample]) -> int:
    rows = []
    for s in samples:
        if timezone.is_naive(s.taken_at):
            raise ValidationError(_("Snapshot times must carry a time zone."))
        for value in (s.followers, s.posts, s.avg_engagement):
            if value is not None and value < 0:
                raise ValidationError(_("Counts cannot be negative."))
        rows.append(CompetitorSnapshot(brand_id=account.brand_id, account=account, taken_at=s.taken_at,
                                       followers=s.followers, posts=s.posts, avg_engagement=s.avg_engagement))
    before = CompetitorSnapshot.objects.filter(account=account).count()
    CompetitorSnapshot.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return CompetitorSnapshot.objects.filter(account=account).count() - before
