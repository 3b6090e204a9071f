"""Competitor pages under /brands/<id>/listening/competitors/: the list with their latest numbers,
add and edit, one competitor's accounts, snapshots and top posts, "read now", CSV import, and
the side-by-side benchmark with a month picker for the monthly section. Thin: every write is a
``competitors.do_*`` call; rows come through ``for_user`` and the brand, so another brand's id
is a 404."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.core import notes, roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, _errors_to_messages, brand_view
from tertulia.networks.models import Network

from . import competitors
from .models import Competitor, CompetitorAccount, CompetitorPost, CompetitorSnapshot

MAX_RANGE_DAYS = 366
BAR_WIDTH = 190  # px of the longest bar (the names take the first 150, the value the last 60)


# --- forms ------------------------------------------------------------------------------------


class CompetitorForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    website = forms.CharField(label=gettext_lazy("Website"), max_length=500, required=False)


class CompetitorAddForm(CompetitorForm):
    network = forms.ChoiceField(label=gettext_lazy("First account: network"), choices=[("", "—")] + list(Network.choices),
                                required=False)
    handle = forms.CharField(label=gettext_lazy("Handle"), max_length=200, required=False)


class AccountForm(forms.Form):
    network = forms.ChoiceField(label=gettext_lazy("Network"), choices=Network.choices)
    handle = forms.CharField(label=gettext_lazy("Handle"), max_length=200)


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("The file holds"), choices=[
        ("snapshots", gettext_lazy("Numbers over time (date, followers, posts)")),
        ("posts", gettext_lazy("Posts (date, url, format, likes, comments, shares, views, text)"))])
    file = forms.FileField(label=gettext_lazy("CSV file"))


# --- helpers ----------------------------------------------------------------------------------


def _can_edit(request, brand) -> bool:
    return roles.MANAGE_BRAND in permissions_in(request.user, brand)


def _competitor(request, brand, competitor_id, permission=roles.VIEW) -> Competitor:
    return get_object_or_404(Competitor.objects.for_user(request.user, permission), pk=competitor_id, brand=brand)


def _account(request, brand, account_id, permission=roles.VIEW) -> CompetitorAccount:
    return get_object_or_404(CompetitorAccount.objects.for_user(request.user, permission).select_related("competitor"),
                             pk=account_id, brand=brand)


def href(url: str) -> str:
    """Only http(s) addresses become links: never ``javascript:`` or ``data:``."""
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else ""


def _latest_snapshots(accounts):
    """Each account's newest snapshot (one query)."""
    newest = CompetitorSnapshot.objects.filter(account=OuterRef("pk")).order_by("-taken_at").values("pk")[:1]
    ids = [a.last_id for a in accounts.annotate(last_id=Subquery(newest)) if a.last_id]
    return {s.account_id: s for s in CompetitorSnapshot.objects.filter(pk__in=ids)}


def _sum(values):
    known = [v for v in values if v is not None]
    return sum(known) if known else None


# --- the list, add, edit, delete --------------------------------------------------------------


@brand_view()
def competitor_list(request, brand):
    rows_qs = Competitor.objects.for_user(request.user).filter(brand=brand).prefetch_related("accounts")
    accounts = CompetitorAccount.objects.for_user(request.user).filter(brand=brand)
    latest = _latest_snapshots(accounts)
    rows = []
    for competitor in rows_qs.order_by("name"):
        accs = list(competitor.accounts.all())
        snaps = [latest.get(a.pk) for a in accs]
        rows.append({
            "competitor": competitor, "accounts": accs,
            "followers": _sum(s.followers for s in snaps if s),
            "posts": _sum(s.posts for s in snaps if s),
            "last": max((s.taken_at for s in snaps if s), default=None),
            "errors": sum(1 for a in accs if a.last_error),
        })
    return render(request, "listening/competitors.html", {
        "tab": "listening", "subtab": "competitors", "rows": rows, "can_edit": _can_edit(request, brand),
    })


@brand_view(roles.MANAGE_BRAND)
def competitor_add(request, brand):
    form = CompetitorAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        pairs = [(data["network"], data["handle"])] if data["network"] or data["handle"] else []
        try:
            competitor = competitors.do_add_competitor(Ctx.from_request(request), brand, name=data["name"],
                                                       website=data["website"], accounts=pairs)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Competitor added."))
            return redirect("competitor_detail", brand.pk, competitor.pk)
    return render(request, "listening/competitor_form.html", {
        "tab": "listening", "subtab": "competitors", "form": form, "competitor": None,
    })


