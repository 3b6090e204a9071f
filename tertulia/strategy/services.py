"""Writes to strategy: objectives with their KPI targets, and content pillars with a mix.

Every write checks MANAGE_BRAND (owners and managers), runs in one transaction and is
recorded in the audit log. Views, the API and the demo generator all call these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require

from .models import KPI, ContentPillar, Objective

# Metrics where a smaller number is the better one.
LOWER_IS_BETTER = frozenset({KPI.Metric.RESPONSE_TIME})
# Metrics that are a share of a whole, so a target above 100 % can never be met.
BOUNDED_PERCENT = frozenset({KPI.Metric.CTR, KPI.Metric.RESPONSE_RATE, KPI.Metric.SHARE_OF_VOICE})
# Metrics that may fall (a shrinking community, a loss): their target may be negative, down to −100 %.
MAY_BE_NEGATIVE = frozenset({KPI.Metric.FOLLOWER_GROWTH, KPI.Metric.ROI})

OBJECTIVE_FIELDS = ("name", "period_start", "period_end")
KPI_FIELDS = ("metric", "target", "lower_is_better")
PILLAR_FIELDS = ("name", "target_share", "color")
DEFAULT_COLOR = "#6b7280"
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def default_lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


def _same_brand(obj, brand) -> None:
    if obj.brand_id != brand.pk:
        # Never act on a row of another brand, whatever the caller passed.
        raise PermissionDenied(_("You do not have permission to do that for this brand."))


# --- Objectives ------------------------------------------------------------------------

def _apply_objective(objective: Objective, fields: dict) -> None:
    for key, value in fields.items():
        if key not in OBJECTIVE_FIELDS:
            raise ValidationError({key: _("Unknown field.")})
        setattr(objective, key, (value or "").strip() if key == "name" else value)
    for key in ("period_start", "period_end"):
        if getattr(objective, key) in (None, ""):
            raise ValidationError({key: _("An objective needs a start and an end date.")})
    objective.full_clean()  # also turns ISO date strings into dates
    if objective.period_end < objective.period_start:
        raise ValidationError({"period_end": _("The end comes before the start.")})


@transaction.atomic
def do_create_objective(ctx: Ctx, brand, *, name: str, period_start: date, period_end: date,
                        kpis: Iterable[tuple] = ()) -> Objective:
    """An objective for a period, with KPI targets given as (metric, target) pairs, or
    (metric, target, lower_is_better) triples."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    objective = Objective(brand=brand)
    _apply_objective(objective, {"name": name, "period_start": period_start, "period_end": period_end})
    objective.save()
    created = []
    for kpi in kpis:
        # (metric, target) or (metric, target, lower_is_better); left out, it follows the metric.
        metric, target, lower = (*kpi, None)[:3]
        if any(k.metric == metric for k in created):
            raise ValidationError({"metric": _("Each metric can have one target per objective.")})
        created.append(_save_kpi(objective, None, metric=metric, target=target, lower_is_better=lower))
    _log(ctx, "objective.create", brand=brand, obj=objective,
         changes={**audit.diff({}, audit.snapshot(objective, OBJECTIVE_FIELDS)),
                  "kpis": {k.metric: str(k.target) for k in created}})
    return objective


@transaction.atomic
def do_update_objective(ctx: Ctx, objective: Objective, **fields) -> Objective:
    brand = objective.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    before = audit.snapshot(objective, OBJECTIVE_FIELDS)
    _apply_objective(objective, fields)
    objective.save()
    changes = audit.diff(before, audit.snapshot(objective, OBJECTIVE_FIELDS))
    if changes:
        _log(ctx, "objective.update", brand=brand, obj=objective, changes=changes)
    return objective


@transaction.atomic
def do_delete_objective(ctx: Ctx, objective: Objective) -> None:
    brand = objective.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    _log(ctx, "objective.delete", brand=brand, obj=objective,
         changes={"kpis": {k.metric: str(k.target) for k in objective.kpis.all()}})
    objective.delete()  # its KPIs go with it


# --- KPI targets -----------------------------------------------------------------------

def _clean_target(metric: str, target) -> Decimal:
    if isinstance(target, bool) or target is None:
        raise ValidationError({"target": _("Enter a number.")})
    try:
        value = Decimal(str(target).strip().replace(",", ".")) if isinstance(target, str) else Decimal(str(target))
    except (InvalidOperation, ValueError):
        raise ValidationError({"target": _("Enter a number.")}) from None
    if not value.is_finite():
        raise ValidationError({"target": _("Enter a number.")})
    if abs(value) >= Decimal("1e12"):
        raise ValidationError({"target": _("This target is too large.")})
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if metric in MAY_BE_NEGATIVE:
        if value < -100:
            raise ValidationError({"target": _("This target cannot be below −100%.")})
    elif value < 0:
        raise ValidationError({"target": _("This target cannot be negative.")})
    if metric in BOUNDED_PERCENT and value > 100:
        raise ValidationError({"target": _("This target is a percentage: it cannot be above 100%.")})
    return value


