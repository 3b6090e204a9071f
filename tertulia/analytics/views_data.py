"""Analytics → Data: the pages where a brand's team feeds and checks the figures behind the
dashboards. Web traffic (short-link clicks and imported GA4/Matomo/Plausible exports), campaign
conversions and ROI (with the campaign's spend and value), and the metrics reading status of
each connected account.

Thin views: the brand comes from ``brand_view`` (404 for strangers before any form is read),
campaigns only through ``for_user`` and the brand, every write through a ``do_*`` service.
Reading needs ANALYTICS (analysts read; client reviewers do not); importing and editing
campaign money need COMPOSE.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.content.csv_io import escape_cell
from tertulia.content.models import Campaign
from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.timezones import resolve
from tertulia.core.views import _apply_errors, brand_view
from tertulia.networks.models import SocialAccount

from . import collect, roi, traffic
from .models import MetricsSync

DEFAULT_DAYS = 28
MAX_DAYS = 3 * 366  # a period longer than this is refused: the tables would be unreadable anyway
METRIC_LABELS = {
    "impressions": gettext_lazy("Impressions"), "reach": gettext_lazy("Reach"), "likes": gettext_lazy("Likes"),
    "comments": gettext_lazy("Comments"), "shares": gettext_lazy("Shares"), "saves": gettext_lazy("Saves"),
    "clicks": gettext_lazy("Clicks"), "video_views": gettext_lazy("Video views"),
}


# --- Period -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    first_day: date  # in the brand's time zone, inclusive
    last_day: date
    start: datetime  # the same days as UTC instants, end exclusive
    end: datetime


def period_of(brand, start: str | date | None = None, end: str | date | None = None) -> Period:
    """Days in the brand's time zone → UTC instants. Defaults to the last 28 days up to today.
    Raises ValidationError for a malformed, reversed or too long period."""
    tz = brand.tzinfo
    today = timezone.now().astimezone(tz).date()

    def day(value, default):
        if value in (None, ""):
            return default
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise ValidationError(_("Enter dates as YYYY-MM-DD.")) from None

    last = day(end, today)
    first = day(start, last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise ValidationError(_("The period ends before it starts."))
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError(_("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS})
    if first.year < 2000 or last.year > 2100:
        raise ValidationError(_("A date is out of range: use years 2000 to 2100."))
    start_at = resolve(datetime.combine(first, time.min), tz).astimezone(UTC)
    end_at = resolve(datetime.combine(last + timedelta(days=1), time.min), tz).astimezone(UTC)
    return Period(first, last, start_at, end_at)


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=gettext_lazy("To"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


def _period(request, brand) -> tuple[Period, PeriodForm]:
    form = PeriodForm(request.GET or None)
    period = None
    if form.is_bound and form.is_valid():
        try:
            period = period_of(brand, form.cleaned_data["start"], form.cleaned_data["end"])
        except ValidationError as exc:
            form.add_error(None, exc)
    if period is None:
        period = period_of(brand)
        if not form.is_bound:
            form = PeriodForm(initial={"start": period.first_day, "end": period.last_day})
    return period, form


# --- Forms --------------------------------------------------------------------------------------

class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"),
                           widget=forms.FileInput(attrs={"accept": ".csv,text/csv,text/plain"}))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > traffic.MAX_BYTES:
            raise ValidationError(_("The file is larger than %(mb)s MB; export a shorter period or fewer dimensions.")
                                  % {"mb": f"{traffic.MAX_BYTES / 1048576:g}"})
        return upload


class CampaignMoneyForm(forms.Form):
    cost = forms.DecimalField(label=gettext_lazy("Spend"), required=False, min_value=0, max_digits=12,
                              decimal_places=2, localize=True,
                              help_text=gettext_lazy("What the campaign cost: ads, production, fees."))
    value = forms.DecimalField(label=gettext_lazy("Value"), required=False, min_value=0, max_digits=12,
                               decimal_places=2, localize=True,
                               help_text=gettext_lazy("What it brought in. Leave it empty to use the value of "
                                                      "the imported conversions."))


def _can_import(request, brand) -> bool:
    return roles.COMPOSE in permissions_in(request.user, brand)


def _render(request, template, context):
    return render(request, template, {"section_key": "analytics", **context})


def _import(request, brand, service, template, context):
    """The shared POST of both imports: the result page, or the form with its errors."""
    if not _can_import(request, brand):
        raise PermissionDenied
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            result = service(Ctx.from_request(request), brand, form.cleaned_data["file"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            return _render(request, "analytics/data/import_result.html", {**context, "result": result})
    return _render(request, template, {**context, "form": form})


def _csv_response(rows, filename: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([escape_cell(v) for v in row])
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Web traffic --------------------------------------------------------------------------------

@brand_view(roles.ANALYTICS)
def traffic_page(request, brand):
    context = {"subtab": "traffic", "can_import": _can_import(request, brand), "kind": "traffic"}
    if request.method == "POST":
        return _import(request, brand, traffic.do_import_web_traffic, "analytics/data/traffic.html",
                       {**context, **_traffic_context(request, brand)})
    return _render(request, "analytics/data/traffic.html",
                   {**context, **_traffic_context(request, brand), "form": ImportForm()})


def _traffic_context(request, brand) -> dict:
    period, period_form = _period(request, brand)
    return {"period": period, "period_form": period_form,
            "figures": traffic.social_visits([brand.pk], period.start, period.end, brand.tzinfo)}


@brand_view(roles.ANALYTICS)
def traffic_csv(request, brand):
    period, _form = _period(request, brand)
    figures = traffic.social_visits([brand.pk], period.start, period.end, brand.tzinfo)
    rows = [[_("Source"), _("Short-link clicks"), _("Sessions from social")]]
    rows += [[s, c, "" if n is None else n] for s, c, n in figures.by_source]
    return _csv_response(rows, f"traffic-{period.first_day}-{period.last_day}.csv")


# --- Conversions and ROI ------------------------------------------------------------------------

@brand_view(roles.ANALYTICS)
def conversions_page(request, brand):
    campaigns = Campaign.objects.for_user(request.user).filter(brand=brand).order_by("name", "pk")[:500]
    context = {"subtab": "conversions", "can_import": _can_import(request, brand), "campaigns": campaigns,
               "kind": "conversions"}
    if request.method == "POST":
        return _import(request, brand, roi.do_import_conversions, "analytics/data/conversions.html", context)
    return _render(request, "analytics/data/conversions.html", {**context, "form": ImportForm()})


@brand_view(roles.ANALYTICS)
def campaigns_page(request, brand):
    period, period_form = _period(request, brand) if request.GET else (None, PeriodForm())
    rows = roi.campaigns([brand.pk], period.start if period else None, period.end if period else None,
                         brand.tzinfo)
    return _render(request, "analytics/data/campaigns.html", {
        "subtab": "campaigns", "rows": rows, "period": period, "period_form": period_form,
        "can_edit": _can_import(request, brand)})


@brand_view(roles.ANALYTICS)
def campaigns_csv(request, brand):
    period, _form = _period(request, brand) if request.GET else (None, None)
    rows = [[_("Campaign"), _("UTM campaign"), _("Spend"), _("Value"), _("Value from"), _("Conversions"),
             _("ROI (%)")]]
    sources = {"entered": _("entered"), "imported": _("imported conversions")}
    for r in roi.campaigns([brand.pk], period.start if period else None, period.end if period else None,
                           brand.tzinfo):
        rows.append([r.campaign.name, r.campaign.utm_campaign, "" if r.cost is None else r.cost,
                     "" if r.value is None else r.value, sources.get(r.value_source, ""),
                     "" if r.conversions is None else r.conversions, "" if r.roi is None else f"{r.roi:.1f}"])
    return _csv_response(rows, "campaigns-roi.csv")


@brand_view(roles.ANALYTICS)
def campaign_money(request, brand, campaign_id):
    campaign = get_object_or_404(Campaign.objects.for_user(request.user), pk=campaign_id, brand=brand)
    if not _can_import(request, brand):
        raise PermissionDenied
    form = CampaignMoneyForm(request.POST or None, initial={"cost": campaign.cost, "value": campaign.value})
    if request.method == "POST" and form.is_valid():
        try:
            roi.do_set_campaign_money(Ctx.from_request(request), campaign, cost=form.cleaned_data["cost"],
                                      value=form.cleaned_data["value"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Campaign spend and value saved."))
            return redirect("analytics_data_campaigns", brand.pk)
    return _render(request, "analytics/data/campaign_money.html",
                   {"subtab": "campaigns", "campaign": campaign, "form": form})


# --- Metrics reading status ---------------------------------------------------------------------

@brand_view(roles.ANALYTICS)
def sync_page(request, brand):
    accounts = list(SocialAccount.objects.for_user(request.user).filter(brand=brand).order_by("network", "handle"))
    syncs = {s.account_id: s for s in MetricsSync.objects.filter(account__in=accounts)}
    rows = []
    for account in accounts:
        sync = syncs.get(account.pk)
        missing = []
        if sync is not None:
            for name, iso in sorted((sync.missing_metrics or {}).items()):
                try:
                    noticed = date.fromisoformat(str(iso))
                except ValueError:
                    noticed = None
                missing.append({"label": METRIC_LABELS.get(name, name), "since": noticed})
        rows.append({"account": account, "sync": sync, "missing": missing,
                     "interval_hours": round(sync.interval_seconds / 3600, 1) if sync else None})
    return _render(request, "analytics/data/sync.html", {
        "subtab": "sync", "rows": rows, "missing_by_network": collect.missing_metrics([brand.pk]),
        "can_read_now": _can_import(request, brand),
    })


@brand_view(roles.ANALYTICS)
@require_POST
def sync_read_now(request, brand, account_id):
    account = get_object_or_404(SocialAccount.objects.for_user(request.user), pk=account_id, brand=brand)
    outcome = collect.do_read_metrics_now(Ctx.from_request(request), account)
    if outcome == "ok":
        messages.success(request, _("Metrics of %(account)s read.") % {"account": account})
    elif outcome == "skipped":
        messages.info(request, _("%(account)s cannot be read right now: it is being read, waiting after errors, "
                                 "or disconnected or paused. Try again later.") % {"account": account})
    else:
        sync = MetricsSync.objects.filter(account=account).first()
        reason = _(sync.last_error) if sync and sync.last_error else _("The reading failed.")
        messages.error(request, _("%(account)s could not be read: %(reason)s") % {"account": account,
                                                                                   "reason": reason})
    return redirect("analytics_data_sync", brand.pk)
