"""Listening pages: trends (volume and sentiment over time as server-side SVG with a table
beside each chart, rising terms, top authors and sources, share of voice), spike alerts, and the
alert settings.

Thin: the brand comes from ``brand_view`` (404 for strangers), rows from ``for_user`` or
``.filter(brand=brand)`` after it, figures from ``trends``, and the one write from
``spikes.do_save_settings``. Reading needs VIEW; changing the settings needs MANAGE_BRAND.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.notes import render as render_note
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, brand_view

from . import spikes, trends
from .models import ListeningQuery, SpikeAlert

PERIODS = [(1, gettext_lazy("Last 24 hours")), (7, gettext_lazy("Last 7 days")), (30, gettext_lazy("Last 30 days")),
           (90, gettext_lazy("Last 90 days"))]


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(label=gettext_lazy("Period"), choices=PERIODS, coerce=int, required=False)
    query = forms.TypedChoiceField(label=gettext_lazy("Query"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, queries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["query"].choices = [("", _("All queries"))] + [(q.pk, q.name) for q in queries]


# --- SVG charts (hand-made: bars and a line, no JavaScript) ------------------------------------

W, H, PAD_L, PAD_B, PAD_T = 720, 200, 40, 24, 8


def _labels(rows, tz, bucket):
    fmt = "%d/%m %H:%M" if bucket == "hour" else "%d/%m"
    return [r[0].astimezone(tz).strftime(fmt) for r in rows]


def volume_chart(rows, labels) -> dict:
    """Stacked bars per bucket: negative, neutral, positive (and the rest: unknown)."""
    n = max(1, len(rows))
    top = max([r[1] for r in rows] + [1])
    plot_w, plot_h = W - PAD_L - 4, H - PAD_B - PAD_T
    slot = plot_w / n
    bars = []
    for i, (row, label) in enumerate(zip(rows, labels, strict=False)):
        _start, total, neg, neu, pos = row
        x = PAD_L + i * slot
        y = PAD_T + plot_h
        segs = []
        for cls, value in (("negative", neg), ("neutral", neu), ("positive", pos),
                           ("unknown", max(0, total - neg - neu - pos))):
            if value:
                h = value / top * plot_h
                y -= h
                segs.append({"cls": cls, "y": round(y, 1), "h": round(h, 1)})
        bars.append({"x": round(x + slot * 0.1, 1), "w": round(max(slot * 0.8, 0.5), 1), "segs": segs,
                     "label": label, "total": total})
    step = max(1, n // 6)
    ticks = [{"x": round(PAD_L + i * slot + slot / 2, 1), "label": labels[i]} for i in range(0, len(labels), step)]
    return {"w": W, "h": H, "bars": bars, "top": top, "ticks": ticks, "base": PAD_T + plot_h, "left": PAD_L,
            "top_y": PAD_T}


def negative_chart(rows, labels) -> dict:
    """The share of negative mentions per bucket, as a line (buckets without mentions skipped)."""
    n = max(1, len(rows))
    plot_w, plot_h = W - PAD_L - 4, H - PAD_B - PAD_T
    slot = plot_w / n
    points, table = [], []
    for i, (row, label) in enumerate(zip(rows, labels, strict=False)):
        total, neg = row[1], row[2]
        share = neg / total if total else None
        table.append({"label": label, "total": total, "negative": neg,
                      "share": round(100 * share) if share is not None else None})
        if share is not None:
            points.append(f"{PAD_L + i * slot + slot / 2:.1f},{PAD_T + plot_h - share * plot_h:.1f}")
    step = max(1, n // 6)
    ticks = [{"x": round(PAD_L + i * slot + slot / 2, 1), "label": labels[i]} for i in range(0, len(labels), step)]
    return {"w": W, "h": H, "points": " ".join(points), "table": table, "ticks": ticks, "base": PAD_T + plot_h,
            "left": PAD_L, "top_y": PAD_T, "mid_y": PAD_T + plot_h / 2}


# --- Pages ---------------------------------------------------------------------------------------

def _queries(request, brand):
    return list(ListeningQuery.objects.for_user(request.user).filter(brand=brand).order_by("name", "pk"))


@brand_view()
def trends_page(request, brand):
    queries = _queries(request, brand)
    form = PeriodForm(request.GET or None, queries=queries)
    days, query = 7, None
    if form.is_valid():
        days = form.cleaned_data.get("days") or 7
        qid = form.cleaned_data.get("query")
        query = next((q for q in queries if q.pk == qid), None)
    elif request.GET:
        form = PeriodForm(queries=queries)  # a tampered query string: the defaults
    now = timezone.now()
    until = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(days=days)
    bucket = "hour" if days <= 2 else "day"
    qids = [query.pk] if query else None
    tz = brand.tzinfo
    rows = trends.volume(brand, query_ids=qids, since=since, until=until, bucket=bucket, tzinfo=tz)
    labels = _labels(rows, tz, bucket)
    sums = [sum(r[i] for r in rows) for i in range(1, 5)]
    sov = trends.share_of_voice(brand, since, until)
    for v in sov:
        v["pct"], v["bar"] = round(100 * v["share"], 1), round(120 * v["share"])
    authors, sources = trends.authors_and_sources(brand, since, until, query_ids=qids)
    rising_window = timedelta(hours=24) if days <= 7 else timedelta(days=min(days // 4, 7))
    return render(request, "listening/trends.html", {
        "form": form, "days": days, "query": query, "bucket": bucket, "since": since, "until": until,
        "volume": volume_chart(rows, labels), "negative": negative_chart(rows, labels),
        "rows": list(zip(labels, rows, strict=False)),
        "sums": {"total": sums[0], "negative": sums[1], "neutral": sums[2], "positive": sums[3]},
        "rising": trends.rising_terms(brand, now, window=rising_window, query_ids=qids),
        "rising_hours": int(rising_window.total_seconds() // 3600),
        "authors": authors, "sources": sources,
        "sov": sov,
        "section_key": "listening", "subtab": "trends",
    })


def _row(alert, found) -> dict:
    return {"alert": alert, "samples": [found[i] for i in alert.samples or [] if i in found],
            "scope": spikes.scope_name(alert), "reason": render_note(alert.reason),
            "email": _delivered((alert.delivery or {}).get("email")),
            "webhook": _delivered((alert.delivery or {}).get("webhook"))}


def _delivered(outcome) -> dict:
    outcome = dict(outcome or {})
    if outcome.get("error"):
        outcome["error"] = spikes.delivery_error(str(outcome["error"]))
    return outcome


@brand_view()
def alerts_page(request, brand):
    alerts = (SpikeAlert.objects.for_user(request.user).filter(brand=brand).select_related("query")
              .order_by("-window_start", "-pk"))
    kind = request.GET.get("kind", "")
    if kind in SpikeAlert.Kind.values:
        alerts = alerts.filter(kind=kind)
    page = Paginator(alerts, 20).get_page(request.GET.get("page"))
    mention_ids = {i for a in page for i in (a.samples or []) if isinstance(i, int)}
    from .models import Mention

    found = {m.pk: m for m in Mention.objects.for_user(request.user).filter(brand=brand, pk__in=mention_ids)}
    rows = [_row(a, found) for a in page]
    return render(request, "listening/alerts.html", {
        "page": page, "rows": rows, "kind": kind, "kinds": SpikeAlert.Kind.choices,
        "section_key": "listening", "subtab": "alerts",
    })


@brand_view()
def alert_detail(request, brand, alert_id):
    alert = get_object_or_404(SpikeAlert.objects.for_user(request.user).select_related("query"), pk=alert_id,
                              brand=brand)
    from .models import Mention

    found = {m.pk: m for m in Mention.objects.for_user(request.user).filter(brand=brand, pk__in=alert.samples or [])}
    row = _row(alert, found)
    return render(request, "listening/alerts_detail.html", {"row": row, "section_key": "listening",
                                                             "subtab": "alerts"})


class SettingsForm(forms.Form):
    spike_ratio = forms.FloatField(label=gettext_lazy("Alert when the volume is this many times the usual"),
                                   min_value=1.1, max_value=100, localize=True)
    min_mentions = forms.IntegerField(label=gettext_lazy("And at least this many mentions in the hour"),
                                      min_value=1, max_value=100000)
    negative_percent = forms.IntegerField(label=gettext_lazy("Possible crisis when this percentage is negative"),
                                          min_value=5, max_value=100)
    baseline_days = forms.IntegerField(label=gettext_lazy("Usual volume: the same hour on this many earlier days"),
                                       min_value=1, max_value=60)
    alert_emails = forms.CharField(label=gettext_lazy("Send alerts to these e-mails"), required=False,
                                   max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                                   help_text=gettext_lazy("Separated by commas. Empty: the brand's managers."))
    webhook_url = forms.CharField(label=gettext_lazy("And to this webhook"), required=False, max_length=1000,
                                  widget=forms.URLInput(),
                                  help_text=gettext_lazy("An http or https address on the public internet. "
                                                         "It receives each alert as JSON."))
    webhook_secret = forms.CharField(label=gettext_lazy("Webhook secret"), required=False, max_length=500,
                                     widget=forms.PasswordInput(render_value=False),
                                     help_text=gettext_lazy("Signs each body with HMAC-SHA256 in the "
                                                            "X-Tertulia-Signature header. Leave empty to keep "
                                                            "the current one."))
    clear_secret = forms.BooleanField(label=gettext_lazy("Remove the webhook secret"), required=False)


@sensitive_post_parameters("webhook_secret")
@brand_view()
def settings_page(request, brand):
    can_edit = roles.MANAGE_BRAND in permissions_in(request.user, brand)
    current = spikes.settings_for(brand)
    initial = {"spike_ratio": current.spike_ratio, "min_mentions": current.min_mentions,
               "negative_percent": round(current.negative_share * 100), "baseline_days": current.baseline_days,
               "alert_emails": current.alert_emails, "webhook_url": current.webhook_url}
    form = SettingsForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not can_edit:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                spikes.do_save_settings(
                    Ctx.from_request(request), brand, spike_ratio=data["spike_ratio"],
                    min_mentions=data["min_mentions"], negative_share=data["negative_percent"] / 100,
                    baseline_days=data["baseline_days"], alert_emails=data["alert_emails"],
                    webhook_url=data["webhook_url"], webhook_secret=data["webhook_secret"] or None,
                    clear_secret=data["clear_secret"])
            except ValidationError as exc:
                if hasattr(exc, "error_dict") and "negative_share" in exc.error_dict:
                    exc.error_dict["negative_percent"] = exc.error_dict.pop("negative_share")
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Alert settings saved."))
                return redirect("listening_settings", brand.pk)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "listening/settings.html", {
        "form": form, "can_edit": can_edit, "has_secret": bool(current.webhook_secret),
        "section_key": "listening", "subtab": "settings",
    })