@brand_view(roles.MANAGE_BRAND)
def competitor_edit(request, brand, competitor_id):
    competitor = _competitor(request, brand, competitor_id, roles.MANAGE_BRAND)
    form = CompetitorForm(request.POST or None, initial={"name": competitor.name, "website": competitor.website})
    if request.method == "POST" and form.is_valid():
        try:
            competitors.do_update_competitor(Ctx.from_request(request), competitor, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
            competitor.refresh_from_db()
        else:
            messages.success(request, _("Competitor saved."))
            return redirect("competitor_detail", brand.pk, competitor.pk)
    return render(request, "listening/competitor_form.html", {
        "tab": "listening", "subtab": "competitors", "form": form, "competitor": competitor,
    })


@brand_view(roles.MANAGE_BRAND)
@require_POST
def competitor_delete(request, brand, competitor_id):
    competitor = _competitor(request, brand, competitor_id, roles.MANAGE_BRAND)
    competitors.do_remove_competitor(Ctx.from_request(request), competitor)
    messages.success(request, _("Competitor removed, with its accounts, numbers and posts."))
    return redirect("competitors", brand.pk)


# --- one competitor ---------------------------------------------------------------------------


def _post_rows(posts):
    return [{"post": p, "href": href(p.url), "format": competitors.format_label(p.format) if p.format else "",
             "engagement": competitors._engagement(p.likes, p.comments, p.shares)} for p in posts]


@brand_view()
def competitor_detail(request, brand, competitor_id):
    competitor = _competitor(request, brand, competitor_id)
    accounts = CompetitorAccount.objects.for_user(request.user).filter(brand=brand, competitor=competitor) \
        .order_by("network", "handle")
    latest = _latest_snapshots(accounts)
    account_rows = [{"account": a, "latest": latest.get(a.pk), "error": notes.render(a.last_error),
                     "readable": a.network in competitors.READABLE_NETWORKS} for a in accounts]
    snapshots = (CompetitorSnapshot.objects.for_user(request.user).filter(brand=brand, account__competitor=competitor)
                 .select_related("account").order_by("-taken_at")[:30])
    since = timezone.now() - timedelta(days=90)
    posts = CompetitorPost.objects.for_user(request.user).filter(brand=brand, account__competitor=competitor,
                                                                 published_at__gte=since).select_related("account")
    top = sorted(_post_rows(posts), key=lambda r: -(r["engagement"] if r["engagement"] is not None else -1))[:10]
    recent = _post_rows(posts.order_by("-published_at")[:10])
    return render(request, "listening/competitor_detail.html", {
        "tab": "listening", "subtab": "competitors", "competitor": competitor, "website": href(competitor.website),
        "accounts": account_rows, "snapshots": snapshots, "top_posts": top, "recent_posts": recent,
        "can_edit": _can_edit(request, brand), "account_form": AccountForm(),
    })


@brand_view(roles.MANAGE_BRAND)
@require_POST
def competitor_read(request, brand, competitor_id):
    competitor = _competitor(request, brand, competitor_id, roles.MANAGE_BRAND)
    results = competitors.do_read_now(Ctx.from_request(request), competitor)
    if not results:
        messages.info(request, _("None of this competitor's accounts is on a network Tertulia can read: import "
                                 "their numbers from CSV."))
    for result in results:
        if result.ok:
            messages.success(request, _("%(account)s read: %(new)s new posts, %(updated)s updated.")
                             % {"account": str(result.account), "new": result.posts_new,
                                "updated": result.posts_updated})
        else:
            messages.error(request, _("%(account)s could not be read: %(reason)s")
                           % {"account": str(result.account), "reason": notes.render(result.account.last_error)})
    return redirect("competitor_detail", brand.pk, competitor.pk)


@brand_view(roles.MANAGE_BRAND)
@require_POST
def competitor_account_add(request, brand, competitor_id):
    competitor = _competitor(request, brand, competitor_id, roles.MANAGE_BRAND)
    form = AccountForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("competitor_detail", brand.pk, competitor.pk)
    try:
        competitors.do_add_competitor_account(Ctx.from_request(request), competitor, **form.cleaned_data)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Account added."))
    return redirect("competitor_detail", brand.pk, competitor.pk)


@brand_view(roles.MANAGE_BRAND)
@require_POST
def competitor_account_delete(request, brand, competitor_account_id):
    account = _account(request, brand, competitor_account_id, roles.MANAGE_BRAND)
    competitor_id = account.competitor_id
    competitors.do_remove_competitor_account(Ctx.from_request(request), account)
    messages.success(request, _("Account removed, with its numbers and posts."))
    return redirect("competitor_detail", brand.pk, competitor_id)


@brand_view(roles.MANAGE_BRAND)
def competitor_import(request, brand, competitor_account_id):
    account = _account(request, brand, competitor_account_id, roles.MANAGE_BRAND)
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > competitors.MAX_CSV_BYTES:
            form.add_error("file", _("The file is larger than %(size)s MB.")
                           % {"size": competitors.MAX_CSV_BYTES // (1024 * 1024)})
        else:
            try:
                result = competitors.do_import_csv(Ctx.from_request(request), account, kind=form.cleaned_data["kind"],
                                                   data=upload.read(competitors.MAX_CSV_BYTES + 1))
            except ValidationError as exc:
                _apply_errors(form, exc)
    return render(request, "listening/competitor_import.html", {
        "tab": "listening", "subtab": "competitors", "form": form, "account": account,
        "competitor": account.competitor, "result": result,
        "errors_shown": result.errors[:competitors.MAX_ERRORS_SHOWN] if result else [],
        "snapshot_columns": ", ".join(competitors.SNAPSHOT_COLUMNS), "post_columns": ", ".join(competitors.POST_COLUMNS),
    })


# --- the benchmark ----------------------------------------------------------------------------


def _parse_month(value: str) -> tuple[int, int] | None:
    try:
        parsed = datetime.strptime((value or "").strip()[:7], "%Y-%m")
    except ValueError:
        return None
    return (parsed.year, parsed.month) if 2000 <= parsed.year <= 2100 else None


def _parse_day(value: str) -> date | None:
    try:
        parsed = date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        return None
    return parsed if 2000 <= parsed.year <= 2100 else None


def _bars(rows: list[dict], key: str) -> list[dict]:
    """Horizontal bars for one figure (widths in % of the largest), None kept as no bar."""
    values = [r[key] for r in rows if r[key] is not None]
    top = max(values, default=0) or 0
    return [{"name": r["name"], "kind": r["kind"], "value": r[key],
             "px": round(BAR_WIDTH * r[key] / top) if r[key] is not None and top else 0, "y": 22 * i}
            for i, r in enumerate(rows)]


def _sparkline(series: list, width: int = 120, height: int = 24) -> str:
    """SVG polyline points for followers over time (two points at least), or empty."""
    if len(series) < 2:
        return ""
    values = [v for _d, v in series]
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = width / (len(series) - 1)
    return " ".join(f"{round(i * step, 1)},{round(height - 2 - (v - low) * (height - 4) / span, 1)}"
                    for i, v in enumerate(values))


def _decorate(rows: list[dict]) -> None:
    for row in rows:
        row["spark"] = _sparkline(row["series"])
        for post in row["top_posts"]:
            post["href"] = href(post["url"])
        row["formats_labelled"] = [{**f, "label": competitors.format_label(f["name"])} for f in row["formats"]]


@brand_view()
def competitor_benchmark(request, brand):
    tz = brand.tzinfo
    today = timezone.localdate(timezone=tz)
    since_day = _parse_day(request.GET.get("since", "")) or today - timedelta(days=30)
    until_day = _parse_day(request.GET.get("until", "")) or today
    if until_day < since_day:
        since_day, until_day = until_day, since_day
    if (until_day - since_day).days > MAX_RANGE_DAYS:
        since_day = until_day - timedelta(days=MAX_RANGE_DAYS)
        messages.info(request, _("The range was shortened to one year."))
    since = datetime.combine(since_day, datetime.min.time(), tzinfo=tz)
    until = datetime.combine(until_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    data = competitors.benchmark(brand, since, until)
    _decorate(data["rows"])
    month = _parse_month(request.GET.get("month", ""))
    section = None
    if month is not None:
        section = competitors.monthly_section(brand, *month)
        _decorate(section["rows"])
    last_month = (today.replace(day=1) - timedelta(days=1))
    return render(request, "listening/competitor_benchmark.html", {
        "tab": "listening", "subtab": "competitors", "data": data, "since_day": since_day, "until_day": until_day,
        "followers_bars": _bars(data["rows"], "followers_end"), "frequency_bars": _bars(data["rows"], "posts_per_week"),
        "engagement_bars": _bars(data["rows"], "engagement_per_post"),
        "bar_height": 22 * len(data["rows"]),
        "section": section, "month_value": f"{month[0]:04d}-{month[1]:02d}" if month else last_month.strftime("%Y-%m"),
    })
