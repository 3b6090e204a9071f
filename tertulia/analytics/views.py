"""Analytics pages: the brand dashboard (the shell's "Analytics" section), the cross-brand
dashboard, each chart's SVG (loaded into the page by htmx) and CSV, and best time to post.

Thin: the brand comes from ``brand_view`` (404 for strangers), the brands of the cross-brand
page from ``scoping.brands_for``, the figures from ``figures`` and the charts from ``charts``.
Reading needs VIEW. Periods are picked in the brand's time zone (the user's on the
cross-brand page) and validated by ``PeriodForm``.

The page itself renders every figure and each chart's table; the SVGs arrive in separate
requests (one per chart, ``hx-trigger="load"``), so rendering charts never delays the figures.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from tertulia.core import roles
from tertulia.core.scoping import brands_for
from tertulia.core.views import brand_view
from tertulia.networks.models import SocialAccount

from . import best_time, charts, figures
from .figures import MAX_PERIOD_DAYS, Period

PERIOD_CHOICES = [
    ("7d", gettext_lazy("Last 7 days")), ("30d", gettext_lazy("Last 30 days")), ("90d", gettext_lazy("Last 90 days")),
    ("month", gettext_lazy("This month")), ("quarter", gettext_lazy("This quarter")),
    ("year", gettext_lazy("This year")), ("custom", gettext_lazy("Custom dates")),
]
DEFAULT_PERIOD = "30d"
EARLIEST = date(2000, 1, 1)


class PeriodForm(forms.Form):
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=PERIOD_CHOICES, required=False)
    start = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=gettext_lazy("To"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, tz: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz

    def clean(self):
        data = super().clean()
        kind = data.get("period") or DEFAULT_PERIOD
        data["period"] = kind
        if kind != "custom":
            return data
        start, end = data.get("start"), data.get("end")
        if not start or not end:
            raise forms.ValidationError(_("Choose both dates for a custom period."))
        if end < start:
            raise forms.ValidationError(_("The end date is before the start date."))
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise forms.ValidationError(_("A period can be %(days)s days long at most.") % {"days": MAX_PERIOD_DAYS})
        if start < EARLIEST or end > date(datetime.now(self.tz).year + 1, 12, 31):
            raise forms.ValidationError(_("Choose dates between 2000 and next year."))
        return data

    def chosen_period(self) -> Period:
        """The chosen period (the default one when the form is invalid)."""
        data = self.cleaned_data if self.is_valid() else {"period": DEFAULT_PERIOD}
        if data["period"] == "custom":
            return Period.custom(self.tz, data["start"], data["end"])
        return Period.of_kind(data["period"], self.tz)


def _period_form(request, tz) -> PeriodForm:
    params = {k: request.GET.get(k, "")[:20] for k in ("period", "start", "end") if k in request.GET}
    return PeriodForm(params or None, tz=tz)


def _query(form: PeriodForm) -> str:
    if not form.is_bound or not form.is_valid():
        return ""
    data = form.cleaned_data
    params = {"period": data["period"]}
    if data["period"] == "custom":
        params |= {"start": data["start"].isoformat(), "end": data["end"].isoformat()}
    return urlencode(params)


def _context(request, brand_ids, tz, form, *, cross: bool, brand=None):
    period = form.chosen_period()
    d = figures.dashboard(brand_ids, period, compare=cross, brands=[brand] if brand is not None else None)
    chart_list = charts.dashboard_charts(d)
    for c in chart_list:
        if cross:
            c.svg_url, c.csv_url = (reverse(f"analytics_overview_chart_{c.id}"),
                                    reverse(f"analytics_overview_chart_{c.id}_csv"))
        else:
            c.svg_url, c.csv_url = (reverse(f"analytics_chart_{c.id}", args=[brand.pk]),
                                    reverse(f"analytics_chart_{c.id}_csv", args=[brand.pk]))
    return {
        "form": form, "period": period, "d": d, "charts": chart_list, "query": _query(form),
        "cross": cross, "zone": str(tz),
        "missing_notes": figures.missing_notes(d.missing),
        "section_key": "analytics",
        "brand": brand,
    }


@brand_view(roles.ANALYTICS)
@require_safe
def dashboard(request, brand):
    form = _period_form(request, brand.tzinfo)
    ctx = _context(request, [brand.pk], brand.tzinfo, form, cross=False, brand=brand)
    # Called by the template only when the user has several brands at all (``my_brands``, from
    # the shell's context processor): most users have one, and then no query is made.
    ctx["several_brands"] = lambda: len(brands_for(request.user, roles.ANALYTICS).values_list("pk", flat=True)[:2]) > 1
    return render(request, "analytics/dashboard.html", ctx, status=200 if not form.errors else 400)


def _user_zone(user) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (ValueError, KeyError, TypeError):  # pragma: no cover - validated on save
        return ZoneInfo("UTC")


@login_required
@require_safe
def overview(request):
    """The cross-brand dashboard: every brand the user can see, side by side and together."""
    brand_ids = list(brands_for(request.user, roles.ANALYTICS).values_list("pk", flat=True))
    tz = _user_zone(request.user)
    form = _period_form(request, tz)
    ctx = _context(request, brand_ids, tz, form, cross=True)
    return render(request, "analytics/overview.html", ctx, status=200 if not form.errors else 400)


def _chart(chart_id: str, brand_ids, period) -> charts.Chart:
    if chart_id not in charts.CHART_IDS:
        raise Http404
    return charts.chart_by_id(chart_id, brand_ids, period)


def _chart_response(request, chart_id, brand_ids, tz, csv: bool):
    form = _period_form(request, tz)
    if form.is_bound and not form.is_valid():
        return HttpResponse(" ".join(str(e) for errors in form.errors.values() for e in errors), status=400,
                            content_type="text/plain; charset=utf-8")
    chart = _chart(chart_id, brand_ids, form.chosen_period())
    if csv:
        response = HttpResponse("\ufeff" + chart.csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{chart.id}-{form.chosen_period().first_day}.csv"'
        response["X-Content-Type-Options"] = "nosniff"
        return response
    return render(request, "analytics/_chart_svg.html", {"chart": chart, "svg": chart.svg()})


@brand_view(roles.ANALYTICS)
@require_safe
def chart_svg(request, brand, chart_id):
    return _chart_response(request, chart_id, [brand.pk], brand.tzinfo, csv=False)


@brand_view(roles.ANALYTICS)
@require_safe
def chart_csv(request, brand, chart_id):
    return _chart_response(request, chart_id, [brand.pk], brand.tzinfo, csv=True)


@login_required
@require_safe
def overview_chart_svg(request, chart_id):
    ids = list(brands_for(request.user, roles.ANALYTICS).values_list("pk", flat=True))
    return _chart_response(request, chart_id, ids, _user_zone(request.user), csv=False)


@login_required
@require_safe
def overview_chart_csv(request, chart_id):
    ids = list(brands_for(request.user, roles.ANALYTICS).values_list("pk", flat=True))
    return _chart_response(request, chart_id, ids, _user_zone(request.user), csv=True)


# --- Best time to post --------------------------------------------------------------------------

@brand_view(roles.ANALYTICS)
def best_time_page(request, brand, account_id=None):
    accounts = list(SocialAccount.objects.for_user(request.user).filter(brand=brand).order_by("network", "handle"))
    if account_id is not None:
        account = get_object_or_404(SocialAccount.objects.for_user(request.user), pk=account_id, brand=brand)
    else:
        account = accounts[0] if accounts else None
    if request.method not in ("GET", "HEAD"):  # after the lookup: another brand's account is a 404
        return HttpResponseNotAllowed(["GET", "HEAD"])
    ctx = {"accounts": accounts, "account": account, "section_key": "analytics",
           "min_samples": best_time.MIN_SAMPLES, "zone": brand.timezone}
    if account is not None:
        account.brand = brand
        grid = best_time.heatmap(account)
        chart = charts.best_time_chart(grid)
        ctx.update(grid=grid, chart=chart, svg=chart.svg(), suggestions=best_time.best_cells(grid, 3),
                   weekdays=charts._weekday_names())
    return render(request, "analytics/best_time.html", ctx)


@brand_view(roles.ANALYTICS)
def best_time_csv(request, brand, account_id):
    account = get_object_or_404(SocialAccount.objects.for_user(request.user), pk=account_id, brand=brand)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    account.brand = brand
    chart = charts.best_time_chart(best_time.heatmap(account))
    response = HttpResponse("\ufeff" + chart.csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="best-time-{account.pk}.csv"'
    return response
