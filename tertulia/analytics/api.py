"""API routes for the dashboards: figures per brand and across brands, each chart's data (its
table and Vega-Lite spec) and best time to post, under /brands/{brand_id}/analytics/… and
/analytics/….

Thin: the brand comes from ``scoping.get_brand`` (404 for strangers), the brands of the
cross-brand figures from ``scoping.brands_for``, the account from ``for_user``; the figures
from ``figures``. Reading needs VIEW. Unknown figures are ``null``, never 0. The period is
chosen as on the pages (``period`` = 7d, 30d, 90d, month, quarter, year or custom with
``start`` and ``end``), in the brand's time zone (the caller's on the cross-brand route);
an invalid one is a 422.
"""


from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from ninja import Query, Router, Schema

from tertulia.core import roles
from tertulia.core.api import _one, _responses
from tertulia.core.scoping import brands_for, get_brand
from tertulia.networks.models import SocialAccount

from . import best_time, charts, figures
from .views import PeriodForm

router = Router()


class PeriodIn(Schema):
    period: str = "30d"
    start: date | None = None
    end: date | None = None


class PeriodOut(Schema):
    kind: str
    first_day: date
    last_day: date
    time_zone: str
    start: datetime
    end: datetime
    previous_first_day: date
    previous_last_day: date


class DashboardOut(Schema):
    period: PeriodOut
    brand_ids: list[int]
    engagement_rate_definition: str
    traffic_light_rule: str
    kpis: list[dict[str, Any]]
    growth: dict[str, Any]
    totals: dict[str, Any]
    previous_totals: dict[str, Any]
    top_posts: list[dict[str, Any]]
    bottom_posts: list[dict[str, Any]]
    by_pillar: list[dict[str, Any]]
    by_format: list[dict[str, Any]]
    by_network: list[dict[str, Any]]
    by_hour: list[dict[str, Any]]
    sentiment: dict[str, Any]
    inbox: dict[str, Any] | None
    web_traffic: dict[str, Any] | None
    missing_metrics: list[dict[str, Any]]
    brands: list[dict[str, Any]]


class ChartOut(Schema):
    id: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    spec: dict[str, Any]


class CellOut(Schema):
    weekday: int
    hour: int
    score: float | None
    samples: int


class SlotOut(Schema):
    weekday: int
    hour: int
    score: float
    samples: int


class BestTimeOut(Schema):
    account_id: int
    metric: str
    min_samples: int
    posts: int
    time_zone: str
    suggestions: list[SlotOut]
    cells: list[CellOut]


def _period(params: PeriodIn, tz: ZoneInfo) -> figures.Period:
    data = {"period": params.period[:20]}
    if params.start:
        data["start"] = params.start.isoformat()
    if params.end:
        data["end"] = params.end.isoformat()
    form = PeriodForm(data, tz=tz)
    if not form.is_valid():
        raise ValidationError({k: [str(m) for m in v] for k, v in form.errors.items()})
    return form.chosen_period()


def _plain(value):
    """Dataclasses to JSON-ready values (dates as ISO text, Decimals as floats)."""
    if is_dataclass(value):
        value = asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _period_out(period: figures.Period) -> dict:
    prev = period.previous()
    return {"kind": period.kind, "first_day": period.first_day, "last_day": period.last_day,
            "time_zone": str(period.tz), "start": period.start, "end": period.end,
            "previous_first_day": prev.first_day, "previous_last_day": prev.last_day}


