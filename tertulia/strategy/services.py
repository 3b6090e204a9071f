"""Writes to strategy: objectives with their KPI targets, and content pillars with a mix."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require

from .models import KPI, ContentPillar, Objective

# Metrics where a smaller number is the better one.
LOWER_IS_BETTER = frozenset({KPI.Metric.RESPONSE_TIME})


@transaction.atomic
def do_create_objective(ctx: Ctx, brand, *, name: str, period_start: date, period_end: date,
                        kpis: Iterable[tuple[str, Decimal | int | float | str]] = ()) -> Objective:
    """An objective for a period, with KPI targets given as (metric, target) pairs."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    if period_end < period_start:
        raise ValidationError({"period_end": _("The end comes before the start.")})
    objective = Objective(brand=brand, name=(name or "").strip()[:200], period_start=period_start,
                          period_end=period_end)
    objective.full_clean()
    objective.save()
    seen = set()
    for metric, target in kpis:
        if metric not in KPI.Metric.values:
            raise ValidationError({"metric": _("Unknown metric.")})
        if metric in seen:
            raise ValidationError({"metric": _("Each metric can have one target per objective.")})
        seen.add(metric)
        kpi = KPI(brand=brand, objective=objective, metric=metric, target=Decimal(str(target)),
                  lower_is_better=metric in LOWER_IS_BETTER)
        kpi.full_clean()
        kpi.save()
    _log(ctx, "objective.create", brand=brand, obj=objective,
         changes={"name": objective.name, "kpis": {m: str(t) for m, t in kpis}})
    return objective


@transaction.atomic
def do_save_pillar(ctx: Ctx, brand, pillar: ContentPillar | None = None, *, name: str,
                   target_share: int, color: str = "#6b7280") -> ContentPillar:
    """Create or edit a content pillar. The brand's target shares add up to 100 at most."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    if pillar is not None and pillar.brand_id != brand.pk:
        raise ValidationError(_("This pillar belongs to another brand."))
    pillar = pillar or ContentPillar(brand=brand)
    before = audit.snapshot(pillar, ("name", "target_share", "color")) if pillar.pk else {}
    others = ContentPillar.objects.filter(brand=brand).exclude(pk=pillar.pk).aggregate(s=Sum("target_share"))["s"] or 0
    if target_share < 0 or others + target_share > 100:
        raise ValidationError({"target_share": _("The pillars' target shares cannot add up to more than 100%.")})
    pillar.name, pillar.target_share, pillar.color = (name or "").strip()[:80], target_share, color
    pillar.full_clean()
    created = pillar.pk is None
    pillar.save()
    _log(ctx, "pillar.create" if created else "pillar.update", brand=brand, obj=pillar,
         changes=audit.diff(before, audit.snapshot(pillar, ("name", "target_share", "color"))))
    return pillar
