"""API routes for analytics data, under /brands/{brand_id}/analytics/…: the inbox, web traffic
and campaign ROI figures for a period, the two CSV imports (multipart), campaign spend and
value, and the metrics reading status of each account.

Thin like the other routers: the brand comes from ``scoping.get_brand`` (404 for strangers,
403 for a role or token without the permission), rows only through ``for_user``, writes through
``do_*`` services (audit log via="api"). Reading needs ANALYTICS; importing and editing need
COMPOSE. Periods are calendar days in the brand's time zone (``start``/``end`` inclusive,
the last 28 days by default); unknown figures are ``null``, never 0.
"""


from datetime import date, datetime
from decimal import Decimal

from ninja import Field, File, Query, Router, Schema
from ninja.files import UploadedFile

from tertulia.content.models import Campaign
from tertulia.core import roles
from tertulia.core.api import In, _ctx, _one, _responses
from tertulia.core.scoping import get_brand
from tertulia.networks.models import SocialAccount

from . import collect, inbox_metrics, roi, traffic
from .models import MetricsSync
from .views_data import period_of

router = Router(tags=["analytics"])


class PeriodIn(Schema):
    start: date | None = Field(None, description="First day (YYYY-MM-DD, brand's time zone). Default: 27 days "
                                                 "before end.")
    end: date | None = Field(None, description="Last day, inclusive. Default: today.")


class PeriodOut(Schema):
    start: date
    end: date
    time_zone: str


def _period(brand, q: PeriodIn):
    p = period_of(brand, q.start, q.end)
    return p, {"start": p.first_day, "end": p.last_day, "time_zone": brand.timezone}


# --- Inbox --------------------------------------------------------------------------------------

class InboxDay(Schema):
    day: date
    received: int
    answered: int


class InboxOut(Schema):
    period: PeriodOut
    received: int
    answered: int
    response_rate: float | None = Field(..., description="% of received conversations answered")
    median_first_response_hours: float | None
    median_resolution_hours: float | None
    sla_breaches: int
    by_day: list[InboxDay]


@router.get("/brands/{brand_id}/analytics/inbox", response=_responses(200, InboxOut))
def inbox_figures(request, brand_id: int, q: Query[PeriodIn]):
    """Conversations received (first inbound message in the period), answered, response rate,
    median first-response and resolution times (hours) and SLA breaches."""
    brand = get_brand(request.user, brand_id, roles.ANALYTICS)
    p, period = _period(brand, q)
    f = inbox_metrics.summary([brand.pk], p.start, p.end, brand.tzinfo)
    return {"period": period, "received": f.received, "answered": f.answered, "response_rate": f.response_rate,
            "median_first_response_hours": f.median_first_response_hours,
            "median_resolution_hours": f.median_resolution_hours, "sla_breaches": f.sla_breaches,
            "by_day": [{"day": d, "received": r, "answered": a} for d, r, a in f.by_day]}


# --- Web traffic --------------------------------------------------------------------------------

class SourceRow(Schema):
    source: str
    clicks: int
    sessions: int | None


class TrafficDay(Schema):
    day: date
    clicks: int
    sessions: int | None


class TrafficOut(Schema):
    period: PeriodOut
    short_link_clicks: int
    sessions: int | None = Field(..., description="Sessions from social; null when no export was ever imported")
    conversions: int | None
    by_source: list[SourceRow]
    by_day: list[TrafficDay]


@router.get("/brands/{brand_id}/analytics/traffic", response=_responses(200, TrafficOut))
def traffic_figures(request, brand_id: int, q: Query[PeriodIn]):
    """Visits from social: short-link clicks and imported web analytics sessions."""
    brand = get_brand(request.user, brand_id, roles.ANALYTICS)
    p, period = _period(brand, q)
    f = traffic.social_visits([brand.pk], p.start, p.end, brand.tzinfo)
    return {"period": period, "short_link_clicks": f.short_link_clicks, "sessions": f.sessions,
            "conversions": f.conversions,
            "by_source": [{"source": s, "clicks": c, "sessions": n} for s, c, n in f.by_source],
            "by_day": [{"day": d, "clicks": c, "sessions": n} for d, c, n in f.by_day]}


class ImportOut(Schema):
    format: str
    stored: int
    updated: int
    unchanged: int
    bad_count: int
    bad_rows: list[tuple[int, str]] = Field(..., description="(line number, reason), the first 500")


def _import_out(result) -> dict:
    return {"format": result.format, "stored": result.stored, "updated": result.updated,
            "unchanged": result.unchanged, "bad_count": result.bad_count, "bad_rows": result.bad_rows}