def _save_kpi(objective: Objective, kpi: KPI | None, *, metric: str, target, lower_is_better: bool | None) -> KPI:
    if metric not in KPI.Metric.values:
        raise ValidationError({"metric": _("Unknown metric.")})
    clash = KPI.objects.filter(objective=objective, metric=metric)
    if kpi is not None:
        clash = clash.exclude(pk=kpi.pk)
    if clash.exists():
        raise ValidationError({"metric": _("Each metric can have one target per objective.")})
    kpi = kpi or KPI(brand_id=objective.brand_id, objective=objective)
    kpi.metric = metric
    kpi.target = _clean_target(metric, target)
    kpi.lower_is_better = default_lower_is_better(metric) if lower_is_better is None else bool(lower_is_better)
    kpi.full_clean()
    kpi.save()
    return kpi


@transaction.atomic
def do_save_kpi(ctx: Ctx, objective: Objective, kpi: KPI | None = None, *, metric: str | None = None,
                target=None, lower_is_better: bool | None = None) -> KPI:
    """Add a KPI target to an objective, or change one. ``lower_is_better`` left out follows
    the metric (a response time is better when it is lower; everything else when higher).
    When editing, the fields left out (``None``) keep their values."""
    brand = objective.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    if kpi is not None and kpi.objective_id != objective.pk:
        raise PermissionDenied(_("You do not have permission to do that for this brand."))
    before = audit.snapshot(kpi, KPI_FIELDS) if kpi is not None else {}
    if kpi is not None:
        if metric is None:
            metric = kpi.metric
            if lower_is_better is None:
                lower_is_better = kpi.lower_is_better
        if target is None:
            target = kpi.target
    if metric is None:
        raise ValidationError({"metric": _("Choose a metric.")})
    created = kpi is None
    kpi = _save_kpi(objective, kpi, metric=metric, target=target, lower_is_better=lower_is_better)
    changes = audit.diff(before, audit.snapshot(kpi, KPI_FIELDS))
    if created or changes:
        _log(ctx, "kpi.create" if created else "kpi.update", brand=brand, obj=kpi,
             changes={**changes, "objective": objective.name})
    return kpi


@transaction.atomic
def do_delete_kpi(ctx: Ctx, kpi: KPI) -> None:
    brand = kpi.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    _log(ctx, "kpi.delete", brand=brand, obj=kpi,
         changes={"objective": kpi.objective.name, "metric": kpi.metric, "target": str(kpi.target)})
    kpi.delete()


# --- Content pillars -------------------------------------------------------------------

def planned_share(brand, exclude: ContentPillar | None = None) -> int:
    """The sum of the brand's pillars' target shares (leaving ``exclude`` out)."""
    qs = ContentPillar.objects.filter(brand=brand)
    if exclude is not None and exclude.pk:
        qs = qs.exclude(pk=exclude.pk)
    return qs.aggregate(s=Sum("target_share"))["s"] or 0


@transaction.atomic
def do_save_pillar(ctx: Ctx, brand, pillar: ContentPillar | None = None, *, name: str | None = None,
                   target_share: int | None = None, color: str | None = None) -> ContentPillar:
    """Create or edit a content pillar. The brand's target shares add up to 100 at most.
    When editing, the fields left out (``None``) keep their values."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    if pillar is not None:
        _same_brand(pillar, brand)
    # Lock the brand's pillars: two people adding pillars at once must not pass 100 together.
    list(ContentPillar.objects.select_for_update().filter(brand=brand).values_list("pk", flat=True))
    pillar = pillar or ContentPillar(brand=brand)
    created = pillar.pk is None
    before = audit.snapshot(pillar, PILLAR_FIELDS) if not created else {}
    if name is None and created:
        raise ValidationError({"name": _("This field is required.")})
    if name is not None:
        pillar.name = str(name).strip()
    if target_share is None:
        target_share = 0 if created else pillar.target_share
    if isinstance(target_share, bool) or not isinstance(target_share, int):
        try:
            target_share = int(str(target_share).strip())
        except (TypeError, ValueError):
            raise ValidationError({"target_share": _("Enter a whole number from 0 to 100.")}) from None
    if not 0 <= target_share <= 100:
        raise ValidationError({"target_share": _("Enter a whole number from 0 to 100.")})
    others = planned_share(brand, exclude=pillar)
    if others + target_share > 100:
        raise ValidationError({"target_share": _(
            "The pillars' target shares cannot add up to more than 100%%: the other pillars already "
            "plan %(planned)s%%, so this one can have at most %(left)s%%."
        ) % {"planned": others, "left": 100 - others}})
    if ContentPillar.objects.filter(brand=brand, name__iexact=pillar.name).exclude(pk=pillar.pk).exists():
        raise ValidationError({"name": _("This brand already has a pillar with this name.")})
    pillar.target_share = target_share
    if color is not None or created:
        color = (color or DEFAULT_COLOR).strip()
        if not _HEX_COLOR.match(color):
            raise ValidationError({"color": _("Enter a colour as #rrggbb, for example #2563eb.")})
        pillar.color = color.lower()
    pillar.full_clean()
    pillar.save()
    changes = audit.diff(before, audit.snapshot(pillar, PILLAR_FIELDS))
    if created or changes:
        _log(ctx, "pillar.create" if created else "pillar.update", brand=brand, obj=pillar, changes=changes)
    return pillar


@transaction.atomic
def do_delete_pillar(ctx: Ctx, pillar: ContentPillar) -> None:
    """Delete a pillar. Posts tagged with it keep existing, untagged."""
    brand = pillar.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    _log(ctx, "pillar.delete", brand=brand, obj=pillar,
         changes={"name": pillar.name, "target_share": pillar.target_share})
    pillar.delete()
