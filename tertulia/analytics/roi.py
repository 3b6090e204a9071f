"""Return on investment per campaign.

Cost and value are entered on the campaign (``content.Campaign.cost`` / ``value``); conversions
(and, when the team has no value of its own, their value) are imported from CSV into
``CampaignConversion``. ROI = (value − cost) / cost × 100 (``kpis.roi``); unknown stays None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tertulia.content.models import Campaign
from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require

from . import kpis, traffic
from .models import CampaignConversion
from .traffic import ImportResult


@dataclass(frozen=True, slots=True)
class CampaignROI:
    campaign: Campaign
    cost: Decimal | None
    value: Decimal | None
    value_source: str | None  # "entered" | "imported" | None
    conversions: int | None  # None: nothing imported for this campaign (in range)
    roi: float | None


def campaigns(brand_ids: Sequence[int], start: datetime | None = None, end: datetime | None = None,
              tz: tzinfo = UTC) -> list[CampaignROI]:
    """Every campaign of ``brand_ids`` (those running in ``[start, end)`` when a range is given;
    a campaign without dates counts as always running), with its conversions in the range.
    Campaign dates and conversion days are calendar days, taken in ``tz`` (UTC by default)."""
    ids = list(brand_ids)
    if not ids:
        return []
    camps = Campaign.objects.filter(brand_id__in=ids)
    conv = CampaignConversion.objects.filter(brand_id__in=ids)
    if start is not None:
        first = start.astimezone(tz).date()
        camps = camps.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=first))
        conv = conv.filter(day__gte=first)
    if end is not None:
        last = (end - timedelta(microseconds=1)).astimezone(tz).date()
        camps = camps.filter(Q(starts_on__isnull=True) | Q(starts_on__lte=last))
        conv = conv.filter(day__lte=last)
    imported = {row["campaign_id"]: row for row in
                conv.values("campaign_id").annotate(n=Sum("conversions"), v=Sum("value"), rows=Count("pk"))}
    out = []
    for c in camps.order_by("brand_id", "-starts_on", "name", "pk"):
        got = imported.get(c.pk)
        if c.value is not None:
            value, source = c.value, "entered"
        elif got and got["v"] is not None:
            # Sums come back as the database makes them (SQLite drops the trailing zeros).
            value, source = Decimal(got["v"]).quantize(Decimal("0.01")), "imported"
        else:
            value, source = None, None
        out.append(CampaignROI(
            campaign=c, cost=c.cost, value=value, value_source=source,
            conversions=got["n"] if got else None,
            roi=kpis.roi(value=value, cost=c.cost),
        ))
    return out


# --- Import of conversions -------------------------------------------------------------------------
#
# A CSV with one row per campaign and day: ``campaign`` (the campaign's UTM campaign or its name,
# as written on the campaign), ``date`` (YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY), ``conversions``
# (whole number) and, optionally, ``value`` (the conversions' value). Spanish headers work too.
# Re-importing a campaign's day replaces it; a campaign of another brand is "not found".

HEADERS = {
    "campaign": ("campaign", "campaña", "campana", "utm_campaign", "session campaign", "campaign name"),
    "date": ("date", "day", "fecha", "día", "dia"),
    "conversions": ("conversions", "conversiones", "key events", "nb_conversions"),
    "value": ("value", "valor", "revenue", "ingresos", "total revenue"),
}


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def do_import_conversions(ctx: Ctx, brand, file) -> ImportResult:
    """Import campaign conversions for ``brand``: bad rows are reported with their line number
    and reason, good ones kept (an existing campaign/day is replaced)."""
    _require(ctx, brand, roles.COMPOSE)
    header, rows = traffic.read_table(file)
    cols = {key: _find(header, names) for key, names in HEADERS.items()}
    missing = [key for key in ("campaign", "date", "conversions") if cols[key] is None]
    if missing:
        raise ValidationError(_("The file needs the columns campaign, date and conversions (value is optional); "
                                "missing: %(columns)s.") % {"columns": ", ".join(missing)})
    by_name: dict[str, Campaign] = {}
    for c in Campaign.objects.filter(brand=brand).order_by("pk"):
        for key in (c.utm_campaign, c.name):
            if key:
                by_name.setdefault(key.strip().lower(), c)
    result = ImportResult(format="conversions")
    merged: dict[tuple[int, object], list] = {}
    for line, row in rows:
        def cell(key):
            i = cols[key]
            return row[i] if i is not None and i < len(row) else ""
        try:
            name = cell("campaign").strip()
            if not name:
                raise traffic.BadRow(gettext_noop("the campaign is empty"))
            campaign = by_name.get(name.lower())
            if campaign is None:
                raise traffic.BadRow(gettext_noop("no campaign of this brand has that name or UTM campaign"))
            day = traffic.parse_day(cell("date"))
            conversions = traffic.parse_count(cell("conversions"))
            if conversions is None:
                raise traffic.BadRow(gettext_noop("the number of conversions is empty"))
            value = traffic.parse_money(cell("value"))
        except traffic.BadRow as bad:
            result.bad_count += 1
            if len(result.bad_rows) < traffic.MAX_BAD_ROWS_SHOWN:
                result.bad_rows.append((line, _(str(bad.args[0]))))
            continue
        kept = merged.setdefault((campaign.pk, day), [campaign, 0, None])
        kept[1] = min(kept[1] + conversions, traffic.MAX_COUNT)
        kept[2] = traffic._add(kept[2], value)
    with transaction.atomic():
        existing = {(r.campaign_id, r.day): r for r in CampaignConversion.objects.filter(
            brand=brand, campaign_id__in={k[0] for k in merged})} if merged else {}
        now = timezone.now()
        new, changed = [], []
        for (campaign_id, day), (campaign, conversions, value) in merged.items():
            row = existing.get((campaign_id, day))
            if row is None:
                new.append(CampaignConversion(brand=brand, campaign=campaign, day=day, conversions=conversions,
                                              value=value, imported_at=now))
            elif (row.conversions, row.value) != (conversions, value):
                row.conversions, row.value, row.imported_at = conversions, value, now
                changed.append(row)
            else:
                result.unchanged += 1
        CampaignConversion.objects.bulk_create(new, batch_size=1000)
        CampaignConversion.objects.bulk_update(changed, ["conversions", "value", "imported_at"], batch_size=1000)
        result.stored, result.updated = len(new), len(changed)
        _log(ctx, "conversions.import", brand=brand, changes={
            "stored": result.stored, "updated": result.updated, "bad_rows": result.bad_count})
    return result


MONEY_LIMIT = Decimal("9999999999.99")  # Campaign.cost / value: 12 digits, 2 decimals


@transaction.atomic
def do_set_campaign_money(ctx: Ctx, campaign: Campaign, *, cost: Decimal | None,
                          value: Decimal | None) -> Campaign:
    """Enter a campaign's spend and value (None clears one)."""
    _require(ctx, campaign.brand, roles.COMPOSE)
    errors = {}
    for name, amount in (("cost", cost), ("value", value)):
        if amount is not None and (amount < 0 or amount > MONEY_LIMIT or amount.as_tuple().exponent < -2):
            errors[name] = _("Enter an amount between 0 and %(max)s with at most two decimals.") % {
                "max": MONEY_LIMIT}
    if errors:
        raise ValidationError(errors)
    before = {"cost": str(campaign.cost) if campaign.cost is not None else None,
              "value": str(campaign.value) if campaign.value is not None else None}
    Campaign.objects.filter(pk=campaign.pk).update(cost=cost, value=value)
    campaign.cost, campaign.value = cost, value
    after = {"cost": str(cost) if cost is not None else None, "value": str(value) if value is not None else None}
    _log(ctx, "campaign.money", brand=campaign.brand, obj=campaign,
         changes={k: [before[k], after[k]] for k in before if before[k] != after[k]})
    return campaign