@router.post("/brands/{brand_id}/analytics/traffic/import", response=_responses(200, ImportOut))
def traffic_import(request, brand_id: int, file: File[UploadedFile]):
    """Import a GA4, Matomo or Plausible CSV export (multipart, field ``file``, at most 20 MB).
    Good rows are kept and bad ones reported; importing the same file again changes nothing."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    return _import_out(traffic.do_import_web_traffic(_ctx(request), brand, file))


# --- Campaigns and ROI --------------------------------------------------------------------------

class CampaignROIOut(Schema):
    campaign_id: int
    name: str
    utm_campaign: str
    starts_on: date | None
    ends_on: date | None
    cost: Decimal | None
    value: Decimal | None
    value_source: str | None = Field(..., description='"entered", "imported" or null')
    conversions: int | None
    roi: float | None = Field(..., description="(value − cost) / cost × 100")


def _roi_out(r) -> dict:
    c = r.campaign
    return {"campaign_id": c.pk, "name": c.name, "utm_campaign": c.utm_campaign, "starts_on": c.starts_on,
            "ends_on": c.ends_on, "cost": r.cost, "value": r.value, "value_source": r.value_source,
            "conversions": r.conversions, "roi": r.roi}


class CampaignPeriodIn(Schema):
    start: date | None = Field(None, description="With end: only campaigns running in the period, and its "
                                                 "conversions. Without both: every campaign, all time.")
    end: date | None = None


@router.get("/brands/{brand_id}/analytics/campaigns", response=_responses(200, list[CampaignROIOut]))
def campaign_roi(request, brand_id: int, q: Query[CampaignPeriodIn]):
    brand = get_brand(request.user, brand_id, roles.ANALYTICS)
    start = end = None
    if q.start or q.end:
        p = period_of(brand, q.start, q.end)
        start, end = p.start, p.end
    return [_roi_out(r) for r in roi.campaigns([brand.pk], start, end, brand.tzinfo)]


class CampaignMoneyIn(In):
    cost: Decimal | None = Field(..., ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False,
                                 description="Spend; null clears it")
    value: Decimal | None = Field(..., ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False,
                                  description="Value; null clears it (the imported conversions' value is used)")


@router.put("/brands/{brand_id}/analytics/campaigns/{campaign_id}", response=_responses(200, CampaignROIOut))
def campaign_money(request, brand_id: int, campaign_id: int, payload: CampaignMoneyIn):
    """Set a campaign's spend and value."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    campaign = _one(Campaign.objects.for_user(request.user, roles.COMPOSE), pk=campaign_id, brand=brand)
    roi.do_set_campaign_money(_ctx(request), campaign, cost=payload.cost, value=payload.value)
    row = next(r for r in roi.campaigns([brand.pk], tz=brand.tzinfo) if r.campaign.pk == campaign.pk)
    return _roi_out(row)


@router.post("/brands/{brand_id}/analytics/conversions/import", response=_responses(200, ImportOut))
def conversions_import(request, brand_id: int, file: File[UploadedFile]):
    """Import campaign conversions (multipart, field ``file``): columns campaign, date,
    conversions and optional value; one row per campaign and day."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    return _import_out(roi.do_import_conversions(_ctx(request), brand, file))


# --- Metrics reading status ---------------------------------------------------------------------

class SyncOut(Schema):
    account_id: int
    network: str
    handle: str
    account_status: str
    last_run_at: datetime | None
    next_run_at: datetime | None
    interval_seconds: int | None
    failures: int
    last_error: str = Field(..., description="In the caller's language; empty when the last reading worked")
    missing_metrics: dict[str, date] = Field(..., description="Metrics the network stopped giving, and since when")


def _sync_out(a: SocialAccount, s: MetricsSync | None) -> dict:
    from django.utils.translation import gettext

    missing = {}
    for name, iso in ((s.missing_metrics or {}) if s else {}).items():
        try:
            missing[name] = date.fromisoformat(str(iso))
        except ValueError:
            continue
    return {"account_id": a.pk, "network": a.network, "handle": a.handle, "account_status": a.status,
            "last_run_at": s.last_run_at if s else None, "next_run_at": s.next_run_at if s else None,
            "interval_seconds": s.interval_seconds if s else None, "failures": s.failures if s else 0,
            "last_error": gettext(s.last_error) if s and s.last_error else "", "missing_metrics": missing}


@router.get("/brands/{brand_id}/analytics/sync", response=_responses(200, list[SyncOut]))
def sync_status(request, brand_id: int):
    brand = get_brand(request.user, brand_id, roles.ANALYTICS)
    accounts = list(SocialAccount.objects.for_user(request.user, roles.ANALYTICS).filter(brand=brand)
                    .order_by("network", "handle"))
    syncs = {s.account_id: s for s in MetricsSync.objects.filter(account__in=accounts)}
    return [_sync_out(a, syncs.get(a.pk)) for a in accounts]


class ReadNowOut(Schema):
    outcome: str = Field(..., description='"ok", "skipped" (being read, backing off, or not readable), "retry", '
                                          '"rate_limited", "needs_reconnect", "failed" or "error"')
    sync: SyncOut


@router.post("/brands/{brand_id}/analytics/sync/{account_id}/read", response=_responses(200, ReadNowOut))
def sync_read_now(request, brand_id: int, account_id: int):
    """Read an account's profile and post metrics now, out of turn."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    account = _one(SocialAccount.objects.for_user(request.user, roles.COMPOSE), pk=account_id, brand=brand)
    outcome = collect.do_read_metrics_now(_ctx(request), account)
    account.refresh_from_db()
    return {"outcome": outcome, "sync": _sync_out(account, MetricsSync.objects.filter(account=account).first())}


