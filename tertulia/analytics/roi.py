"""Return on investment per campaign.

Cost and value are entered on the campaign (``content.Campaign.cost`` / ``value``); conversions
(and, when the team has no value of its own, their value) are imported from CSV into
``CampaignConversion``. ROI = (value − cost) / cost × 100 (``kpis.roi``); unknown stays None.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
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
    return campaigns_in_ranges(brand_ids, [(start, end)], tz)[0]


def campaigns_in_ranges(brand_ids: Sequence[int], ranges, tz: tzinfo = UTC) -> list[list[CampaignROI]]:
    """``campaigns`` for each ``(start, end)`` of ``ranges`` (either may be None), in one query
    whatever their number: the campaigns running in any of them, each with its imported
    conversions summed per range (``_conversions``)."""
    ids = [int(b) for b in brand_ids]
    if not ids:
        return [[] for _ in ranges]
    bounds = []  # (first day or None, last day or None) per range
    for start, end in ranges:
        bounds.append((start.astimezone(tz).date() if start is not None else None,
                       (end - timedelta(microseconds=1)).astimezone(tz).date() if end is not None else None))
    firsts, lasts = [f for f, _l in bounds], [la for _f, la in bounds]
    where, where_params = [f"c.brand_id IN ({', '.join(['%s'] * len(ids))})"], list(ids)
    if None not in firsts:  # the hull of the ranges; each range is checked again below
        where.append("(c.ends_on IS NULL OR c.ends_on >= %s)")
        where_params.append(connection.ops.adapt_datefield_value(min(firsts)))
    if None not in lasts:
        where.append("(c.starts_on IS NULL OR c.starts_on <= %s)")
        where_params.append(connection.ops.adapt_datefield_value(max(lasts)))
    sums, sums_params, names = _conversions(ids, bounds)
    # Campaign.objects.filter(...).order_by("brand_id", "-starts_on", "name", "pk"), with the sums.
    sql = (f"SELECT c.*, {', '.join(f'x.{n}' for n in names)} FROM {Campaign._meta.db_table} c "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
           f"LEFT OUTER JOIN ({sums}) x ON x.campaign_id = c.id WHERE {' AND '.join(where)} "
           "ORDER BY c.brand_id ASC, c.starts_on DESC, c.name ASC, c.id ASC")
    outs: list[list[CampaignROI]] = [[] for _ in ranges]
    for c in Campaign.objects.raw(sql, [*sums_params, *where_params]):
        for i, (first, last) in enumerate(bounds):
            if first is not None and c.ends_on is not None and c.ends_on < first:
                continue
            if last is not None and c.starts_on is not None and c.starts_on > last:
                continue
            imported = bool(getattr(c, f"rows{i}"))  # any imported row in the range
            if c.value is not None:
                value, source = c.value, "entered"
            elif imported and getattr(c, f"v{i}") is not None:
                value, source = Decimal(_decimal(getattr(c, f"v{i}"))).quantize(Decimal("0.01")), "imported"
            else:
                value, source = None, None
            outs[i].append(CampaignROI(
                campaign=c, cost=c.cost, value=value, value_source=source,
                conversions=getattr(c, f"n{i}") if imported else None,
                roi=kpis.roi(value=value, cost=c.cost),
            ))
    for c in (c for out in outs for c in out):  # the sums are not the campaign's attributes
        for n in names:
            c.campaign.__dict__.pop(n, None)
    return outs


def _conversions(ids: list[int], bounds: list[tuple]) -> tuple[str, list, list[str]]:
    """SQL of the imported conversions per campaign in the days of ``bounds`` (first, last day,
    None for open), its parameters and its columns: ``n{i}`` conversions, ``v{i}`` value and
    ``rows{i}`` rows of each range ``i`` (sums per range as CASE)."""
    table = CampaignConversion._meta.db_table
    columns, params, names, where = [], [], [], [f"brand_id IN ({', '.join(['%s'] * len(ids))})"]
    for i, (first, last) in enumerate(bounds):
        cond = " AND ".join([c for c, v in (("day >= %s", first), ("day <= %s", last)) if v is not None]) or "1 = 1"
        values = [connection.ops.adapt_datefield_value(v) for v in (first, last) if v is not None]
        columns += [f"SUM(CASE WHEN {cond} THEN conversions END) AS n{i}", f"SUM(CASE WHEN {cond} THEN value END) AS v{i}",
                    f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS rows{i}"]
        names += [f"n{i}", f"v{i}", f"rows{i}"]
        params += values * 3
    params += ids
    firsts, lasts = [f for f, _l in bounds], [la for _f, la in bounds]
    if None not in firsts:
        where.append("day >= %s")
        params.append(connection.ops.adapt_datefield_value(min(firsts)))
    if None not in lasts:
        where.append("day <= %s")
        params.append(connection.ops.adapt_datefield_value(max(lasts)))
    sql = (f"SELECT campaign_id, {', '.join(columns)} FROM {table} "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
           f"WHERE {' AND '.join(where)} GROUP BY campaign_id")
    return sql, params, names


def _decimal(value):
    """A summed money column as the ORM reads it: Decimal on PostgreSQL; on SQLite a float (or
    int), converted as Django's SQLite backend converts an aggregate of a DecimalField."""
    if value is None or isinstance(value, Decimal):
        return value
    return _SQLITE_DECIMAL.create_decimal_from_float(value)


_SQLITE_DECIMAL = decimal.Context(prec=15)


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