def _dashboard(brand_ids, period, cross: bool) -> dict:
    d = figures.dashboard(brand_ids, period, compare=cross)
    missing = [{"network": m.network, "metric": m.metric, "reason": m.reason,
                "since": m.since.isoformat() if m.since else None, "explanation": m.explanation} for m in d.missing]
    return {
        "period": _period_out(period), "brand_ids": d.brand_ids,
        "engagement_rate_definition": d.engagement_rate_definition, "traffic_light_rule": d.light_rule,
        "kpis": _plain(d.kpis), "growth": _plain(d.growth), "totals": _plain(d.totals),
        "previous_totals": _plain(d.previous_totals), "top_posts": _plain(d.top), "bottom_posts": _plain(d.bottom),
        "by_pillar": _plain(d.pillars), "by_format": _plain(d.formats), "by_network": _plain(d.networks),
        "by_hour": _plain(d.hours),
        "sentiment": _plain(d.sentiment) | {"classified": d.sentiment.classified},
        "inbox": _plain(d.inbox), "web_traffic": _plain(d.traffic), "missing_metrics": missing,
        "brands": _plain(d.brands),
    }


def _user_zone(user) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (ValueError, KeyError, TypeError):  # pragma: no cover
        return ZoneInfo("UTC")


@router.get("/brands/{brand_id}/analytics/dashboard", response=_responses(200, DashboardOut), tags=["analytics"])
def dashboard(request, brand_id: int, params: Query[PeriodIn]):
    """Every figure of the brand's dashboard for the period (and the previous one for totals
    and KPI trends). Unknown figures are null."""
    brand = get_brand(request.user, brand_id, roles.ANALYTICS)
    return _dashboard([brand.pk], _period(params, brand.tzinfo), cross=False)


@router.get("/analytics/dashboard", response=_responses(200, DashboardOut), tags=["analytics"])
def dashboard_all(request, params: Query[PeriodIn]):
    """The same figures over every brand the caller can read (with a token: the brands granted
    to it), plus one row per brand in ``brands``. The period is in the caller's time zone."""
    ids = list(brands_for(request.user, roles.ANALYTICS).values_list("pk", flat=True))
    return _dashboard(ids, _period(params, _user_zone(request.user)), cross=True)


def _chart_route(chart_id: str):
    def chart(request, brand_id: int, params: Query[PeriodIn]):
        brand = get_brand(request.user, brand_id, roles.ANALYTICS)
        c = charts.chart_by_id(chart_id, [brand.pk], _period(params, brand.tzinfo))
        return {"id": c.id, "title": c.title, "columns": c.columns, "rows": _plain(c.rows), "spec": c.spec}

    chart.__name__ = f"chart_{chart_id}"
    chart.__doc__ = (f"The dashboard's {chart_id!r} chart: its table (columns and rows) and its Vega-Lite "
                     "spec with the data inline (unknown values are null and have no mark).")
    return chart


# One route per chart: the chart ids are fixed names (charts.CHART_IDS), not objects.
for _id in charts.CHART_IDS:
    router.get(f"/brands/{{brand_id}}/analytics/charts/{_id}", response=_responses(200, ChartOut),
               tags=["analytics"], operation_id=f"analytics_chart_{_id}")(_chart_route(_id))


@router.get("/brands/{brand_id}/analytics/best-time/{account_id}", response=_responses(200, BestTimeOut),
            tags=["analytics"])
def best_time_grid(request, brand_id: int, account_id: int):
    """The account's day × hour grid (brand time zone, Monday = 0) of average engagement rate
    by reach of its own posts of the last 12 months (engagements per post where the network
    gives no reach: see ``metric``), with the sample size of each cell; cells below
    ``min_samples`` have a null score. ``suggestions``: the three best cells."""
    brand = get_brand(request.user, brand_id, roles.ANALYTICS)
    account = _one(SocialAccount.objects.for_user(request.user), pk=account_id, brand=brand)
    account.brand = brand
    grid = best_time.heatmap(account)
    return {"account_id": account.pk, "metric": grid.metric, "min_samples": grid.min_samples, "posts": grid.posts,
            "time_zone": brand.timezone,
            "suggestions": [{"weekday": w, "hour": h, "score": s, "samples": n}
                            for w, h, s, n in best_time.best_cells(grid, 3)],
            "cells": [asdict(c) for c in grid.cells]}
