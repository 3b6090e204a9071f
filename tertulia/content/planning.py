"""The weekly topic plan (a theme per week, planned ahead) and the brand's key dates.

Services: each checks the permission (COMPOSE to write), validates, writes in one
transaction and records the change in the audit log.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require

from .calendar import week_start
from .models import KeyDate, WeekTheme

THEME_FIELDS = ("week_start", "theme", "notes", "pillar", "campaign")
KEY_DATE_FIELDS = ("date", "name", "notes")
# Dates a plan can sensibly hold; keeps arithmetic on them (week + 7 days) away from year 9999.
MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2200, 12, 31)


def _text(value, limit: int, field: str, required: bool = False) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if "\x00" in value:
        raise ValidationError({field: _("Null characters are not allowed.")})
    if required and not value:
        raise ValidationError({field: _("This field is required.")})
    if len(value) > limit:
        raise ValidationError({field: _("At most %(limit)s characters.") % {"limit": limit}})
    return value


def _date(value, field: str) -> date:
    if not isinstance(value, date):
        raise ValidationError({field: _("Enter a valid date.")})
    if not (MIN_DATE <= value <= MAX_DATE):
        raise ValidationError({field: _("Enter a date between %(start)s and %(end)s.")
                               % {"start": MIN_DATE.year, "end": MAX_DATE.year}})
    return value


def _same_brand(brand, *objs) -> None:
    if any(o is not None and o.brand_id != brand.pk for o in objs):
        raise PermissionDenied(_("That belongs to another brand."))


# --- Week themes ---------------------------------------------------------------------------

@transaction.atomic
def do_save_week_theme(ctx: Ctx, brand, instance: WeekTheme | None = None, /, **fields) -> WeekTheme:
    """Create (``instance`` None) or change a week's theme. Any day of a week stands for its Monday."""
    _require(ctx, brand, roles.COMPOSE)
    if instance is not None and instance.brand_id != brand.pk:
        raise PermissionDenied(_("That belongs to another brand."))
    unknown = set(fields) - set(THEME_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("Unknown field.")})
    before = audit.snapshot(instance, THEME_FIELDS) if instance is not None else {}
    obj = instance or WeekTheme(brand=brand)
    if instance is None or "week_start" in fields:
        obj.week_start = week_start(_date(fields.get("week_start"), "week_start"))
    if instance is None or "theme" in fields:
        obj.theme = _text(fields.get("theme"), 300, "theme", required=True)
    if "notes" in fields:
        obj.notes = _text(fields.get("notes"), 4000, "notes")
    if "pillar" in fields:
        _same_brand(brand, fields["pillar"])
        obj.pillar = fields["pillar"]
    if "campaign" in fields:
        _same_brand(brand, fields["campaign"])
        obj.campaign = fields["campaign"]
    obj.save()
    changes = audit.diff(before, audit.snapshot(obj, THEME_FIELDS))
    if instance is None or changes:
        _log(ctx, "week_theme.create" if instance is None else "week_theme.update", brand=brand, obj=obj,
             changes=changes)
    return obj


@transaction.atomic
def do_delete_week_theme(ctx: Ctx, theme: WeekTheme) -> None:
    _require(ctx, theme.brand, roles.COMPOSE)
    _log(ctx, "week_theme.delete", brand=theme.brand, obj=theme,
         changes={"theme": theme.theme, "week_start": str(theme.week_start)})
    theme.delete()


def weeks_ahead(first_monday: date, count: int = 5) -> list[date]:
    return [first_monday + timedelta(weeks=i) for i in range(count)]


# --- Key dates -----------------------------------------------------------------------------

@transaction.atomic
def do_save_key_date(ctx: Ctx, brand, key_date: KeyDate | None = None, /, **fields) -> KeyDate:
    _require(ctx, brand, roles.COMPOSE)
    if key_date is not None and key_date.brand_id != brand.pk:
        raise PermissionDenied(_("That belongs to another brand."))
    unknown = set(fields) - set(KEY_DATE_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("Unknown field.")})
    before = audit.snapshot(key_date, KEY_DATE_FIELDS) if key_date is not None else {}
    obj = key_date or KeyDate(brand=brand)
    if key_date is None or "date" in fields:
        obj.date = _date(fields.get("date"), "date")
    if key_date is None or "name" in fields:
        obj.name = _text(fields.get("name"), 200, "name", required=True)
    if "notes" in fields:
        obj.notes = _text(fields.get("notes"), 2000, "notes")
    obj.save()
    changes = audit.diff(before, audit.snapshot(obj, KEY_DATE_FIELDS))
    if key_date is None or changes:
        _log(ctx, "key_date.create" if key_date is None else "key_date.update", brand=brand, obj=obj,
             changes=changes)
    return obj


@transaction.atomic
def do_delete_key_date(ctx: Ctx, key_date: KeyDate) -> None:
    _require(ctx, key_date.brand, roles.COMPOSE)
    _log(ctx, "key_date.delete", brand=key_date.brand, obj=key_date,
         changes={"name": key_date.name, "date": str(key_date.date)})
    key_date.delete()
